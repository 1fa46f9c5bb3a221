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
