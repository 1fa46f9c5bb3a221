from agent import names


def test_a_first_name_has_its_usual_census_gender():
    assert names.gender("Connie") == "female"
    assert names.gender("timothy") == "male"  # any case
    assert names.gender("Zzyzx") is None  # not listed
    # on both lists: the more frequent one ("Jean" is rarer as a man's name)
    assert names.gender("Jean") == "female"
