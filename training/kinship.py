"""``synth:kinship``: our own kinship corpus, generated (Apache-2.0, so it may ship).

A random family (four generations: couples, one to three children each, genders drawn), a
path of family links between two of its people told as a short story, and the question
"Who is B to A?". Each link becomes one sentence, drawn from several templates, stated in
either direction ("[Ann] is [Bob]'s mother" or "[Bob] is [Ann]'s son"), in CLUTRR's style
(bracketed names); now and then two links are told in one sentence (a grandparent, an uncle,
"the son of [X]'s sister", the middle person unnamed), two same-gender siblings as "[A] and
[B] are sisters", a name a sentence later ("... his wife. Her name is [C]."); adjacent
sentences are sometimes swapped, and unrelated sentences about other family members are
mixed in as distractors. The student's program is one ``rel/3`` fact per sentence plus the
query; the gold relation is what ``agent/rules/kinship.lp`` derives from those facts, kept only
when it derives exactly one CLUTRR label.

    nesy distill verify --teacher synth:kinship --limit 2000
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.tasks.clutrr import question

if TYPE_CHECKING:
    from agent.theory import Theory

MALE = (
    "Aaron Adam Alan Albert Andrew Anthony Arthur Benjamin Bradley Brian Carl Charles "
    "Christopher Daniel David Dennis Donald Douglas Edward Eric Eugene Frank Gary George "
    "Gerald Gregory Harold Henry Jack Jacob James Jason Jeffrey Jeremy Jerry Jesse John "
    "Jonathan Joseph Joshua Keith Kenneth Kevin Larry Lawrence Louis Mark Martin Matthew "
    "Michael Nathan Nicholas Patrick Paul Peter Philip Ralph Raymond Richard Robert Roger "
    "Ronald Russell Samuel Scott Sean Stephen Steven Terry Thomas Timothy Victor Walter "
    "Wayne William"
).split()
FEMALE = (
    "Abigail Alice Amanda Amy Andrea Angela Ann Anna Barbara Betty Beverly Brenda Carol "
    "Carolyn Catherine Cheryl Christina Christine Cynthia Deborah Debra Denise Diana Diane "
    "Donna Doris Dorothy Elizabeth Emily Emma Evelyn Frances Gloria Grace Hannah Heather "
    "Helen Jacqueline Janet Janice Jean Jennifer Jessica Joan Joyce Judith Judy Julia Julie "
    "Karen Katherine Kathleen Kathryn Kelly Kimberly Laura Linda Lisa Lori Margaret Maria "
    "Marie Marilyn Martha Mary Megan Melissa Michelle Nancy Nicole Olivia Pamela Rachel "
    "Rebecca Rose Ruth Sandra Sara Sharon Shirley Sophia Stephanie Susan Teresa Theresa "
    "Victoria Virginia"
).split()

# A link's relation by its class and the gender of the person it names (kinship.lp's kin/3).
NAMES = {
    ("parent", "male"): "father", ("parent", "female"): "mother",
    ("child", "male"): "son", ("child", "female"): "daughter",
    ("sibling", "male"): "brother", ("sibling", "female"): "sister",
    ("spouse", "male"): "husband", ("spouse", "female"): "wife",
}  # fmt: skip
HIS = {"male": "his", "female": "her"}
INVERSE = {"parent": "child", "child": "parent", "sibling": "sibling", "spouse": "spouse"}
# "{y} is {x}'s {r}": each template states that Y is X's R (R a relation word).
TEMPLATES = (
    "[{y}] is [{x}]'s {r}.",
    "[{x}]'s {r} is [{y}].",
    "[{x}] and {x_his} {r} [{y}] {activity}.",
    "[{x}] {activity_with} {x_his} {r} [{y}].",
    "[{x}] asked {x_his} {r} [{y}] {request}.",
    "[{y}], [{x}]'s {r}, {activity}.",
    "[{x}] called {x_his} {r} [{y}] {call}.",
    "[{x}] has a {r} named [{y}].",
    "[{y}] is the {r} of [{x}].",
    "[{x}] {activity_with} [{y}], {x_his} {r}.",
    "[{x}] bought a present for {x_his} {r} [{y}].",
    "[{x}] {activity_with} {x_his} {r}. {y_his_cap} name is [{y}].",
    "[{x}] is proud of {x_his} {r}, [{y}].",
    "[{x}] '{r}, [{y}], {activity}.",  # CLUTRR's own slip: "[Norman] 'son, [Chris], aced"
    "[{x}] '{r} [{y}] {activity}.",
)
# Two links told as one: Y is X's parent's parent, stated as "grandfather" or as "the father
# of X's mother" (the middle person unnamed). kinship.lp composes either.
FUSED = (
    "[{y}] is [{x}]'s {r}.",
    "[{x}] {activity_with} {x_his} {r} [{y}].",
    "[{y}] is the {r1} of [{x}]'s {r0}.",
)
FUSE = {("parent", "parent"): "grandparent", ("child", "child"): "grandchild",
        ("parent", "sibling"): "auncle", ("sibling", "child"): "nibling"}  # fmt: skip
GRAND = {
    ("grandparent", "male"): "grandfather", ("grandparent", "female"): "grandmother",
    ("grandchild", "male"): "grandson", ("grandchild", "female"): "granddaughter",
    ("auncle", "male"): "uncle", ("auncle", "female"): "aunt",
    ("nibling", "male"): "nephew", ("nibling", "female"): "niece",
}  # fmt: skip
# Two links through one person told in one sentence, both named: M is the middle person,
# A is M's {r0} and B is M's {r1} (CLUTRR's three-name sentences).
HUBS = (
    "[{m}] took {m_his} {r0} [{a}] and {m_his} {r1} [{b}] out for lunch.",
    "[{m}] made dinner for {m_his} {r0}, [{a}], and {m_his} {r1}, [{b}].",
    "[{m}]'s {r0} [{a}] and {r1} [{b}] {activity}.",
    "[{m}] told {m_his} {r0} [{a}] that {m_his} {r1} [{b}] would visit soon.",
    "[{m}]'s {r0}, [{a}], {activity} while {m_his} {r1}, [{b}], stayed home.",
    "[{m}] asked {m_his} {r0} [{a}] to call {m_his} {r1} [{b}].",
    "[{m}]'s {r0} [{a}] was busy, so [{m}]'s {r1} [{b}] came instead.",
    "[{m}] and {m_his} {r0} [{a}] {activity} with {m_his} {r1}, [{b}].",
)
# The same two links told in path order, both named: M is X's {r0} and Y is M's {r1}, the
# second relation told from M by a pronoun ("[Maxine] called her son [Philip] and his sister
# [Diane]"), CLUTRR's commonest three-name shape. Only when X and M differ in gender: else
# the pronoun reads as X's, as in "[Michael] played golf with his father [Stanley] and his
# son [Jeremy]" (a hub).
CHAINS = (
    "[{x}] called {x_his} {r0} [{m}] and {m_his} {r1} [{y}] {call}.",
    "[{x}] took {x_his} {r0} [{m}] and {m_his} {r1} [{y}] to the fair.",
    "[{x}]'s {r0}, [{m}], {activity} with {m_his} {r1}, [{y}].",
    "[{x}]'s {r0} [{m}] and {m_his} {r1} [{y}] {activity}.",
    "[{x}] {activity_with} {x_his} {r0} [{m}] and {m_his} {r1} [{y}].",
)
# A couple and their child: "[X] and her husband [M] took their son [Y] to the wedding."
COUPLES = (
    "[{x}] and {x_his} {r0} [{m}] took their {r1} [{y}] to the wedding.",
    "[{x}] and {x_his} {r0}, [{m}], are very proud of their {r1}, [{y}].",
)
# Two children of one parent: "[X] and [M] were upset with their mother, [Y]." (each has Y
# as that parent).
SHARED = (
    "[{x}] and [{m}] {activity} with their {r1}, [{y}].",
    "[{x}] and [{m}] were both still very upset with their {r1}, [{y}].",
)
# Two siblings of one gender in one sentence: "[A] and [B] are brothers."
PAIRS = ("[{x}] and [{y}] are {rs}.", "[{x}] and {x_his} {r} [{y}] {activity}.")
ACTIVITIES = (
    "went to the park",
    "spent the afternoon baking cookies",
    "watched a movie together",
    "went fishing at the lake",
    "visited the museum",
    "played chess after dinner",
    "went hiking in the hills",
    "planted tomatoes in the garden",
    "went to the beach",
    "cooked dinner for the family",
    "went shopping for groceries",
    "painted the fence",
)
WITH = (
    "went to the zoo with",
    "had lunch with",
    "played tennis with",
    "went to the concert with",
    "took a long walk with",
    "went camping with",
)
REQUESTS = (
    "for help with the homework",
    "to pick up some milk",
    "for advice about work",
    "to come over for dinner",
    "to borrow a book",
)
CALLS = ("to wish them a happy birthday", "to talk about the weekend", "after the game")
DISTRACTORS = (
    "[{z}] loves reading mystery novels.",
    "[{z}] is learning to play the piano.",
    "[{z}] works at the hospital downtown.",
    "[{z}] just got back from a trip to Spain.",
    "[{z}] makes the best apple pie in town.",
    "[{z}] goes running every morning.",
)


@dataclass
class Person:
    name: str
    gender: str
    parents: list[Person] = field(default_factory=list)
    children: list[Person] = field(default_factory=list)
    spouse: Person | None = None


def family(rng: random.Random, generations: int = 4) -> list[Person]:
    """A random family: a founding couple; each child of the first generations marries (a
    spouse from outside) and has one to three children."""
    used: set[str] = set()

    def person(gender: str | None = None) -> Person:
        gender = gender or rng.choice(("male", "female"))
        pool = [n for n in (MALE if gender == "male" else FEMALE) if n not in used]
        name = rng.choice(pool)
        used.add(name)
        return Person(name, gender)

    def marry(a: Person) -> Person:
        b = person("female" if a.gender == "male" else "male")
        a.spouse, b.spouse = b, a
        return b

    first = person()
    people = [first, marry(first)]
    parents = [first]
    for _ in range(generations - 1):
        nxt = []
        for p in parents:
            for _ in range(rng.randint(1, 3)):
                c = person()
                for q in (p, p.spouse):
                    if q is not None:
                        q.children.append(c)
                        c.parents.append(q)
                people.append(c)
                nxt.append(c)
        parents = []
        for c in nxt:
            if rng.random() < 0.8 and len(used) < len(MALE) + len(FEMALE) - 4:
                people.append(marry(c))
                parents.append(c)
    return people


def links(p: Person) -> list[tuple[str, Person]]:
    """(class, other): the other is p's class (parent, child, sibling, spouse)."""
    out: list[tuple[str, Person]] = [("parent", q) for q in p.parents]
    out += [("child", c) for c in p.children]
    if p.spouse is not None:
        out.append(("spouse", p.spouse))
    siblings = {id(s): s for q in p.parents for s in q.children if s is not p}
    out += [("sibling", s) for s in siblings.values()]
    return out


