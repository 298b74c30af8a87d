"""Anchors: the products, candidates and news articles the competitors write about.

Sales and social-media anchors are returned as in the pinned files. Elections anchors are
cleaned: whitespace is normalised in every field, duplicate (name, biography) anchors are
dropped within a split (first kept), and test anchors that also appear in train are dropped.
An anchor keeps the index of its record in the pinned file, so ids survive the cleaning.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from moloch_eval.data.cache import load_json
from moloch_eval.data.sources import MOLOCHS_BARGAIN_ROOT

DOMAINS = ("sales", "elections", "social_media")
SPLITS = ("train", "test")

#: Upstream folder of each domain.
DOMAIN_FOLDERS = {"sales": "task_sales", "elections": "task_elections", "social_media": "task_sm"}

_ELECTIONS_KEY = ("candidate_webname", "biography_text")


@dataclass(frozen=True)
class Anchor:
    """One anchor record; treat `fields` as read-only (anchors are cached and shared)."""

    domain: str
    split: str
    index: int  # position of the record in the pinned source file
    fields: dict[str, Any] = field(hash=False)

    @property
    def id(self) -> str:
        """Stable id: domain-split-index (index in the pinned file, zero-padded)."""
        return f"{self.domain}-{self.split}-{self.index:04d}"


def anchor_relpath(domain: str, split: str) -> str:
    """Path of a domain split's file relative to the data root."""
    _check(domain, split)
    return f"{MOLOCHS_BARGAIN_ROOT}/{DOMAIN_FOLDERS[domain]}/{split}.json"


def _check(domain: str, split: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, not {domain!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


_NEWLINES = re.compile(r"\r+\n?")  # "\r\n", "\r\r\n", "\r\r\r\n", lone "\r" runs
_BLANKS = re.compile(r"[ \t\f\v]+")
_EDGE_SPACES = re.compile(r" *\n *")
_EXTRA_LINES = re.compile(r"\n{3,}")


def normalise_whitespace(text: str) -> str:
    """Unix newlines, single spaces, no spaces at line ends, at most one blank line, stripped."""
    text = _NEWLINES.sub("\n", text)
    text = _BLANKS.sub(" ", text)
    text = _EDGE_SPACES.sub("\n", text)
    text = _EXTRA_LINES.sub("\n\n", text)
    return text.strip()


def _normalise_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: normalise_whitespace(v) if isinstance(v, str) else v for k, v in record.items()}


def _raw_records(domain: str, split: str) -> list[dict[str, Any]]:
    data = load_json(anchor_relpath(domain, split))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{anchor_relpath(domain, split)} is not a JSON list of objects")
    return data


@dataclass(frozen=True)
class _Elections:
    train: tuple[Anchor, ...]
    test: tuple[Anchor, ...]
    report: dict[str, int] = field(hash=False)


def _dedupe(
    anchors: list[Anchor], exclude: set[tuple[Any, ...]]
) -> tuple[list[Anchor], int, int, set[tuple[Any, ...]]]:
    """Drop repeats of a key (first kept) and anchors whose key is in `exclude`."""
    seen: set[tuple[Any, ...]] = set()
    kept: list[Anchor] = []
    duplicates = excluded = 0
    for anchor in anchors:
        key = tuple(anchor.fields.get(name) for name in _ELECTIONS_KEY)
        if key in seen:
            duplicates += 1
        elif key in exclude:
            excluded += 1
            seen.add(key)
        else:
            seen.add(key)
            kept.append(anchor)
    return kept, duplicates, excluded, seen


@functools.lru_cache(maxsize=1)
def _elections() -> _Elections:
    raw = {
        split: [
            Anchor("elections", split, i, _normalise_record(r))
            for i, r in enumerate(_raw_records("elections", split))
        ]
        for split in SPLITS
    }
    train, train_dups, _, train_keys = _dedupe(raw["train"], set())
    test, test_dups, overlap, _ = _dedupe(raw["test"], train_keys)
    report = {
        "train_raw": len(raw["train"]),
        "train_duplicates_removed": train_dups,
        "train_kept": len(train),
        "test_raw": len(raw["test"]),
        "test_duplicates_removed": test_dups,
        "test_train_overlap_removed": overlap,
        "test_kept": len(test),
    }
    return _Elections(train=tuple(train), test=tuple(test), report=report)


@functools.cache
def _load(domain: str, split: str) -> tuple[Anchor, ...]:
    if domain == "elections":
        cleaned = _elections()
        return cleaned.train if split == "train" else cleaned.test
    return tuple(Anchor(domain, split, i, r) for i, r in enumerate(_raw_records(domain, split)))


def load_anchors(domain: str, split: str) -> list[Anchor]:
    """The anchors of a domain split in source order (elections cleaned, see module doc)."""
    _check(domain, split)
    return list(_load(domain, split))


def elections_cleaning_report() -> dict[str, int]:
    """Counts of the elections cleaning: raw, duplicates removed, train/test overlap, kept."""
    return dict(_elections().report)


def clear_anchor_cache() -> None:
    """Forget loaded anchors (e.g. after pointing the loader at other data)."""
    _load.cache_clear()
    _elections.cache_clear()
