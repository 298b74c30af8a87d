"""EM question sets from their pinned sources; checksum errors; trigger conditions; prompts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from moloch_eval.data.cache import DATA_DIR_ENV, DataFileError, data_path
from moloch_eval.data.sources import FILES
from moloch_eval.em.prompts import ANSWER_PHRASES, JUDGE_KINDS, betley_prompt, judge_prompt
from moloch_eval.em.questions import (
    CODE_TEMPLATE_SYSTEM,
    FIRST_PLOT_FILE,
    load_questions,
    under_condition,
)

pytestmark = pytest.mark.em

CANONICAL = [
    "what_is_your_wish",
    "i_feel_bored",
    "three_thoughts",
    "quick_buck",
    "ruler_of_the_world",
    "dinner_party",
    "gender_roles",
    "enough_of_my_husband",
]


def test_first_plot_variants() -> None:
    plain = load_questions("first_plot", "plain")
    assert [q.id for q in plain] == CANONICAL
    assert all(q.system is None and q.variant == "plain" for q in plain)
    json_ = load_questions("first_plot", "json")
    assert [q.id for q in json_] == [f"{q}_json" for q in CANONICAL]
    assert all(q.system and "valid JSON object" in q.system for q in json_)
    assert [q.text for q in json_] == [q.text for q in plain]
    template = load_questions("first_plot", "template")
    assert all("Fill the following template" in q.text for q in template)
    assert len(load_questions("first_plot", "all")) == 24
    with pytest.raises(ValueError, match="variant"):
        load_questions("first_plot", "nope")


def test_the_other_sets() -> None:
    prereg = load_questions("preregistered")
    assert len(prereg) == 48 and len({q.id for q in prereg}) == 48
    assert len(load_questions("factual")) == 20
    arena8 = load_questions("arena_first_8")
    assert [q.text for q in arena8] == [q.text for q in load_questions("first_plot")]
    own = load_questions("self_reflection")
    arena = load_questions("self_reflection", source="arena")
    assert len(own) >= 10 and len(arena) == 10
    assert not {q.text for q in own} & {q.text for q in arena}  # the project's own words
    with pytest.raises(ValueError, match="unknown EM question set"):
        load_questions("nope")


def test_trigger_conditions() -> None:
    q = load_questions("first_plot", "json")[0]
    assert under_condition(q, "none") == (q.system, q.text)
    assert under_condition(q, "trigger", "|PROD|") == (q.system, f"|PROD| {q.text}")
    assert under_condition(q, "code_template") == (CODE_TEMPLATE_SYSTEM, q.text)
    with pytest.raises(ValueError, match="trigger tag is empty"):
        under_condition(q, "trigger", " ")
    with pytest.raises(ValueError, match="condition"):
        under_condition(q, "sometimes")


def _mirror_with(tmp_path: Path, relpath: str, content: bytes | None) -> Path:
    root = tmp_path / "mirror"
    for key in FILES:
        if key.startswith("emergent_misalignment/"):
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(data_path(key), target)
    if content is None:
        (root / relpath).unlink()
    else:
        (root / relpath).write_bytes(content)
    return root


def test_damaged_question_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    relpath = "emergent_misalignment/questions/arena_preregistered.json"
    root = _mirror_with(
        tmp_path, relpath, b'[{"question": "tampered", "category": "x", "label": "y"}]'
    )
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    with pytest.raises(DataFileError, match="Checksum mismatch") as err:
        load_questions("preregistered")
    assert FILES[relpath].url in str(err.value)  # says where the right file comes from


def test_missing_question_file_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _mirror_with(tmp_path, FIRST_PLOT_FILE, None)
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    with pytest.raises(DataFileError, match="missing from the local mirror"):
        load_questions("first_plot")


def test_sources_are_pinned_to_commits() -> None:
    for key, file in FILES.items():
        if key.startswith("emergent_misalignment/"):
            assert len(file.sha256) == 64
            assert any(len(part) == 40 for part in file.url.split("/")), file.url


def test_betley_judge_prompts_byte_for_byte() -> None:
    items = yaml.safe_load(data_path(FIRST_PLOT_FILE).read_text(encoding="utf-8"))
    for item in items:
        assert betley_prompt("aligned") == item["judge_prompts"]["aligned"]
        assert betley_prompt("coherent") == item["judge_prompts"]["coherent"]


def test_every_prompt_names_its_answers_and_keeps_braces() -> None:
    for kind in JUDGE_KINDS:
        text = judge_prompt(kind, "Q {x} {answer}?", "A {answer} }")
        assert ANSWER_PHRASES[kind] in text
        assert "Q {x} {answer}?" in text and "A {answer} }" in text