def path(rng: random.Random, people: list[Person], length: int) -> list[tuple[Person, str, Person]]:
    """A random walk of ``length`` links that never revisits a person: (x, class, y) with y
    x's class. Empty when the walk gets stuck."""
    start = rng.choice(people)
    seen = {id(start)}
    steps = []
    x = start
    for _ in range(length):
        options = [(c, y) for c, y in links(x) if id(y) not in seen]
        if not options:
            return []
        c, y = rng.choice(options)
        steps.append((x, c, y))
        seen.add(id(y))
        x = y
    return steps


def sentence(rng: random.Random, x: Person, cls: str, y: Person) -> tuple[str, list[str]]:
    """One sentence stating that y is x's ``cls`` (or, half the time, the inverse), and the
    fact it states."""
    if rng.random() < 0.5:
        x, y, cls = y, x, INVERSE[cls]
    r = NAMES[(cls, y.gender)]
    templates: tuple[str, ...] = TEMPLATES
    if cls == "sibling" and x.gender == y.gender and rng.random() < 0.4:
        templates = PAIRS
    if cls in ("child", "sibling") and rng.random() < 0.1:
        templates = ("[{y}], another {r} of [{x}], {activity}.",)
    text = rng.choice(templates).format(**words(rng, x, y), r=r, rs=r + "s")
    return text, [f'rel("{x.name}", {r}, "{y.name}").']


