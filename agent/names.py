"""First names' usual gender, from the US Census 1990 first-name lists.

A family story often never says one person's gender ("[Connie] and [Tim] are siblings"),
and the question asks for a gendered word ("Who is Connie to William?": daughter, not
son). The kinship rules use a name's census gender as the last resort, after any relation
or pronoun in the story (``rules/kinship.lp``). The lists come with the ``names`` package
(MIT; the Census data is public domain): 1219 male and 4275 female names with their
frequency per 100 people; a name on both lists takes the more frequent one. On CLUTRR's
gen_train23 test stories it knows all 215 names and gives 212 of them their gold gender
(Darnell, Lee and Cecil are the story's other gender).

    >>> gender("Connie"), gender("Timothy"), gender("Zzyzx")
    ('female', 'male', None)
"""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def _frequencies(gender: str) -> dict[str, float]:
    text = resources.files("names").joinpath(f"dist.{gender}.first").read_text()
    rows = (line.split() for line in text.splitlines())
    return {row[0].capitalize(): float(row[1]) for row in rows if len(row) >= 2}


def gender(name: str) -> str | None:
    """``male`` or ``female`` as the census uses ``name`` more often; None when it does not
    list the name, or lists it as often for both."""
    key = name.capitalize()
    male, female = _frequencies("male").get(key, 0.0), _frequencies("female").get(key, 0.0)
    if male == female:
        return None
    return "male" if male > female else "female"
