"""Per-sentence translation of a theory (``agent.theory``) and Logic-LM programs as
sentence-commented ASP (``agent.logiclm``)."""

from __future__ import annotations

import pytest

from agent import theory
from agent.logiclm import to_asp
from solvers import SolverRequest, solve
from tests.agent.test_rules import RULES

PROOFWRITER_ASK = (
    "Based on the above information, is the following statement true, false, or unknown?"
)


@pytest.mark.parametrize(
    "question, sentences, statement, closed",
    [
        (f"Bob is big. Big things are red.\n{PROOFWRITER_ASK} Bob is not red.",
         ("Bob is big.", "Big things are red."), "Bob is not red.", False),
        ("Max is a wumpus.\nIs the following statement true or false? Max is sour.",
         ("Max is a wumpus.",), "Max is sour.", True),
        ("Anne is kind. Is Anne kind?", ("Anne is kind.",), "Is Anne kind?", False),
        ("Anne is kind.\nAnne is nice.", ("Anne is kind.",), "Anne is nice.", False),
    ],
)  # fmt: skip
def test_a_question_splits_into_sentences_a_statement_and_its_world(
    question, sentences, statement, closed
):
    t = theory.split(question)
    assert (t.sentences, t.statement, t.closed_world) == (sentences, statement, closed)
    assert t.units == [*sentences, statement]


def test_an_empty_question_is_a_clear_error():
    with pytest.raises(ValueError, match="empty"):
        theory.split("  \n ")
    with pytest.raises(ValueError, match="unknown form 'lines'"):
        theory.split("A is left of B.", "lines")


def test_a_family_story_splits_into_units_that_each_name_a_pair():
    t = theory.split(
        "[Dan] went fishing with his sister. Her name is [Eve]. [Scott] and [Lewis] are"
        " brothers. [Jason] is father of their father. [Ann] bakes.\nWho is Jason to Lewis?",
        "story",
    )
    assert t.sentences == (
        "[Dan] went fishing with his sister [Eve].",  # the name where the relation is
        "[Scott] and [Lewis] are brothers. [Jason] is father of their father. [Ann] bakes.",
    )
    assert (t.statement, t.judged, t.closed_world) == ("Who is Jason to Lewis?", False, False)
    # without brackets the people are the capitalised words that are not pronouns
    assert theory.names("His sister Ann met Bob.") == {"Ann", "Bob"}
    # CLUTRR's question is read, not translated: the student sees only the story's units
    t = theory.split("Ann is Bob's mother. She smiled.\nWho is Ann to Bob?", "story")
    assert (t.units, t.asked) == (["Ann is Bob's mother. She smiled."], 'query("Bob", "Ann").')
    assert theory.assemble(t, ['rel("Bob", mother, "Ann").']).endswith(
        'query("Bob", "Ann").  % Who is Ann to Bob?\n'
    )
    # a question in another form is the student's to translate
    t = theory.split("Ann is Bob's mother.\nHow is Ann related to Bob?", "story")
    assert (t.units, t.asked) == (["Ann is Bob's mother.", "How is Ann related to Bob?"], "")


def test_a_story_run_on_without_a_full_stop_is_cut_into_its_sentences():
    assert theory.run_ons(
        "[Kim] went to her brother [Al]'s birthday party [Oliver] took his son [Bo] out."
    ) == ["[Kim] went to her brother [Al]'s birthday party", "[Oliver] took his son [Bo] out."]
    assert theory.run_ons("[Jo] went with her sister [Di] [Ed] has not seen her.") == [
        "[Jo] went with her sister [Di]", "[Ed] has not seen her."
    ]  # fmt: skip
    for whole in (
        "Since [Ann] gets out early, [Bo] waits.",  # nobody named before the word
        "[Mary] took her father, [Carlos], out.",  # a relation, a comma: the clause goes on
        "[Ann] named him [Joe] and visited [Bo].",
    ):
        assert theory.run_ons(whole) == [whole]
    # the graph's units: each run-on sentence its own, and its pronoun tells a gender
    t = theory.split("[Helen] and her son [Leo] traveled [Norman] took his nephew [Gene] out."
                     "\nWho is Gene to Helen?", "story")  # fmt: skip
    assert t.sentences == (
        "[Helen] and her son [Leo] traveled",
        "[Norman] took his nephew [Gene] out.",
    )
    assert 'said_gender("Norman", male).' in t.hints