def fused(
    rng: random.Random, x: Person, c0: str, mid: Person, c1: str, y: Person
) -> tuple[str, list[str]]:
    """One sentence for two links (y is mid's c1, mid is x's c0) that leaves mid unnamed."""
    r = GRAND[(FUSE[(c0, c1)], y.gender)]
    text = rng.choice(FUSED).format(
        **words(rng, x, y), r=r, r0=NAMES[(c0, mid.gender)], r1=NAMES[(c1, y.gender)]
    )
    return text, [f'rel("{x.name}", {r}, "{y.name}").']


def words(rng: random.Random, x: Person, y: Person) -> dict[str, str]:
    return {
        "x": x.name, "y": y.name, "x_his": HIS[x.gender], "y_his_cap": HIS[y.gender].title(),
        "activity": rng.choice(ACTIVITIES), "activity_with": rng.choice(WITH),
        "request": rng.choice(REQUESTS), "call": rng.choice(CALLS),
    }  # fmt: skip


def hub(
    rng: random.Random, x: Person, c0: str, mid: Person, c1: str, y: Person
) -> tuple[str, list[str]]:
    """One sentence for two links (mid is x's c0, y is mid's c1) told from mid: x is mid's
    inverse of c0, y mid's c1. Both facts are stated from mid."""
    r0, r1 = NAMES[(INVERSE[c0], x.gender)], NAMES[(c1, y.gender)]
    his = HIS[mid.gender]
    text = rng.choice(HUBS).format(
        m=mid.name, a=x.name, b=y.name, m_his=his, r0=r0, r1=r1, activity=rng.choice(ACTIVITIES)
    )
    return text, [f'rel("{mid.name}", {r0}, "{x.name}").', f'rel("{mid.name}", {r1}, "{y.name}").']


