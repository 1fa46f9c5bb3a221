"""The generated kinship corpus (``synth:kinship``): how its sentences tell two links."""

import random

from training.kinship import Person, chain


def test_a_pronoun_tells_the_middle_person_only_when_its_gender_does():
    """ "[Maxine] called her son [Philip] and his sister [Diane]": "his" is Philip's, and
    Diane Philip's sister. With X and M of one gender the pronoun would read as X's
    ("[Michael] played golf with his father [Stanley] and his son [Jeremy]"), so the
    sentence is told from M instead, both facts M's."""
    rng = random.Random(0)
    x, m, y = Person("Maxine", "female"), Person("Philip", "male"), Person("Diane", "female")
    told = [chain(rng, x, "child", m, "sibling", y) for _ in range(40)]
    assert all(f == ['rel("Maxine", son, "Philip").', 'rel("Philip", sister, "Diane").']
               for _, f in told)  # fmt: skip
    assert any("her son [Philip] and his sister [Diane]" in t for t, _ in told)
    x = Person("Michael", "male")
    for text, facts in (chain(rng, x, "child", m, "sibling", y) for _ in range(40)):
        assert facts == ['rel("Philip", father, "Michael").', 'rel("Philip", sister, "Diane").']
        assert "[Philip]" in text and "[Michael]" in text and "[Diane]" in text


def test_a_proof_edge_is_worded_as_its_sentence_tells_it():
    from training.kinship import orient

    gender = {"Gabrielle": "female", "Russell": "male", "Asia": "female", "Donald": "male",
              "Jason": "male", "Christopher": "male"}  # fmt: skip
    # the proof runs Russell -> grandmother -> Gabrielle; the sentence says "grandson"
    unit = "[Gabrielle] received a wonderful letter from her grandson [Russell]."
    assert orient('rel("Russell", grandmother, "Gabrielle").', unit, gender) == (
        'rel("Gabrielle", grandson, "Russell").'
    )
    # told as the proof runs: kept
    unit = "[Russell]'s sister, [Asia], was too lazy to send one though."
    assert (
        orient('rel("Russell", sister, "Asia").', unit, gender) == 'rel("Russell", sister, "Asia").'
    )
    assert (
        orient('rel("Asia", brother, "Russell").', unit, gender)
        == 'rel("Russell", sister, "Asia").'
    )
    # an everyday word counts as its relation ("dad" is a father)
    unit = "[Russell] likes to dance with his dad [Jason] as well."
    assert (
        orient('rel("Jason", son, "Russell").', unit, gender) == 'rel("Russell", father, "Jason").'
    )
    # the same word both ways (two brothers): the person named first comes first
    unit = "[Russell] and his brother [Donald] played a round of golf."
    assert orient('rel("Donald", brother, "Russell").', unit, gender) == (
        'rel("Russell", brother, "Donald").'
    )
    # neither word: the possessor comes first; an unknown relation is left as it is
    unit = "[Jason] went on a roadtrip with his youngest, [Christopher]. [Jason]'s car broke."
    assert orient('rel("Christopher", father, "Jason").', unit, gender) == (
        'rel("Jason", son, "Christopher").'
    )
    assert (
        orient('rel("Jason", godfather, "Asia").', unit, gender)
        == 'rel("Jason", godfather, "Asia").'
    )
