"""A theory and a statement, translated one sentence at a time (the ``deductive`` mode;
``spatial`` translates a StepGame story one line at a time, ``asp`` a family story a few
sentences at a time, the same way).

A 135M student copies a twenty-sentence theory into one program poorly: it drops a rule,
repeats another, or names the query after the first fact it wrote. Each sentence alone is
easy: "If something is cold then it is kind." is ``kind(X) :- cold(X).`` So the graph
splits the question (``split``), the student translates every sentence in one batched call,
the statement as a ground literal, and ``assemble`` writes the program for
``rules/proofwriter.lp``: each clause with its sentence as a comment, then the query lines
built from the statement's literal, and ``closed_world.`` when the question offers only
true or false. Training reads the same comments back (``pairs``).

    >>> t = split("Bob is cold. If someone is cold then they are kind.\\n"
    ...           "Is the following statement true or false? Bob is kind.")
    >>> t.sentences, t.statement, t.closed_world
    (('Bob is cold.', 'If someone is cold then they are kind.'), 'Bob is kind.', True)
    >>> print(assemble(t, ["cold(bob).", "kind(X) :- cold(X).", "kind(bob)."]), end="")
    cold(bob).  % Bob is cold.
    kind(X) :- cold(X).  % If someone is cold then they are kind.
    query_pos :- kind(bob).  % Bob is kind.
    query_neg :- -kind(bob).
    closed_world.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest

import snowballstemmer

from agent.names import gender as names_gender

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_LITERAL = re.compile(r"^\s*(-?[a-z]\w*\(\s*[a-z]\w*(?:\s*,\s*[a-z]\w*)*\s*\))\s*\.\s*$")
_ARG = r'(?:\w+|"[^"]*")'
_ATOM = rf"-?[a-z]\w*\(\s*{_ARG}(?:\s*,\s*{_ARG})*\s*\)"
_CLAUSES = re.compile(rf"^(?:\s*{_ATOM}(?:\s*:-\s*{_ATOM}(?:\s*,\s*{_ATOM})*)?\s*\.)+\s*$")
_COMMENT = "  % "
_STEMMER = snowballstemmer.stemmer("english")
_REL_FACT = re.compile(r'\brel\(\s*"([^"]*)"\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*\)\.')
_QUOTED = re.compile(r'"([^"]*)"')  # a story fact's people
_REL_WORD = re.compile(r'(\brel\(\s*"[^"]*"\s*,\s*)([A-Z]\w*)')


def comment(clause: str, sentence: str) -> str:
    """``clause`` with the sentence it translates as a comment: the one form ``pairs``
    reads back (teachers write it, the graph assembles it)."""
    sentence = " ".join(sentence.split())
    return f"{clause}{_COMMENT}{sentence}" if sentence else clause


@dataclass(frozen=True)
class Theory:
    sentences: tuple[str, ...]
    statement: str
    closed_world: bool
    judged: bool = True  # the last unit is a statement to judge; else a clause kept as written
    # Facts the text states by itself, added to the program as written: a story's pronoun
    # genders (``said_genders``).
    hints: tuple[str, ...] = ()
    # The statement's clause when the text says it in a fixed form (a story's "Who is B to
    # A?" is ``query("A", "B").``): the student is not asked for it.
    asked: str = ""

    @property
    def units(self) -> list[str]:
        """What the student translates: every sentence, then the statement (unless its
        clause is ``asked`` already)."""
        return [*self.sentences] if self.asked else [*self.sentences, self.statement]


FORMS = ("statement", "line", "story")
# A family story's question in CLUTRR's form (``bench.tasks.clutrr.question``).
_WHO = re.compile(r"Who is \[?(\w+)\]? to \[?(\w+)\]?\?$")
# A capitalised word that is not a sentence's pronoun or article: a person, in a story.
_NAME = re.compile(r"\b[A-Z][a-z]+\b")
_MARKED = re.compile(r"\[(\w+)\]")  # a person CLUTRR marks: [Name]
_NOT_NAMES = frozenset(
    "A An The He She His Her Hers It Its They Their Them We Our You Your I My Who What "
    "When Then After Before Later One Both Mr Mrs Ms Dr".split()
)


def names(text: str) -> set[str]:
    """The people a sentence names: ``[Bracketed]`` words (CLUTRR marks them) when there are
    any, else its capitalised words less pronouns and articles."""
    marked = set(_MARKED.findall(text))
    return marked or {w for w in _NAME.findall(text) if w not in _NOT_NAMES}


def story_units(sentences: Sequence[str]) -> list[str]:
    """Sentences grouped so a unit names two people where it can: a sentence joins the unit
    before it when it names fewer than two ("His name is [Joe].", "[Jason] is father of
    their father") or when that unit does ("[David] went fishing with his brother."). A
    relation told across sentences stays in one unit; every unit starts a new pair."""
    units: list[str] = []
    for s in sentences:
        if units and (len(names(s)) < 2 or len(names(units[-1])) < 2):
            units[-1] = f"{units[-1]} {s}"
        else:
            units.append(s)
    return units


_MALE = frozenset("he his himself".split())
_FEMALE = frozenset("she her herself".split())
# "her" is possessive (a gender for the subject) before a relation, else often an object
# ("[Michael] did n't hear her"): it counts only before one of these.
_KIN_WORDS = frozenset(
    "father mother son daughter brother sister husband wife grandfather grandmother grandson "
    "granddaughter uncle aunt nephew niece child children kids sons daughters brothers "
    "sisters grandchildren parents own two favorite favourite lovely only new older younger "
    "little big".split()
)
# Words after which a ``[Name]`` continues the clause ("with her son [Tom]", "took [Ann]",
# "named him [Joe]", "Since [Ann]"): anything else before a name ends a sentence CLUTRR ran
# on without a full stop ("... birthday party [Oliver] has a few children").
_GOES_ON = _KIN_WORDS | frozenset(
    """and or but with to for of by named called her his their is was as than like at from
    about on in into after before while when because so if that who whom whose said told
    asked invited met meet meets meeting call calls took take takes taking brought bring
    gave give gives got get helped help loves love loved hug hugged him thought adopted
    visit visited visiting visits see saw seeing watch watched watching surprised surprise
    bought buy play played playing tell tells beat teases teased congratulated joined join
    picked drove drive mom mum dad grandma grandpa kid kids baby siblings other grandaughter
    till until since""".split()
)
_BEFORE_NAME = re.compile(r"(\S+)\s+(?=\[\w+\])")


def run_ons(sentence: str) -> list[str]:
    """A sentence cut where another begins without a full stop: before a ``[Name]`` that
    follows a name (``[Diane] [Judy]``) or a word no name continues (``party [Oliver]``),
    once the part before names someone. Over CLUTRR's gen_train23 test stories: 265 cuts in
    1146 stories, mostly after "party" (92), "house", "army", "class"."""
    pieces, start = [], 0
    for m in _BEFORE_NAME.finditer(sentence):
        before = m.group(1)
        if before.endswith("]"):  # two names side by side
            cut = True
        elif "[" not in sentence[start : m.start(1)] or before.endswith((",", ":")):
            cut = False
        else:
            word = re.sub(r"\W", "", before).lower()
            cut = bool(word) and word not in _GOES_ON
        if cut:
            pieces.append(sentence[start : m.end(1)])
            start = m.end()
    return [*pieces, sentence[start:]]


_KIN_GENDER = {
    **dict.fromkeys(
        "father son brother husband grandfather grandson uncle nephew dad".split(), "male"
    ),
    **dict.fromkeys(
        "mother daughter sister wife grandmother granddaughter aunt niece mom".split(), "female"
    ),
}
_KIN = "|".join(_KIN_GENDER)
_KIN_ANY = _KIN + "|child|parent|grandchild|kid|baby"  # with the gender-free words
_KIN_NAMED = re.compile(rf"\b({_KIN})\b,?\s*\[(\w+)\]")
_POSSESSIVE = re.compile(rf"\b([Hh]is|[Hh]er)\s+((?:\w+\s+)?(?:{_KIN})\b,?\s*\[\w+\])")
_RELATION = rf"(?:\w+\s+)?(?:{_KIN_ANY})\b,?\s*\[\w+\]"  # "(older) sister, [Ann]"
_OWNED = re.compile(rf"\[(\w+)\]'s\s+{_RELATION}")
_PAIR = re.compile(r"\[(\w+)\],?\s+and\s+\[(\w+)\]")
_PLURAL = {
    "sons": "son", "daughters": "daughter", "brothers": "brother", "sisters": "sister",
    "grandsons": "grandson", "granddaughters": "granddaughter", "children": "child",
    "kids": "child", "grandchildren": "grandchild", "parents": "parent", "siblings": "sibling",
}  # fmt: skip
_GROUP = re.compile(
    rf"(\b[Hh]is|\b[Hh]er|\b[Tt]heir|\[\w+\]'s)\s+(?:(?:two|both|lovely|little|older|younger)\s+)?"
    rf"({'|'.join(_PLURAL)})\b\s*,?\s*\[(\w+)\]\s*,?\s+and\s+\[(\w+)\]"
)
_THEIR = re.compile(rf"\b[Tt]heir\s+({_RELATION})")
_OPENING = re.compile(rf"^(His|Her|Their)\s+({_RELATION})")


# CLUTRR's slips of the possessive: "[Kevin] 'son, [Brian]", "[Helen] ''s house" and a
# relation right after its owner, "[Frank] brother [Ben]": all "[X]'s ...".
_SLIPPED = re.compile(rf"\]\s+(?:''?s\b\s*|'(?=[a-z])|(?=(?:{_KIN})\b,?\s*\[))")


def mend_possessives(story: str) -> str:
    """``story`` with its slipped possessives written out: "[Kevin] 'son, [Brian]" ->
    "[Kevin]'s son, [Brian]" (94 of CLUTRR's gen_train23 test stories have one)."""
    return _SLIPPED.sub("]'s ", story)


def _gender(pronoun: str) -> str:
    """The gender a pronoun tells: "his", "He", "himself" -> male; "her", "She" -> female."""
    return "male" if pronoun.lower() in _MALE else "female"


def _subject(sentence: str) -> str | None:
    """A sentence's subject: the name after an opening "[X]'s relation," else its first."""
    opening = re.match(r"\s*\[\w+\]'s\s+(?:\w+\s+)?\w+,?\s*\[(\w+)\]", sentence)
    first = _MARKED.search(sentence)
    return opening.group(1) if opening else first.group(1) if first else None


def _told(sentence: str, genders: dict[str, str]) -> dict[str, str]:
    """Genders known in a sentence: the story's pronouns and "daughter, [Margaret]"."""
    return {**genders, **{n: _KIN_GENDER[w] for w, n in _KIN_NAMED.findall(sentence)}}


def _referent(
    pronoun: str, subject: str | None, earlier: list[str], known: dict[str, str]
) -> str | None:
    """Whom "his"/"her" refers to among the ``earlier`` names: the subject unless its
    gender is known to differ, else the last earlier name of the pronoun's gender."""
    gender = _gender(pronoun)
    if subject and subject in earlier and known.get(subject, gender) == gender:
        return subject
    return next((n for n in reversed(earlier) if known.get(n) == gender), None)


def _both(pair: tuple[str, str], relation: str) -> str:
    """A pair's "their" relation as each one's: "[Al]'s mother [Di] and [Bo]'s mother [Di]"."""
    return f"[{pair[0]}]'s {relation} and [{pair[1]}]'s {relation}"


# "her daughter's son" is one relation, her grandson: the student writes one fact a relation
# word and name, so a relation of a relation becomes the word for both (CLUTRR's test
# stories say "mother's husband", "daughter's son" and "sister's son").
_OF_RELATION = {
    **{(p, c): g for p in ("father", "mother")
       for c, g in (("father", "grandfather"), ("mother", "grandmother"), ("brother", "uncle"),
                    ("sister", "aunt"))},
    **{(p, c): g for p in ("son", "daughter")
       for c, g in (("son", "grandson"), ("daughter", "granddaughter"))},
    **{(p, c): g for p in ("brother", "sister")
       for c, g in (("son", "nephew"), ("daughter", "niece"))},
    ("mother", "husband"): "father", ("father", "wife"): "mother",
}  # fmt: skip
_RELATION_OF = re.compile(r"\b([Hh]is|[Hh]er)\s+(\w+)'s\s+(\w+)\b")


def join_relations(sentence: str) -> str:
    """ "her daughter's son [Al]" -> "her grandson [Al]" (``_OF_RELATION``); others kept."""

    def joined(m: re.Match[str]) -> str:
        word = _OF_RELATION.get((m.group(2).lower(), m.group(3).lower()))
        return f"{m.group(1)} {word}" if word else m.group(0)

    return _RELATION_OF.sub(joined, sentence)


def spread_groups(sentence: str) -> str:
    """One relation a person: "her daughters [Joy] and [Val]" -> "her daughter [Joy] and her
    daughter [Val]" (a gender-free plural becomes its class: "children" -> "child"), and a
    pair's "their" -> both of theirs: "[Al] and [Bo] called their mother, [Di]." -> "[Al]
    and [Bo] called [Al]'s mother, [Di] and [Bo]'s mother, [Di]." A student writes one fact
    a relation and name it reads; a plural names two, a "their" two owners."""

    def group(m: re.Match[str]) -> str:
        owner, kin = m.group(1), _PLURAL[m.group(2)]
        return f"{owner} {kin} [{m.group(3)}] and {owner} {kin} [{m.group(4)}]"

    def theirs(m: re.Match[str]) -> str:
        pairs = _PAIR.findall(sentence, 0, m.start())
        return _both(pairs[-1], m.group(1)) if pairs else m.group(0)

    sentence = _GROUP.sub(group, sentence)
    return _THEIR.sub(theirs, sentence)


_NAME_IS = re.compile(r"^(His|Her) name is \[(\w+)\]\s*[.!]?$")
_UNNAMED = re.compile(rf"\b(?:[Hh]is|[Hh]er)\s+(?:\w+\s+)?({_KIN_ANY})\b(?!,?\s*\[)")


def name_relatives(pieces: Sequence[str]) -> list[str]:
    """A relative named in the next sentence is named where the relation is: "[Ann] likes
    to visit her brother." + "His name is [Bo]." -> "[Ann] likes to visit her brother [Bo]."
    (the last unnamed "his"/"her" relation of the piece before whose gender fits the
    pronoun; 177 of the 1146 CLUTRR test stories say a name so)."""
    out: list[str] = []
    for piece in pieces:
        m = _NAME_IS.match(piece)
        if m and out:
            gender = _gender(m.group(1))
            fits = [
                k for k in _UNNAMED.finditer(out[-1])
                if _KIN_GENDER.get(k.group(1), gender) == gender
            ]  # fmt: skip
            if fits:
                at = fits[-1].end()
                out[-1] = f"{out[-1][:at]} [{m.group(2)}]{out[-1][at:]}"
                continue
        out.append(piece)
    return out


def resolve_openings(pieces: Sequence[str], genders: dict[str, str]) -> list[str]:
    """A piece that opens "His wife [Jamie]" and names someone else too (so it is a unit of
    its own, read without the sentence before) gets the owner written out: the subject of
    the piece before ("[Daniel] took his son [Oscar] ..." -> "[Daniel]'s wife [Jamie] ...")
    unless its gender is known to differ, then the last name there of the pronoun's gender;
    "Their father [James]" after "[Lee] and [Al] ..." gives both of theirs."""
    out: list[str] = []
    for piece in pieces:
        m = _OPENING.match(piece)
        before = out[-1] if out else ""
        if not m or len(names(piece)) < 2 or not _MARKED.search(before):
            out.append(piece)
            continue
        if m.group(1) == "Their":
            pairs = _PAIR.findall(before)
            written = _both(pairs[-1], m.group(2)) if pairs else None
        else:
            owner = _referent(
                m.group(1), _subject(before), _MARKED.findall(before), _told(before, genders)
            )
            written = f"[{owner}]'s {m.group(2)}" if owner else None
        out.append(written + piece[m.end() :] if written else piece)
    return out


def _cut_at_owners(text: str) -> list[str]:
    """``text`` cut before each "[X]'s relation [Y]" whose owner is not its piece's first
    name: the student ties every fact of a piece to that first name."""
    pieces, start = [], 0
    for m in _OWNED.finditer(text):
        first = _MARKED.search(text, start)
        if m.start() > start and first and first.group(1) != m.group(1):
            pieces.append(text[start : m.start()])
            start = m.start()
    return [p.strip() for p in [*pieces, text[start:]] if p.strip()]


def resolve_possessives(sentence: str, genders: dict[str, str]) -> list[str]:
    """The sentence in pieces, each read alone: a "his"/"her" before a relation and a name
    is written as the person it refers to when that is not the sentence's first name, and
    the sentence is cut before every "[X]'s relation [Y]" whose X is not its piece's first
    name (the student ties every fact of a piece to its first name): "[Stephen]'s daughter,
    [Margaret], made a dinner for her sister, [Lisa]." -> "[Stephen]'s daughter,
    [Margaret], made a dinner for", "[Margaret]'s sister, [Lisa]." The pronoun refers to
    the sentence's subject ("[Margaret]" after an opening "[Stephen]'s daughter,", else the
    first name) unless the subject's gender is known to differ; then to the nearest earlier
    name of the pronoun's gender (``genders``: the story's pronouns, and a relation word
    before a name in this sentence, "daughter, [Margaret]")."""
    people = _MARKED.findall(sentence)
    if len(people) < 3:
        return [sentence]
    known, subject = _told(sentence, genders), _subject(sentence)

    def referent(m: re.Match[str]) -> str:
        match = _referent(m.group(1), subject, _MARKED.findall(sentence, 0, m.start()), known)
        if match is None or match == people[0]:
            return m.group(0)
        return f"[{match}]'s {m.group(2)}"

    return _cut_at_owners(_POSSESSIVE.sub(referent, sentence))


def said_genders(sentences: Sequence[str]) -> dict[str, str]:
    """Genders a story's pronouns tell: a sentence that opens with a ``[Name]`` (not
    "[Name]'s", not "[Name], his daughter,") gives that person the gender of the first
    subject, reflexive or possessive pronoun before the next name ("[Myrna] and her father
    [Jason]"); "His name is [Joe]." gives Joe's. A person told both ways gets none. Over
    CLUTRR's gen_train23 test and validation stories (cut by ``run_ons``) it gives 7,189
    people a gender, 7,149 of them the gold one (most of the rest are the stories' own
    slips: "[Scott] was having an argument with her sister")."""
    said: dict[str, str] = {}
    clash: set[str] = set()

    def tell(name: str, gender: str) -> None:
        if said.setdefault(name, gender) != gender:
            clash.add(name)

    for sentence in sentences:
        opening = re.match(r"\s*\[(\w+)\](?!')(?!\s*,)([^\[]*)", sentence)
        if opening:
            words = re.findall(r"[A-Za-z]+", opening.group(2).lower())
            for word, after in zip_longest(words, words[1:], fillvalue=""):
                if word == "her" and after not in _KIN_WORDS:
                    continue
                if word in _MALE or word in _FEMALE:
                    tell(opening.group(1), _gender(word))
                    break
        named = re.match(r"\s*(His|Her) name is \[(\w+)\]", sentence)
        if named:
            tell(named.group(2), _gender(named.group(1)))
    return {name: g for name, g in said.items() if name not in clash}


def split(question: str, form: str = "statement") -> Theory:
    """The context's units, the statement to judge and whether the world is closed.

    ``form`` "statement" (ProofWriter): the units are sentences; the statement is what
    follows the last ``?`` ("... true, false, or unknown? Bob is kind."), else the last
    sentence itself ("Is Bob kind?" or "Bob is kind."). The world is closed when the asking
    sentence offers true or false and no unknown (ProntoQA). "line" (StepGame tells one
    relation a line, sometimes in two sentences): each line is a unit, the last line the
    question, translated and kept as written. "story" (a family story): the story mended
    (``mend_possessives``), cut at run-ons, its relations of relations joined, late names
    placed (``name_relatives``), openings and possessives resolved, groups spread, then
    grouped by ``story_units``; the last sentence the question, kept as written; the hints
    are the pronouns' genders (``said_genders``) and the census's for everyone else."""
    if form not in FORMS:
        raise ValueError(f"unknown form {form!r}: one of {', '.join(FORMS)}")
    splitter = re.compile(r"\n+") if form == "line" else _SENTENCE_END
    if form == "story":
        question = mend_possessives(question)
    parts = [" ".join(p.split()) for p in splitter.split(question.strip()) if p.strip()]
    if not parts:
        raise ValueError("the question is empty: give a theory and a statement")
    if form == "story":
        *told, asked = parts
        context = [join_relations(piece) for sentence in told for piece in run_ons(sentence)]
        genders = said_genders(context)
        context = [
            piece
            for s in resolve_openings(name_relatives(context), genders)
            for piece in resolve_possessives(spread_groups(s), genders)
        ]
        hints = tuple(f'said_gender("{n}", {g}).' for n, g in genders.items())
        people = dict.fromkeys(_MARKED.findall(" ".join(context)))
        usual = {n: names_gender(n) for n in people if n not in genders}
        hints += tuple(f'name_gender("{n}", {g}).' for n, g in usual.items() if g)
        who = _WHO.match(asked)
        return Theory(
            tuple(story_units(context)), asked, False, judged=False, hints=hints,
            asked=f'query("{who.group(2)}", "{who.group(1)}").' if who and context else "",
        )  # fmt: skip
    asking = next((i for i in range(len(parts) - 1, -1, -1) if parts[i].endswith("?")), None)
    if asking is not None and asking < len(parts) - 1:
        statement, ask = " ".join(parts[asking + 1 :]), parts[asking].lower()
        context = parts[:asking]
    else:
        statement, ask, context = parts[-1], "", parts[:-1]
    closed = "true or false" in ask and "unknown" not in ask
    return Theory(tuple(context), statement, closed, judged=form == "statement")


def literal(clause: str) -> str | None:
    """``-red(cow).`` -> ``-red(cow)``; None when the reply is not one ground literal."""
    m = _LITERAL.match(clause)
    return m.group(1).replace(" ", "").replace(",", ", ") if m else None


def names_its_people(clause: str, unit: str) -> bool:
    """A story unit's facts are about the people the unit names, and relate two of them:
    no ``"Niece"`` the story never mentions, no ``rel("Nola", baby, "Nola")``."""
    told = names(unit)
    for args in re.findall(r"\w+\(([^()]*)\)", clause):
        people = _QUOTED.findall(args)
        if not set(people) <= told or len(people) != len(set(people)):
            return False
    return True


def left_out(clause: str, unit: str) -> list[str]:
    """The people a story unit names that none of its facts mention ("[Jason] and his wife
    [Gabrielle] baked a cake for [Lisa], his daughter." with the wife fact only: Lisa)."""
    return sorted(names(unit) - set(_QUOTED.findall(clause)))


def own_facts(clause: str, unit: str) -> str:
    """The ``rel/3`` facts of a unit's clause that relate two people the unit names: what
    is left when a reply that no resample mended ("rel("Lisa", daughter, "Lisa").", a
    name the story lacks, a stray ``rel("rel(``) is read for what it holds."""
    facts = (relation_words(m[0]) for m in _REL_FACT.finditer(clause))
    return " ".join(f for f in facts if names_its_people(f, unit))


def completable(clause: str, unit: str) -> bool:
    """A unit's facts (none, or usable ones) leave out someone it names: ``next_fact`` can
    ask for the rest."""
    if clause.strip() and not (clause_ok(clause) and names_its_people(clause, unit)):
        return False
    return bool(left_out(clause, unit))


def next_fact(clause: str, unit: str) -> str:
    """How the fact a unit's ``clause`` left out starts: ``rel("Jason",`` with the first
    person of the unit that the clause relates (the one a sentence's two relations share:
    "[Jason] and his wife [Gabrielle] baked a cake for [Lisa], his daughter."), or the
    unit's first person when it relates no one, for the student to continue."""
    said = set(_QUOTED.findall(clause))
    order = [n for n in _MARKED.findall(unit) or _NAME.findall(unit) if n not in _NOT_NAMES]
    anchor = next((n for n in order if n in said), order[0] if order else "")
    return f'rel("{anchor}",'  # no space after: the student's token for the word carries it


def with_more(clause: str, fact: str, unit: str) -> str | None:
    """``clause`` and the first fact of ``fact`` (``next_fact`` and the student's
    continuation) when that fact is about the unit's people and names one the clause left
    out; else None."""
    found = _REL_FACT.match(fact.strip())
    if found is None:
        return None
    a, word, b = found.groups()
    more = f'{clause} rel("{a}", {word.lower()}, "{b}").'
    gained = set(left_out(clause, unit)) - set(left_out(more, unit))
    return more if gained and clause_ok(more) and names_its_people(more, unit) else None


def unit_clauses(theory: Theory, program: str) -> list[str]:
    """The clause of each of ``theory.units`` in a program ``assemble`` wrote (a line each,
    first, with its unit as a comment): what ``assemble`` takes to write it again."""
    lines = program.splitlines()[: len(theory.units)]
    return [line.partition(_COMMENT)[0].strip() for line in lines]


def relation_words(clause: str) -> str:
    """A story fact's relation as a constant: ``rel("Ann", Aunt, "Bo")`` (the story's
    capital, a variable to the solver) is ``rel("Ann", aunt, "Bo")``."""
    return _REL_WORD.sub(lambda m: m.group(1) + m.group(2).lower(), clause)


def without_each_fact(program: str) -> list[str]:
    """The program once per ``rel/3`` fact in it, less that fact (leave one out)."""
    spans = [m.span() for m in _REL_FACT.finditer(program)]
    return [program[:a] + program[b:] for a, b in spans]


def with_each_fact_turned(program: str) -> list[str]:
    """The program once per ``rel/3`` fact in it, that fact's two people swapped
    (``rel("Connie", daughter, "Patricia").`` read the other way round)."""
    return [
        f'{program[: m.start()]}rel("{m[3]}", {m[2]}, "{m[1]}").{program[m.end() :]}'
        for m in _REL_FACT.finditer(program)
    ]


_GENDER_HINT = re.compile(r'\b(said_gender|name_gender)\("([^"]*)",\s*(male|female)\)\.')


def turn_by_gender(program: str) -> tuple[str, list[str]]:
    """A family story's facts written backwards where the genders show it: in
    ``rel("Lisa", daughter, "Jason")`` the daughter is Jason, whom the story's hints call
    male, while Lisa is female: the fact is turned round (``rel("Jason", daughter,
    "Lisa")``). A pronoun's gender (``said_gender``) beats the name's (``name_gender``); a
    fact is turned only when the named person's gender contradicts the relation and the
    other's fits it. Returns the program and the facts turned, as written before."""
    hints: dict[str, str] = {}
    for kind, name, gender in _GENDER_HINT.findall(program):
        if kind == "said_gender" or name not in hints:
            hints[name] = gender
    turned = []
    for m in reversed(list(_REL_FACT.finditer(program))):
        a, relation, b = m[1], m[2], m[3]
        gender = _KIN_GENDER.get(relation)
        if gender and hints.get(b, gender) != gender and hints.get(a) == gender:
            program = f'{program[: m.start()]}rel("{b}", {relation}, "{a}").{program[m.end() :]}'
            turned.append(m[0])
    return program, turned[::-1]


def clause_ok(clause: str, statement: bool = False) -> bool:
    """A translation the graph can use: facts and rules over ``p(a)`` / ``-p(a, b)`` atoms,
    each ending in a full stop, no head variable without a body; for the statement one
    ground literal."""
    if statement:
        return literal(clause) is not None
    if not _CLAUSES.match(clause):
        return False
    for one in clause.split(".")[:-1]:  # a variable in a head needs a body to bind it
        head, _, body = one.partition(":-")
        if re.search(r"[(,]\s*[A-Z]", head) and not body.strip():
            return False
    return True


_ATOM_PARTS = re.compile(rf"(-?)([a-z]\w*)\(\s*({_ARG}(?:\s*,\s*{_ARG})*)\s*\)")


def _arity(atom: re.Match[str]) -> int:
    """The number of arguments of an ``_ATOM_PARTS`` match."""
    return atom[3].count(",") + 1


def _arity_counts(signatures: Iterable[tuple[str, int]]) -> dict[str, Counter[int]]:
    """For each predicate name, how often each arity is counted among ``signatures``."""
    arities: dict[str, Counter[int]] = {}
    for name, n in signatures:
        arities.setdefault(name, Counter())[n] += 1
    return arities


def _atoms(clause: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The predicates (name, arity) a clause defines (heads, facts) and those it uses
    (rule bodies), negation set aside: ``-red(X) :- cold(X).`` defines red/1, uses cold/1."""
    defined: list[tuple[str, int]] = []
    used: list[tuple[str, int]] = []
    for one in clause.split(".")[:-1]:
        head, _, body = one.partition(":-")
        for part, into in ((head, defined), (body, used)):
            into += [(m[2], _arity(m)) for m in _ATOM_PARTS.finditer(part)]
    return defined, used


def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


def misfits(clauses: Sequence[str]) -> list[int]:
    """The clauses that use a predicate with an arity the rest of the theory does not: the
    minority arity of a name used with two ("The squirrel does not chase the squirrel." as
    ``-chases(squirrel).`` where three sentences say ``chases(X, Y)``). A sentence
    translated alone loses an argument; the graph asks it again."""
    used = [{(m[2], _arity(m)) for m in _ATOM_PARTS.finditer(c)} for c in clauses]
    arities = _arity_counts(sig for clause in used for sig in clause)  # once per clause
    return [
        i
        for i, sig in enumerate(used)
        if any(len(arities[a]) > 1 and arities[a][n] < max(arities[a].values()) for a, n in sig)
    ]


def fill_reflexives(theory: Theory, clauses: Sequence[str]) -> tuple[list[str], int]:
    """A one-argument atom of a predicate the rest of the theory uses with two, in a clause
    whose sentence names that argument twice, is the argument twice: "The squirrel does not
    chase the squirrel." translated ``-chases(squirrel).`` is ``-chases(squirrel,
    squirrel).`` (a sentence about one thing and itself loses the repeat, and asked again
    the student writes it the same way). Returns the clauses and how many atoms it filled."""
    arities = _arity_counts((m[2], _arity(m)) for c in clauses for m in _ATOM_PARTS.finditer(c))
    filled = 0

    def fill(m: re.Match[str], said: str) -> str:
        nonlocal filled
        counts, arg = arities[m[2]], m[3].strip()
        if "," in arg or counts.most_common(1)[0][0] != 2 or arg[:1].isupper():
            return m[0]
        if len(re.findall(rf"\b{re.escape(arg.replace('_', ' '))}\b", said.lower())) < 2:
            return m[0]
        filled += 1
        return f"{m[1]}{m[2]}({arg}, {arg})"

    out = list(clauses)
    for i, unit in enumerate([*theory.sentences, theory.statement][: len(out)]):
        out[i] = _ATOM_PARTS.sub(lambda m: fill(m, unit), out[i])  # noqa: B023 (used at once)
    return out, filled


def align_vocabulary(theory: Theory, clauses: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Sentence translations made to share one vocabulary: a predicate that a rule or the
    statement uses and no sentence defines, where exactly one defined predicate of the same
    arity has its stem (Snowball's English stemmer), is renamed to it. Each sentence was
    translated alone, so "If something chases the rabbit ..." may say ``chasing(X, rabbit)``
    where the facts say ``chases``: that rule would never fire. Returns the clauses and the
    renames (``{"chasing/2": "chases"}``); a predicate with no such twin is left as written
    (a theory may well mention what it never states)."""
    defined: Counter[tuple[str, int]] = Counter()
    used: set[tuple[str, int]] = set()
    for i, clause in enumerate(clauses):
        if theory.judged and i == len(clauses) - 1:  # the statement only asks
            used.update(_atoms(f"query :- {clause.strip().rstrip('.')}.")[1])
            continue
        heads, body = _atoms(clause)
        defined.update(heads)
        used.update(body)
    renames: dict[tuple[str, int], str] = {}
    for name, arity in sorted(used - set(defined)):
        twins = [d for (d, n) in defined if n == arity and _stem(d) == _stem(name)]
        if len(twins) == 1:
            renames[(name, arity)] = twins[0]
    if not renames:
        return list(clauses), {}

    def renamed(m: re.Match[str]) -> str:
        to = renames.get((m[2], _arity(m)))
        return f"{m[1]}{to}({m[3]})" if to else m[0]

    out = [_ATOM_PARTS.sub(renamed, c) for c in clauses]
    return out, {f"{name}/{arity}": to for (name, arity), to in renames.items()}


def assemble(theory: Theory, clauses: Sequence[str]) -> str:
    """The program: ``clauses`` are the student's translations of ``theory.units``. When the
    theory is ``judged`` the last is the statement's literal, made into the query lines;
    else the question's own clause (``query("J", "H").`` for StepGame, or the theory's
    ``asked`` clause) is kept as written."""
    if len(clauses) != len(theory.units):
        raise ValueError(f"{len(theory.units)} sentences but {len(clauses)} translations")
    lines = [
        comment(" ".join(c.split()), s) for c, s in zip(clauses, theory.sentences, strict=False)
    ]
    said = theory.asked or clauses[-1].strip()
    if not theory.judged:
        question = comment(" ".join(said.split()), theory.statement)
        return "\n".join([*lines, question, *theory.hints]) + "\n"
    query = literal(said)
    if query is None:  # the solver names the problem; nothing is guessed
        lines.append(comment(f"query_pos :- {said.rstrip('.')}.", theory.statement))
    else:
        negated = query[1:] if query.startswith("-") else f"-{query}"
        lines += [comment(f"query_pos :- {query}.", theory.statement), f"query_neg :- {negated}."]
    if theory.closed_world:
        lines.append("closed_world.")
    return "\n".join(lines) + "\n"


def pairs(program: str) -> list[tuple[str, str]]:
    """(sentence, translation) pairs of a commented program, in order: the clauses that
    share a sentence joined, the query line read back as the statement's literal."""
    out: list[tuple[str, str]] = []
    for line in program.splitlines():
        clause, sep, sentence = line.partition(_COMMENT)
        sentence = sentence.strip()
        if not sep or not sentence:
            continue
        clause = clause.strip()
        if clause.startswith("query_pos :-"):
            clause = clause.removeprefix("query_pos :-").strip()
        if out and out[-1][0] == sentence:
            out[-1] = (sentence, f"{out[-1][1]} {clause}")
        else:
            out.append((sentence, clause))
    return out