def test_a_possessive_pronoun_is_written_as_the_subject_it_refers_to():
    """ "her sister" after "[Stephen]'s daughter, [Margaret]," is Margaret's sister; a student
    reading the sentence alone ties it to Stephen, its first name, so the sentence is cut
    there and the piece names Margaret."""
    resolve = theory.resolve_possessives
    told = "[Stephen]'s daughter, [Margaret], made a dinner for her sister, [Lisa]."
    assert resolve(told, {}) == [
        "[Stephen]'s daughter, [Margaret], made a dinner for",
        "[Margaret]'s sister, [Lisa].",
    ]
    # the subject's gender known to differ and nobody earlier of the pronoun's: as written
    assert resolve("[Al]'s son [Bo] called her aunt [Di].", {"Bo": "male", "Al": "male"}) == [
        "[Al]'s son [Bo] called her aunt [Di]."
    ]
    for kept in (
        "[Jen] invited her grandmother [Gab] and her sister [Ann] over.",  # the subject: Jen
        "[Judy]'s husband [Joe] called her brother [Larry].",  # Joe is male: Judy, the first
        "[Kim] took her son [Bo] out.",  # two people: nothing to choose
    ):
        assert resolve(kept, {}) == [kept]
    t = theory.split(told + "\nWho is Lisa to Stephen?", "story")
    assert t.sentences == (
        "[Stephen]'s daughter, [Margaret], made a dinner for",
        "[Margaret]'s sister, [Lisa].",
    )


def test_a_relation_owned_by_another_name_starts_a_piece_of_its_own():
    """The student ties a piece's facts to its first name, so "[Ethel]'s sister [Judy]" in
    a sentence about Leila is read apart; an owner that is the first name stays."""
    resolve = theory.resolve_possessives
    assert resolve("[Leila] played with her mother [Ethel] and [Ethel]'s sister [Judy].", {}) == [
        "[Leila] played with her mother [Ethel] and",
        "[Ethel]'s sister [Judy].",
    ]
    kept = "[Al] and his wife [Di] met [Al]'s son, [Bo]."
    assert resolve(kept, {}) == [kept]


def test_plurals_and_their_are_one_relation_a_person():
    spread = theory.spread_groups
    assert spread("[Kelley] went hiking with her sisters, [Anne] and [Kim].") == (
        "[Kelley] went hiking with her sister [Anne] and her sister [Kim]."
    )
    assert spread("[Judy] scolded her two children [Craig] and [Jean].") == (
        "[Judy] scolded her child [Craig] and her child [Jean]."
    )
    assert spread("[Al] and [Bo] were upset with their mother, [Di].") == (
        "[Al] and [Bo] were upset with [Al]'s mother, [Di] and [Bo]'s mother, [Di]."
    )
    assert spread("[Roger] invited his siblings [Mary] and [Cal].") == (
        "[Roger] invited his sibling [Mary] and his sibling [Cal]."
    )
    assert spread("Their father [Jim] came.") == "Their father [Jim] came."  # no pair: kept
    t = theory.split("[Al] and [Bo] were upset with their mother, [Di].\nWho is Di to Bo?",
                     "story")  # fmt: skip
    assert t.sentences == (
        "[Al] and [Bo] were upset with [Al]'s mother, [Di] and",
        "[Bo]'s mother, [Di].",
    )


def test_a_slipped_possessive_is_written_out():
    mend = theory.mend_possessives
    assert (
        mend("[Kevin] 'son, [Brian], aced his class.") == "[Kevin]'s son, [Brian], aced his class."
    )
    assert mend("[Gene] went to his mother [Helen] ''s house.") == (
        "[Gene] went to his mother [Helen]'s house."
    )
    assert (
        mend("[Al] went with [Frank] brother [Ben].") == "[Al] went with [Frank]'s brother [Ben]."
    )
    kept = "[Al] and his son [Bo] went to [Cy]'s house. [Al] 's hat."
    assert mend(kept) == kept.replace("] 's", "]'s")
    t = theory.split("[Kevin] 'son, [Brian], aced his class.\nWho is Brian to Kevin?", "story")
    assert t.sentences == ("[Kevin]'s son, [Brian], aced his class.",)