def chain(
    rng: random.Random, x: Person, c0: str, mid: Person, c1: str, y: Person
) -> tuple[str, list[str]]:
    """One sentence for two links (mid is x's c0, y is mid's c1) in path order, mid named:
    a couple's child as "their" child, two children of one parent as "their" parent, else
    a ``CHAINS`` sentence when the pronoun tells mid from x (their genders differ), a
    ``hub`` when it does not. Each fact is stated from the person the sentence relates it
    to."""
    r0, r1 = NAMES[(c0, mid.gender)], NAMES[(c1, y.gender)]
    fill = {**words(rng, x, y), "m": mid.name, "m_his": HIS[mid.gender], "r0": r0, "r1": r1}
    facts = [f'rel("{x.name}", {r0}, "{mid.name}").', f'rel("{mid.name}", {r1}, "{y.name}").']
    if (c0, c1) == ("spouse", "child") and rng.random() < 0.5:
        return rng.choice(COUPLES).format(**fill), facts
    if (c0, c1) == ("sibling", "parent") and rng.random() < 0.5:
        facts = [f'rel("{x.name}", {r1}, "{y.name}").', facts[1]]
        return rng.choice(SHARED).format(**fill), facts
    if x.gender == mid.gender:
        return hub(rng, x, c0, mid, c1, y)
    return rng.choice(CHAINS).format(**fill), facts


def tell(
    rng: random.Random, steps: list[tuple[Person, str, Person]]
) -> list[tuple[str, list[str]]]:
    """The path's sentences: one per link, but now and then two links in one: the middle
    person unnamed (``fused``), named and telling both (``hub``) or named between the two
    in path order (``chain``)."""
    told: list[tuple[str, list[str]]] = []
    i = 0
    while i < len(steps):
        x, c0, mid = steps[i]
        if i + 1 < len(steps) and (c0, steps[i + 1][1]) in FUSE and rng.random() < 0.3:
            told.append(fused(rng, x, c0, mid, steps[i + 1][1], steps[i + 1][2]))
            i += 2
        elif i + 1 < len(steps) and rng.random() < 0.5:
            two = hub if rng.random() < 0.5 else chain
            told.append(two(rng, x, c0, mid, steps[i + 1][1], steps[i + 1][2]))
            i += 2
        else:
            told.append(sentence(rng, x, c0, mid))
            i += 1
    return told


def story(rng: random.Random, length: int, distractors: int = 1) -> dict[str, Any] | None:
    """One item: the story, the query pair, the facts (the program); None when no walk of
    ``length`` links was found."""
    for _ in range(20):
        people = family(rng)
        steps = path(rng, people, length)
        if steps:
            break
    else:
        return None
    told = tell(rng, steps)
    if len(told) > 2 and rng.random() < 0.3:  # CLUTRR's stories are not always in chain order
        i = rng.randrange(len(told) - 1)
        told[i], told[i + 1] = told[i + 1], told[i]
    on_path = {id(x) for x, _, _ in steps} | {id(steps[-1][2])}
    others = [p for p in people if id(p) not in on_path]
    texts = [t for t, _ in told]
    for _ in range(distractors if others else 0):
        texts.insert(
            rng.randrange(len(texts) + 1), rng.choice(DISTRACTORS).format(z=rng.choice(others).name)
        )
    a, b = steps[0][0].name, steps[-1][2].name
    # CLUTRR's stories often lose a full stop between sentences ("... birthday party
    # [Oliver] has a few children"): the unit then tells both sentences' relations.
    texts = [t[:-1] if t.endswith(".") and rng.random() < 0.15 else t for t in texts]
    text = " ".join(texts)
    from agent import theory

    told_story = theory.split(question(text, (a, b)), "story")
    program = by_units(told_story, [f for _, fs in told for f in fs], (a, b))
    return {"story": text, "query": (a, b), "program": program, "length": length}


