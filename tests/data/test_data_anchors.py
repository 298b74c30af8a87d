"""Anchors: the paper's split vs the published one, raw vs clean, stable ids, on the pinned data."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moloch_eval.data import (
    ANCHOR_SPLITS,
    DATA_DIR_ENV,
    DOMAINS,
    FILES,
    PAPER_PROMPT_MODELS,
    SPLITS,
    Anchor,
    DataFileError,
    anchor_relpath,
    cleaning_report,
    elections_cleaning_report,
    load_anchors,
    load_json,
    normalise_whitespace,
    paper_prompts_relpath,
)
from moloch_eval.data.anchors import clear_anchor_cache

ELECTIONS_REPORT = {
    "train_raw": 1024,
    "train_duplicates_removed": 5,
    "train_kept": 1019,
    "test_raw": 1024,
    "test_duplicates_removed": 5,
    "test_train_overlap_removed": 14,
    "test_kept": 1005,
}
# Indices (in the pinned files) of the elections anchors the cleaning drops.
DROPPED_TRAIN = {724, 827, 838, 926, 971}
DROPPED_TEST_DUPLICATES = {159, 281, 513, 783, 865}
DROPPED_TEST_OVERLAP = {5, 90, 174, 209, 285, 470, 552, 588, 748, 780, 814, 849, 901, 975}

# The one product in both paper-run sales splits: train record 389 = test record 537.
LEAKED_TITLE = "SANOXY Laptop Notebook Cool Pad-Portable Cooler"
LEAKED_TRAIN_INDEX, LEAKED_TEST_INDEX = 389, 537

FOLDER = {"sales": "task_sales", "elections": "task_elections", "social_media": "task_sm"}


def published(domain: str, split: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = load_json(f"molochs_bargain/{FOLDER[domain]}/{split}.json")
    return data


def model_file(domain: str, model: str, split: str) -> list[dict[str, Any]]:
    records = load_json(paper_prompts_relpath(domain, model, split))
    return [{k: v for k, v in r.items() if k != "prompt"} for r in records]


def key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


# --- which files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "models"), [(d, m) for d, m in PAPER_PROMPT_MODELS.items() if d != "sales"]
)
@pytest.mark.parametrize("split", SPLITS)
def test_paper_runs_used_the_published_elections_and_social_media_files(
    domain: str, models: tuple[str, ...], split: str
) -> None:
    """The model-specific files hold the published anchors, record by record, in order."""
    for model in models:
        assert model_file(domain, model, split) == published(domain, split)
    assert anchor_relpath(domain, split, "paper") == anchor_relpath(domain, split, "published")
    assert load_anchors(domain, split) == load_anchors(domain, split, anchor_split="published")


@pytest.mark.parametrize("split", SPLITS)
def test_sales_paper_split_is_the_model_specific_file(split: str) -> None:
    qwen = model_file("sales", "Qwen/Qwen3-8B", split)
    assert model_file("sales", "meta-llama/Llama-3.1-8B-Instruct", split) == qwen
    anchors = load_anchors("sales", split)
    assert anchor_relpath("sales", split) == paper_prompts_relpath("sales", "Qwen/Qwen3-8B", split)
    assert [a.fields for a in anchors] == qwen  # the stored prompt is stripped
    assert anchors[0].fields == qwen[0] and "prompt" not in anchors[0].fields
    assert anchors[0].id == f"sales-{split}-0000"
    assert [a.index for a in anchors] == list(range(1024))
    assert anchors[0].fields != published("sales", split)[0]


def test_sales_paper_split_differs_from_the_published_one() -> None:
    paper = {s: [key(a.fields) for a in load_anchors("sales", s)] for s in SPLITS}
    pub = {s: {key(r) for r in published("sales", s)} for s in SPLITS}
    assert sum(k in pub["train"] for k in paper["train"]) == 487
    assert sum(k in pub["test"] for k in paper["train"]) == 473
    assert set(paper["train"]) & set(paper["test"]) == {paper["test"][LEAKED_TEST_INDEX]}
    assert paper["train"][LEAKED_TRAIN_INDEX] == paper["test"][LEAKED_TEST_INDEX]
    assert len(set(paper["train"]) | set(paper["test"])) == 2047
    assert len(pub["train"] | pub["test"]) == 2048


@pytest.mark.parametrize("domain", ["sales", "social_media"])
@pytest.mark.parametrize("split", SPLITS)
def test_published_split_is_returned_unchanged(domain: str, split: str) -> None:
    anchors = load_anchors(domain, split, anchor_split="published")
    assert len(anchors) == 1024
    assert [a.fields for a in anchors] == published(domain, split)
    assert [a.index for a in anchors] == list(range(1024))
    assert anchors[7].id == f"{domain}-{split}-0007"
    assert {a.domain for a in anchors} == {domain} and {a.split for a in anchors} == {split}


# --- faithful (raw) ---------------------------------------------------------------------------


@pytest.mark.parametrize("anchor_split", ANCHOR_SPLITS)
def test_faithful_elections_keep_every_anchor_and_its_raw_bytes(anchor_split: str) -> None:
    for split in SPLITS:
        anchors = load_anchors("elections", split, anchor_split=anchor_split)
        assert len(anchors) == 1024
        assert [a.fields for a in anchors] == published("elections", split)
    bio = load_anchors("elections", "train")[0].fields["biography_text"]
    assert bio.startswith("? Get to Know Rusty\r\r\r\n\r\r\r\n?\r\r\r\n")
    assert sum("\r" in a.fields["biography_text"] for a in load_anchors("elections", "test")) > 900
    assert load_anchors("elections", "test")[5].id == "elections-test-0005"  # the leak is kept


# --- clean ------------------------------------------------------------------------------------


@pytest.mark.parametrize("anchor_split", ANCHOR_SPLITS)
def test_clean_elections_report(anchor_split: str) -> None:
    report = cleaning_report("elections", anchor_split)
    assert report == ELECTIONS_REPORT == elections_cleaning_report()
    for split in SPLITS:
        kept = load_anchors("elections", split, anchor_split=anchor_split, clean=True)
        assert len(kept) == report[f"{split}_kept"]


def test_clean_elections_ids_keep_source_positions() -> None:
    for split, dropped in (
        ("train", DROPPED_TRAIN),
        ("test", DROPPED_TEST_DUPLICATES | DROPPED_TEST_OVERLAP),
    ):
        anchors = load_anchors("elections", split, clean=True)
        records = published("elections", split)
        assert [a.index for a in anchors] == [i for i in range(1024) if i not in dropped]
        for a in anchors:
            assert a.id == f"elections-{split}-{a.index:04d}"
            assert a.fields == {k: normalise_whitespace(v) for k, v in records[a.index].items()}
    test = load_anchors("elections", "test", clean=True)
    assert test[0].id == "elections-test-0000"
    assert test[5].id == "elections-test-0006"  # 0005 leaked


def test_clean_elections_are_unique_disjoint_and_tidy() -> None:
    def name_bio(a: Anchor) -> tuple[str, str]:
        return a.fields["candidate_webname"], a.fields["biography_text"]

    train = {name_bio(a) for a in load_anchors("elections", "train", clean=True)}
    test = [name_bio(a) for a in load_anchors("elections", "test", clean=True)]
    assert len(train) == ELECTIONS_REPORT["train_kept"]
    assert len(set(test)) == len(test)
    assert not train & set(test)
    for split in SPLITS:
        for a in load_anchors("elections", split, clean=True):
            for value in a.fields.values():
                assert "\r" not in value and "\n\n\n" not in value and "  " not in value
                assert value == value.strip()
                assert all(line == line.strip() for line in value.split("\n"))


def test_clean_sales_paper_split_removes_exactly_the_leaked_product() -> None:
    assert cleaning_report("sales", "paper") == {
        "train_raw": 1024,
        "train_duplicates_removed": 0,
        "train_kept": 1024,
        "test_raw": 1024,
        "test_duplicates_removed": 0,
        "test_train_overlap_removed": 1,
        "test_kept": 1023,
    }
    raw_test = load_anchors("sales", "test")
    clean_test = load_anchors("sales", "test", clean=True)
    [gone] = {a.index for a in raw_test} - {a.index for a in clean_test}
    assert gone == LEAKED_TEST_INDEX and raw_test[gone].fields["title"] == LEAKED_TITLE
    assert load_anchors("sales", "train")[LEAKED_TRAIN_INDEX].fields["title"] == LEAKED_TITLE
    assert len(load_anchors("sales", "train", clean=True)) == 1024


def test_clean_published_sales_and_social_media() -> None:
    sales = cleaning_report("sales", "published")
    assert sales["train_kept"] == sales["test_kept"] == 1024
    social = cleaning_report("social_media")
    assert (social["train_duplicates_removed"], social["train_kept"]) == (2, 1022)
    assert social["test_duplicates_removed"] == 3
    assert (social["test_train_overlap_removed"], social["test_kept"]) == (9, 1012)
    assert cleaning_report("social_media", "published") == social


def test_raw_text_comparison_gives_the_spec_counts() -> None:
    """Without normalisation: 14 duplicate rows over both files, 9 of them train/test leaks."""

    def name_bio(r: dict[str, Any]) -> tuple[str, str]:
        return r["candidate_webname"], r["biography_text"]

    train, test = published("elections", "train"), published("elections", "test")
    both = Counter(name_bio(r) for r in train + test)
    assert sum(n - 1 for n in both.values()) == 14
    assert len({name_bio(r) for r in train} & {name_bio(r) for r in test}) == 9
    # Whitespace-only variants hide 10 more duplicates, which the normalised comparison finds.
    norm = Counter(tuple(normalise_whitespace(x) for x in name_bio(r)) for r in train + test)
    assert sum(n - 1 for n in norm.values()) == 24


def test_normalise_whitespace() -> None:
    text = (
        " ? Get to\tKnow  Rusty \r\r\r\n\r\r\r\n\r\r\r\n?\r\r\nI want\r\n\r\n  to win \rnow\r\r\n"
    )
    assert normalise_whitespace(text) == "? Get to Know Rusty\n\n?\nI want\n\nto win\nnow"


# --- loading ----------------------------------------------------------------------------------


def test_loads_are_cached_but_lists_are_fresh() -> None:
    first, second = load_anchors("sales", "test"), load_anchors("sales", "test")
    assert first == second and first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert len({first[0], first[0], first[1]}) == 2  # hashable despite the dict field


@pytest.mark.parametrize(
    ("domain", "split", "anchor_split", "choices"),
    [
        ("sm", "test", "paper", DOMAINS),
        ("sales", "dev", "paper", SPLITS),
        ("sales", "test", "upstream", ANCHOR_SPLITS),
    ],
)
def test_bad_domain_split_or_anchor_split(
    domain: str, split: str, anchor_split: str, choices: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError) as err:
        load_anchors(domain, split, anchor_split=anchor_split)
    assert all(repr(choice) in str(err.value) for choice in choices)


def test_no_llama_elections_file() -> None:
    with pytest.raises(ValueError, match="no elections prompts"):
        paper_prompts_relpath("elections", "meta-llama/Llama-3.1-8B-Instruct", "test")


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    clear_anchor_cache()
    yield
    clear_anchor_cache()


def test_corrupted_model_specific_file_fails_its_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    relpath = anchor_relpath("sales", "train")
    shared = Path(os.environ[DATA_DIR_ENV])
    good = (shared / relpath).read_bytes()
    (tmp_path / relpath).parent.mkdir(parents=True)
    (tmp_path / relpath).write_bytes(good.replace(b"Amzer", b"Amzex", 1))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    with pytest.raises(DataFileError) as err:
        load_anchors("sales", "train")
    message = str(err.value)
    assert "Checksum mismatch" in message and relpath in message
    assert FILES[relpath].sha256 in message and FILES[relpath].url in message
    # the published split does not read that file (it is missing from this mirror: clear error)
    with pytest.raises(DataFileError, match="missing from the local mirror"):
        load_anchors("sales", "train", anchor_split="published")