def test_a_relation_of_a_relation_is_one_word():
    joined = theory.join_relations
    assert (
        joined("[Gab] bakes for her daughter's son [Dave].")
        == "[Gab] bakes for her grandson [Dave]."
    )
    assert joined("[Al] met his sister's son, [Bo].") == "[Al] met his nephew, [Bo]."
    assert joined("[Ann] met her mother's husband [Al].") == "[Ann] met her father [Al]."
    kept = "[Ann] fed her cat's toy to [Al]'s dog."
    assert joined(kept) == kept
    t = theory.split("[Gab] bakes for her daughter's son. His name is [Dave].\nWho is Dave to Gab?",
                     "story")  # fmt: skip
    assert t.sentences == ("[Gab] bakes for her grandson [Dave].",)


def test_a_relative_named_a_sentence_later_is_named_where_the_relation_is():
    named = theory.name_relatives
    assert named(["[Ann] likes to visit her brother.", "His name is [Bo]."]) == [
        "[Ann] likes to visit her brother [Bo]."
    ]
    assert named(["[Al] is proud that his son graduated.", "His name is [Cy]."]) == [
        "[Al] is proud that his son [Cy] graduated."
    ]
    kept = ["[Ann] met her son [Al].", "His name is [Bo]."]  # the son has a name already
    assert named(kept) == kept
    kept = ["[Ann] likes to visit her brother.", "Her name is [Bo]."]  # the gender differs
    assert named(kept) == kept


def test_an_opening_pronoun_is_the_subject_of_the_piece_before():
    opened = theory.resolve_openings
    before = "[Daniel] took his son [Oscar] to the store."
    assert opened([before, "His wife [Jamie] stayed home with [Oscar]'s brother [Rick]."], {}) == [
        before,
        "[Daniel]'s wife [Jamie] stayed home with [Oscar]'s brother [Rick].",
    ]
    # the subject's gender differs (the story's pronouns): the last name of the pronoun's
    told = ["[Molly] fed her grandson, [Lee].", "His mother, [Sue], met [Al]."]
    assert opened(told, {"Molly": "female"})[1] == "[Lee]'s mother, [Sue], met [Al]."
    pair = ["[Lee] and [Al] planned a trip.", "Their father [Jim] met [Ann] there."]
    assert opened(pair, {})[1] == "[Lee]'s father [Jim] and [Al]'s father [Jim] met [Ann] there."
    alone = ["[Molly] fed her grandson, [Lee].", "His mother, [Sue], came."]  # a unit with it
    assert opened(alone, {}) == alone


def test_a_story_tells_genders_by_its_pronouns():
    said = theory.said_genders([
        "[Myrna] and her father [Jason] had dinner.",  # her, before a relation: Myrna's
        "[Anne], his other daughter, was napping.",  # an apposition: his is someone else's
        "[Michael] did n't hear her because he was busy.",  # her as an object is skipped
        "[Kent]'s wife [Rosa] smiled at him.",  # "[Kent]'s" is not the subject
        "His name is [Joe].",
        "[Sam] and his sister [Ann] ran.",
        "[Sam] and her mother [Eve] ran.",  # told both ways: neither
    ])  # fmt: skip
    assert said == {"Myrna": "female", "Michael": "male", "Joe": "male"}
    t = theory.split("[Myrna] and her father [Jason] had dinner.\nWho is Jason to Myrna?",
                     "story")  # fmt: skip
    # the story's pronoun, then the census's usual gender of every name it leaves ungendered
    assert t.hints == ('said_gender("Myrna", female).', 'name_gender("Jason", male).')
    program = theory.assemble(t, ['rel("Myrna", father, "Jason").'])
    assert program.endswith(
        '% Who is Jason to Myrna?\nsaid_gender("Myrna", female).\nname_gender("Jason", male).\n'
    )
    assert theory.pairs(program) == [  # training reads back the units, never the hints
        ("[Myrna] and her father [Jason] had dinner.", 'rel("Myrna", father, "Jason").'),
        ("Who is Jason to Myrna?", 'query("Myrna", "Jason").'),
    ]