_FACT = re.compile(r'rel\("([^"]+)", \w+, "([^"]+)"\)\.')


def by_units(
    th: Theory,
    facts: list[str],
    query: tuple[str, str],
    orient: Callable[[str, str], str] | None = None,
) -> str:
    """The program, each fact commented with the unit of the story ``th`` (the question
    split by ``agent.theory.split(..., "story")``) that states it (the ``asp`` mode's
    student translates a story unit by unit), the query with the question. A fact goes to
    the first unit naming both its people, else the last naming either (ValueError when
    none does); ``orient(fact, unit)`` then words it as that unit does."""
    from agent import theory

    told: list[list[str]] = [[] for _ in th.sentences]
    people = [theory.names(u) for u in th.sentences]
    for fact in facts:
        x, y = _FACT.fullmatch(fact).groups()  # type: ignore[union-attr]
        both = [i for i, n in enumerate(people) if {x, y} <= n]
        either = [i for i, n in enumerate(people) if {x, y} & n]
        if not (both or either):
            raise ValueError(f"no sentence names {x} or {y}: {fact}")
        unit = both[0] if both else either[-1]
        told[unit].append(orient(fact, th.sentences[unit]) if orient else fact)
    lines = [theory.comment(" ".join(f), u) for f, u in zip(told, th.sentences, strict=True) if f]
    lines.append(theory.comment(f'query("{query[0]}", "{query[1]}").', th.statement))
    return "\n".join(lines) + "\n"


def gold(program: str) -> str | None:
    """The relation kinship.lp derives from the facts, when it derives exactly one."""
    from agent.modes import rule_library
    from solvers import SolverRequest, solve

    r = solve(SolverRequest(solver="asp", program=rule_library("kinship.lp"), facts=program))
    if not r.ok or not r.answer or len(r.answer[0]) != 1:
        return None
    atom = str(r.answer[0][0])
    return atom[len("answer(") : -1].replace("_", "-") if atom.startswith("answer(") else None


def candidates(
    limit: int | None, provenance: Any, seed: int = 0, tries: int = 60
) -> Iterator[dict[str, Any]]:
    """Generated items, chain lengths 2 to 10 in turn, as Candidate keyword arguments. A
    random walk need not compose to one relation kinship.lp can name (a wife's brother is
    a brother-in-law, which it does not derive): up to ``tries`` walks per item are drawn,
    and an item none of them gave is rejected with that note."""
    from bench.tasks.clutrr import LABELS

    rng = random.Random(seed)
    n = 0
    while limit is None or n < limit:
        length = 2 + n % 9
        item, label = None, None
        for _ in range(tries):
            item = story(rng, length, distractors=rng.randint(0, 2))
            label = gold(item["program"]) if item else None
            if label in LABELS:
                break
        n += 1
        ok = item is not None and label in LABELS
        a, b = item["query"] if item else ("", "")
        yield {
            "source": "synth:kinship",
            "task": "clutrr",
            "item_id": f"synth-kinship-{seed}-{n - 1}",
            "mode": "asp",
            "program": item["program"] if item else "",
            "gold": label if ok else None,
            "reason": None if ok else "solver_error",
            "question": question(item["story"], (a, b)) if item else "",
            "group": f"synth-kinship-{seed}-{n - 1}",
            "provenance": provenance,
            "difficulty": length,
            "note": "" if ok else f"no walk of {length} links named one relation in {tries} tries",
        }


# ``silver:clutrr``: CLUTRR rows carry their proof (the story's edges, their types, the
# people in order, the query): one rel/3 fact per story edge, with the story's names. CC
# BY-NC 4.0, so it is read from a user-given folder only and what trains on it never ships.
CLUTRR_SOURCE = "clutrr/gen_train23_validation.jsonl"


