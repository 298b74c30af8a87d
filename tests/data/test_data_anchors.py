"""Anchors: counts, stable ids, and the elections cleaning on the pinned data."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from moloch_eval.data import (
    DOMAINS,
    SPLITS,
    Anchor,
    elections_cleaning_report,
    load_anchors,
    load_json,
    normalise_whitespace,
)

EXPECTED_REPORT = {
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


def raw(domain: str, split: str) -> list[dict[str, Any]]:
    folder = {"sales": "task_sales", "elections": "task_elections", "social_media": "task_sm"}
    data: list[dict[str, Any]] = load_json(f"molochs_bargain/{folder[domain]}/{split}.json")
    return data


@pytest.mark.parametrize("domain", ["sales", "social_media"])
@pytest.mark.parametrize("split", SPLITS)
def test_sales_and_social_media_are_returned_unchanged(domain: str, split: str) -> None:
    anchors = load_anchors(domain, split)
    assert len(anchors) == 1024
    assert [a.fields for a in anchors] == raw(domain, split)
    assert [a.index for a in anchors] == list(range(1024))
    assert anchors[7].id == f"{domain}-{split}-0007"
    assert {a.domain for a in anchors} == {domain} and {a.split for a in anchors} == {split}


def test_elections_report() -> None:
    report = elections_cleaning_report()
    assert report == EXPECTED_REPORT
    assert len(load_anchors("elections", "train")) == report["train_kept"]
    assert len(load_anchors("elections", "test")) == report["test_kept"]


def test_elections_ids_keep_source_positions() -> None:
    for split, dropped in (
        ("train", DROPPED_TRAIN),
        ("test", DROPPED_TEST_DUPLICATES | DROPPED_TEST_OVERLAP),
    ):
        anchors = load_anchors("elections", split)
        records = raw("elections", split)
        assert [a.index for a in anchors] == [i for i in range(1024) if i not in dropped]
        for a in anchors:
            assert a.id == f"elections-{split}-{a.index:04d}"
            assert a.fields == {k: normalise_whitespace(v) for k, v in records[a.index].items()}
    assert load_anchors("elections", "test")[0].id == "elections-test-0000"
    assert load_anchors("elections", "test")[5].id == "elections-test-0006"  # 0005 leaked


def test_elections_are_unique_and_disjoint() -> None:
    def key(a: Anchor) -> tuple[str, str]:
        return a.fields["candidate_webname"], a.fields["biography_text"]

    train = {key(a) for a in load_anchors("elections", "train")}
    test = [key(a) for a in load_anchors("elections", "test")]
    assert len(train) == EXPECTED_REPORT["train_kept"]
    assert len(set(test)) == len(test)
    assert not train & set(test)


def test_raw_text_comparison_gives_the_spec_counts() -> None:
    """Without normalisation: 14 duplicate rows over both files, 9 of them train/test leaks."""

    def key(r: dict[str, Any]) -> tuple[str, str]:
        return r["candidate_webname"], r["biography_text"]

    train, test = raw("elections", "train"), raw("elections", "test")
    both = Counter(key(r) for r in train + test)
    assert sum(n - 1 for n in both.values()) == 14
    assert len({key(r) for r in train} & {key(r) for r in test}) == 9
    # Whitespace-only variants hide 10 more duplicates, which the normalised comparison finds.
    norm = Counter(tuple(normalise_whitespace(x) for x in key(r)) for r in train + test)
    assert sum(n - 1 for n in norm.values()) == 24


def test_elections_whitespace_is_clean() -> None:
    for split in SPLITS:
        for a in load_anchors("elections", split):
            for value in a.fields.values():
                assert "\r" not in value and "\n\n\n" not in value and "  " not in value
                assert value == value.strip()
                assert all(line == line.strip() for line in value.split("\n"))


def test_normalise_whitespace() -> None:
    text = (
        " ? Get to\tKnow  Rusty \r\r\r\n\r\r\r\n\r\r\r\n?\r\r\nI want\r\n\r\n  to win \rnow\r\r\n"
    )
    assert normalise_whitespace(text) == "? Get to Know Rusty\n\n?\nI want\n\nto win\nnow"


def test_loads_are_cached_but_lists_are_fresh() -> None:
    first, second = load_anchors("sales", "test"), load_anchors("sales", "test")
    assert first == second and first is not second
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert len({first[0], first[0], first[1]}) == 2  # hashable despite the dict field


@pytest.mark.parametrize(
    ("domain", "split", "choices"), [("sm", "test", DOMAINS), ("sales", "dev", SPLITS)]
)
def test_bad_domain_or_split(domain: str, split: str, choices: tuple[str, ...]) -> None:
    with pytest.raises(ValueError) as err:
        load_anchors(domain, split)
    assert all(repr(choice) in str(err.value) for choice in choices)