@pytest.mark.parametrize(
    "reply, as_sentence, as_statement",
    [
        ("cold(bob).", True, True),
        ("-likes(cow, bald_eagle).", True, True),
        ("kind(X) :- cold(X), -big(X).", True, False),
        ("a(X) :- b(X). c(X) :- b(X).", True, False),
        ("kind(X).", False, False),  # a head variable with no body to bind it
        ("cold(bob)", False, False),  # no full stop
        ("Bob is cold.", False, False),
        ("kind(X) :- .", False, False),
    ],
)
def test_what_counts_as_a_translation(reply, as_sentence, as_statement):
    assert theory.clause_ok(reply) is as_sentence
    assert theory.clause_ok(reply, statement=True) is as_statement


def test_the_assembled_program_reads_back_as_the_pairs_it_came_from():
    t = theory.split(f"The cow is red. Red things are big.\n{PROOFWRITER_ASK} The cow is not big.")
    clauses = ["red(cow).", "big(X) :- red(X).", "-big(cow)."]
    program = theory.assemble(t, clauses)
    assert "query_pos :- -big(cow).  % The cow is not big.\nquery_neg :- big(cow).\n" in program
    assert theory.pairs(program) == list(zip(t.units, clauses, strict=True))
    with pytest.raises(ValueError, match="3 sentences but 2"):
        theory.assemble(t, clauses[:2])


def test_a_statement_that_is_no_literal_reaches_the_solver_as_its_error():
    t = theory.split("Bob is cold.\nTrue or false? Bob is kind.")
    program = theory.assemble(t, ["cold(bob).", "kind(bob) :- cold(bob)."])
    r = solve(SolverRequest(solver="asp", program=(RULES / "proofwriter.lp").read_text(),
                            facts=program))  # fmt: skip
    assert not r.ok and "query_neg" not in program


LOGICLM = """Predicates:
Chase($x, $y, bool) ::: Does x chase y?
Facts:
Chase(BaldEagle, Cat, True) ::: The bald eagle chases the cat.
Rules:
Chase($x, Cat, True) >>> Impuses($x, False) ::: If something chases the cat then it is not an impus.
Query:
Impuses(BaldEagle, False) ::: The bald eagle is not an impus.
"""


def test_logiclm_programs_keep_their_sentences_and_one_spelling_per_name():
    program = to_asp(LOGICLM)
    assert program.splitlines() == [
        "chases(bald_eagle, cat).  % The bald eagle chases the cat.",
        "-impus(X) :- chases(X, cat).  % If something chases the cat then it is not an impus.",
        "query_pos :- -impus(bald_eagle).  % The bald eagle is not an impus.",
        "query_neg :- impus(bald_eagle).",
    ]


def test_a_program_without_sentences_is_matched_to_the_context_in_order():
    # ProntoQA's GPT-4 programs carry no ":::" text: rules come in the context's order and
    # the fact last; a match is taken only when every predicate is named by its sentence.
    raw = (
        "Facts:\nWumpus(Max, True)\nRules:\nWumpus($x, True) >>> Sour($x, False)\n"
        "Query:\nSour(Max, True)"
    )
    program = to_asp(raw, ["Wumpuses are not sour.", "Max is a wumpus."], "Max is sour.")
    assert theory.pairs(program) == [
        ("Wumpuses are not sour.", "-sour(X) :- wumpus(X)."),
        ("Max is a wumpus.", "wumpus(max)."),
        ("Max is sour.", "sour(max)."),
    ]
    unmatched = to_asp(raw, ["Max is a wumpus.", "Dogs bark."], "Max is sour.")
    assert [s for s, _ in theory.pairs(unmatched)] == ["Max is sour."]


CHASE = theory.split(
    f"The cat chases the rabbit. If something chases the rabbit then it is big.\n"
    f"{PROOFWRITER_ASK} The cat is big."
)