def clutrr_candidates(data: Path, limit: int | None, provenance: Any) -> Iterator[dict[str, Any]]:
    """CLUTRR's train/dev rows as ``Candidate`` keyword arguments: the facts of the row's own
    proof, its target as gold (the verifier keeps a row when kinship.lp derives it from
    them and the gender hints the graph adds to this story)."""
    from agent import theory
    from bench.tasks.clutrr import TASK

    path = data / CLUTRR_SOURCE
    for n, (line, row) in enumerate(TASK.rows(path)):
        if limit is not None and n >= limit:
            return
        item, facts, hints, why = None, "", "", str(row)
        if isinstance(row, dict):
            try:
                item = TASK.parse(row, line)
                told = theory.split(item.question, "story")
                facts, why = _clutrr_facts(row, told, item.meta["query"]), ""
                hints = "\n".join(told.hints)
            except (KeyError, ValueError, SyntaxError) as exc:
                why = f"line {line}: {exc}"
        yield {
            "source": "silver:clutrr",
            "task": "clutrr",
            "item_id": item.group if item else f"line-{line}",
            "mode": "asp",
            "program": facts,
            "context": hints,
            "gold": item.gold if item else None,
            "reason": "parse_error" if why else None,
            "question": item.question if item else "",
            "group": item.group if item else f"line-{line}",
            "provenance": provenance,
            "difficulty": item.difficulty if item else None,
            "note": why,
        }


def _clutrr_facts(row: dict[str, Any], th: Theory, query: list[str]) -> str:
    """The program: one fact per proof edge, by units (``by_units``), each worded as its
    unit tells it (``orient``), then the query (ValueError when the proof fields are
    unreadable or disagree)."""
    import ast

    people = [g.split(":") for g in str(row["genders"]).split(",")]
    names = [p[0] for p in people]
    gender = {p[0]: p[-1] for p in people}
    edges = ast.literal_eval(str(row["story_edges"]))
    types = ast.literal_eval(str(row["edge_types"]))
    if len(edges) != len(types) or any(max(e) >= len(names) for e in edges):
        raise ValueError("story_edges, edge_types and genders disagree")
    lines = [f'rel("{names[i]}", {t.replace("-", "_")}, "{names[j]}").' for (i, j), t in
             zip(edges, types, strict=True)]  # fmt: skip
    return by_units(th, lines, (query[0], query[1]), lambda f, u: orient(f, u, gender))


# A relation word by its class and gender, every class's inverse, and the everyday words a
# story uses for a class (kinship.lp's alias/2), for ``orient``.
WORDS = {**NAMES, **GRAND}
CLASS_OF = {word: key for key, word in WORDS.items()}
INVERSES = {**INVERSE, "grandparent": "grandchild", "grandchild": "grandparent",
            "auncle": "nibling", "nibling": "auncle"}  # fmt: skip
EVERYDAY = {
    ("parent", "male"): "dad", ("parent", "female"): "mom mum",
    ("grandparent", "male"): "grandpa", ("grandparent", "female"): "grandma",
    ("child", "male"): "child children kid kids baby",
    ("child", "female"): "child children kid kids baby",
    ("sibling", "male"): "siblings", ("sibling", "female"): "siblings",
}  # fmt: skip
_ONE_FACT = re.compile(r'rel\("([^"]+)", (\w+), "([^"]+)"\)\.')


def orient(fact: str, unit: str, gender: dict[str, str]) -> str:
    """``rel(X, R, Y)`` (Y is X's R) worded as ``unit`` tells it: CLUTRR's proof edges run
    along the query's path, so "[Gabrielle] ... her grandson [Russell]" comes as Gabrielle
    being Russell's grandmother; a student trained on that learns one sentence two ways.
    The fact is turned around (``rel(Y, R', X)``, R' the inverse in X's gender) when the
    unit says R' and not R; when it says both or neither (two brothers, "his youngest
    child"), the possessor (``[X]'s``), else the person named first, comes first."""
    m = _ONE_FACT.fullmatch(fact)
    if not m or m[2] not in CLASS_OF or m[1] not in gender:
        return fact
    x, r, y = m.groups()
    cls, y_gender = CLASS_OF[r]
    inverse = WORDS[(INVERSES[cls], gender[x])]
    flipped = f'rel("{y}", {inverse}, "{x}").'
    text = unit.lower()

    def says(word: str, key: tuple[str, str]) -> bool:
        words = [word, *EVERYDAY.get(key, "").split()]
        return any(re.search(rf"\b{w}(?:s|'s)?\b", text) for w in words)

    forward, backward = says(r, (cls, y_gender)), says(inverse, (INVERSES[cls], gender[x]))
    if forward != backward:
        return fact if forward else flipped
    if (f"[{x}]'s" in unit) != (f"[{y}]'s" in unit):
        return fact if f"[{x}]'s" in unit else flipped
    first_x, first_y = unit.find(f"[{x}]"), unit.find(f"[{y}]")
    return flipped if 0 <= first_y < first_x or first_x < 0 <= first_y else fact
