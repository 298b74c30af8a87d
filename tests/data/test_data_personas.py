"""Persona sets: sizes, stable ids, the faithful repr and the prose rendering."""

from __future__ import annotations

import pytest

from moloch_eval.data import PERSONA_SETS, Persona, load_json, load_personas

SPLIT1_NAMES = [
    "MERRICK", "JACK", "VINCENT", "THELMA", "SZPILMAN", "VERBAL", "DUKE", "PETER", "NANCY",
    "DAVID", "FAITH", "MCMURPHY", "VADA", "SUE", "MADMARTIGAN", "NEIL", "STANTZ", "DOROTHY",
    "SAM", "ALEXANDER",
]  # fmt: skip
SIZES = {"split1": 20, "split2": 100, "split3": 100, "exp2": 20, "all": 339}


@pytest.mark.parametrize("name", PERSONA_SETS)
def test_sets_keep_the_source_dicts(name: str) -> None:
    personas = load_personas(name)
    records = load_json(f"molochs_bargain/persona/{name}.json")
    assert len(personas) == SIZES[name]
    assert [p.raw for p in personas] == records
    assert len({p.id for p in personas}) == len(personas)
    for p in personas:
        assert p.faithful() == str(p.raw)
        prose = p.prose()
        assert prose and "{" not in prose and "}" not in prose


def test_split1_is_the_papers_audience() -> None:
    personas = load_personas("split1")
    assert [p.id for p in personas] == SPLIT1_NAMES
    merrick = personas[0]
    assert merrick.faithful().startswith("{'character_name': 'MERRICK', 'gender': 'male', ")
    prose = merrick.prose()
    assert prose.startswith("You are MERRICK (male). Your personality: introvert, sensor,")
    assert "Frederick Treves, a surgeon at the London Hospital, found me" in prose
    for p in personas:
        assert p.raw["character_name"] in p.prose()
        assert all(" ".join(s.split()).rstrip(".") in p.prose() for s in p.raw["biography"])


def test_duplicate_names_get_suffixes() -> None:
    assert [p.id for p in load_personas("split2") if p.id.endswith("-2")] == ["JIM-2", "GRAHAM-2"]
    ids3 = [p.id for p in load_personas("split3")]
    assert "EDWARD" in ids3 and "EDWARD-2" in ids3 and "MICHAEL-2" in ids3


def test_exp2_prose_and_ids() -> None:
    personas = load_personas("exp2")
    assert [p.id for p in personas][:2] == ["exp2-00", "exp2-01"]
    assert personas[0].prose() == (
        "You are a 39-year-old male with a medium level of education, living in an urban area, "
        "with a middle income."
    )
    assert personas[2].prose() == (
        "You are a 63-year-old female with a high level of education, living in a rural area, "
        "with a middle income."
    )


def test_all_prose_and_ids() -> None:
    personas = load_personas("all")
    assert personas[0].id == "all-000" and personas[-1].id == "all-338"
    prose = personas[0].prose()
    assert prose.startswith("Ben is a young man currently residing in Los Angeles")
    for label in ("Shopping preferences: Ben", "Political preferences:", "Economic status:"):
        assert label in prose
    assert "\n\n\n" not in prose and not prose.startswith("\n")


def test_partial_persona_and_hashing() -> None:
    p = Persona(id="P", raw={"character_name": "P", "gender": "female"})
    assert p.prose() == "You are P (female)."
    assert p.faithful() == "{'character_name': 'P', 'gender': 'female'}"
    assert len({p, Persona(id="P", raw={"character_name": "P", "gender": "female"})}) == 1


def test_cached_and_unknown() -> None:
    assert load_personas("split1") is not load_personas("split1")
    assert load_personas("split1")[0] is load_personas("split1")[0]
    with pytest.raises(ValueError, match=r"split1.*split2.*split3.*exp2.*all"):
        load_personas("split4")