@pytest.mark.parametrize(
    "clauses, aligned, renames",
    [
        # a rule's body named apart from the fact it needs: renamed, so the rule fires
        (["chases(cat, rabbit).", "big(X) :- chasing(X, rabbit).", "big(cat)."],
         ["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", "big(cat)."],
         {"chasing/2": "chases"}),
        # the statement too, negated or not
        (["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", "-chase(cat, rabbit)."],
         ["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", "-chases(cat, rabbit)."],
         {"chase/2": "chases"}),
        # another arity, another stem, or a predicate that is defined: left as written
        (["chases(cat).", "big(X) :- chasing(X, rabbit).", "big(cat)."], None, {}),
        (["chases(cat, rabbit).", "big(X) :- likes(X, rabbit).", "big(cat)."], None, {}),
        (["chases(cat, rabbit).", "chasing(X, Y) :- chases(X, Y).", "chasing(cat, rabbit)."],
         None, {}),
    ],
)  # fmt: skip
def test_a_predicate_one_sentence_names_unlike_the_rest_takes_their_name(clauses, aligned, renames):
    assert theory.align_vocabulary(CHASE, clauses) == (aligned or clauses, renames)


def test_two_defined_twins_of_one_stem_leave_the_predicate_as_written():
    clauses = [
        "chases(cat, rabbit). chase(dog, cat).",
        "big(X) :- chasing(X, rabbit).",
        "big(cat).",
    ]
    assert theory.align_vocabulary(CHASE, clauses) == (clauses, {})


def test_the_aligned_program_proves_what_the_sentences_say():
    clauses, _ = theory.align_vocabulary(
        CHASE, ["chases(cat, rabbit).", "big(X) :- chasing(X, rabbit).", "big(cat)."]
    )
    program = theory.assemble(CHASE, clauses)
    rules = (RULES / "proofwriter.lp").read_text()
    result = solve(SolverRequest(solver="asp", program=rules, facts=program))
    assert result.answer == [["answer(true)"]], result


@pytest.mark.parametrize(
    "clauses, odd",
    [
        # three clauses say chases/2, one chases/1: that one lost an argument
        (["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", "-chases(squirrel).",
          "chases(dog, cat)."], [2]),
        # one each: no majority to go by
        (["chases(cat, rabbit).", "big(X) :- chases(X).", "big(cat)."], []),
        (["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", "big(cat)."], []),
    ],
)  # fmt: skip
def test_a_clause_whose_predicate_lost_an_argument_is_a_misfit(clauses, odd):
    assert theory.misfits(clauses) == odd


SELF = theory.split(
    "The cat chases the rabbit. If something chases the rabbit then it is big.\n"
    f"{PROOFWRITER_ASK} The squirrel does not chase the squirrel."
)


@pytest.mark.parametrize(
    "statement, filled, n",
    [
        # the sentence names the squirrel twice; chases takes two: the repeat is filled in
        ("-chases(squirrel).", "-chases(squirrel, squirrel).", 1),
        # named once in its sentence: left for the other checks
        ("-chases(dog).", "-chases(dog).", 0),
        # already two arguments, or a one-place predicate: as written
        ("-chases(squirrel, squirrel).", "-chases(squirrel, squirrel).", 0),
        ("-big(squirrel).", "-big(squirrel).", 0),
    ],
)
def test_a_thing_and_itself_keeps_both_arguments(statement, filled, n):
    clauses = ["chases(cat, rabbit).", "big(X) :- chases(X, rabbit).", statement]
    assert theory.fill_reflexives(SELF, clauses) == (clauses[:2] + [filled], n)


def test_a_fact_is_turned_round_only_when_both_genders_show_it_backwards():
    hints = 'said_gender("Jason", male).\nname_gender("Lisa", female).\n'
    program, turned = theory.turn_by_gender(f'rel("Lisa", daughter, "Jason").\n{hints}')
    assert program.startswith('rel("Jason", daughter, "Lisa").') and turned == [
        'rel("Lisa", daughter, "Jason").'
    ]
    for kept in [
        'rel("Jason", daughter, "Lisa").',  # already right
        'rel("Lisa", child, "Jason").',  # a relation with no gender
        'rel("Kim", daughter, "Jason").',  # Kim's gender unknown: either may be wrong
    ]:
        assert theory.turn_by_gender(kept + "\n" + hints) == (kept + "\n" + hints, [])
    # a pronoun's gender beats the census's: "Lee", said to be female, is no son
    told = 'rel("Jason", son, "Lee").\nname_gender("Lee", male).\nsaid_gender("Lee", female).\n'
    assert theory.turn_by_gender(told + hints)[1] == ['rel("Jason", son, "Lee").']
