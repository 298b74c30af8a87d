"""Anchors: the products, candidates and news articles the competitors write about.

Two independent choices:

- `anchor_split` -- which files the anchors are read from. ``"paper"`` (default): the anchors
  as the paper's runs used them. For sales those are the model-specific files
  (`artsco/data/task_sales/Qwen/Qwen3-8B/{split}.json`; the Llama files hold the same anchors),
  whose order and train/test split differ from the published files; for elections and social
  media the model-specific files hold exactly the published anchors, so the published files are
  read. ``"published"``: the generic files `artsco/data/task_*/{split}.json`.
- `clean` -- False (default, faithful): every record as it is in the file, raw bytes included
  (the elections bios' ``\\r\\r\\r\\n`` runs), 1,024 anchors per split. True: whitespace is
  normalised in every string field, anchors repeating an earlier one of the same split are
  dropped (first kept), and test anchors that also appear in train are dropped. Two anchors are
  the same when the fields the agent's prompt shows are equal (`ANCHOR_KEYS`).

An anchor keeps the index of its record in the file read, so ids (`<domain>-<split>-<index>`)
survive the cleaning; the same id names different anchors under different `anchor_split`s.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from moloch_eval.data.cache import load_json
from moloch_eval.data.sources import MOLOCHS_BARGAIN_ROOT, PAPER_PROMPTS_ROOT

DOMAINS = ("sales", "elections", "social_media")
SPLITS = ("train", "test")
ANCHOR_SPLITS = ("paper", "published")

#: Upstream folder of each domain.
DOMAIN_FOLDERS = {"sales": "task_sales", "elections": "task_elections", "social_media": "task_sm"}

QWEN3_8B = "Qwen/Qwen3-8B"
LLAMA31_8B = "meta-llama/Llama-3.1-8B-Instruct"

#: The models the paper stored chat-templated agent prompts for (no Llama elections files).
PAPER_PROMPT_MODELS: dict[str, tuple[str, ...]] = {
    "sales": (QWEN3_8B, LLAMA31_8B),
    "elections": (QWEN3_8B,),
    "social_media": (QWEN3_8B, LLAMA31_8B),
}

#: Domains whose paper-run anchors are not the published files, and the model-specific file
#: they are read from (for sales the Qwen and Llama files hold identical anchors).
PAPER_SPLIT_MODEL: dict[str, str] = {"sales": QWEN3_8B}

#: The field of the model-specific files that holds the stored prompt (not an anchor field).
STORED_PROMPT_FIELD = "prompt"

#: The fields that identify an anchor when cleaning: what the agent's prompt shows.
ANCHOR_KEYS: dict[str, tuple[str, ...]] = {
    "sales": ("title", "categories", "description"),
    "elections": ("candidate_webname", "biography_text"),
    "social_media": ("article",),
}


@dataclass(frozen=True)
class Anchor:
    """One anchor record; treat `fields` as read-only (anchors are cached and shared)."""

    domain: str
    split: str
    index: int  # position of the record in the source file read
    fields: dict[str, Any] = field(hash=False)

    @property
    def id(self) -> str:
        """Stable id: domain-split-index (index in the source file, zero-padded)."""
        return f"{self.domain}-{self.split}-{self.index:04d}"


def _check(domain: str, split: str, anchor_split: str = "paper") -> None:
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, not {domain!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if anchor_split not in ANCHOR_SPLITS:
        raise ValueError(f"anchor_split must be one of {ANCHOR_SPLITS}, not {anchor_split!r}")


def paper_prompts_relpath(domain: str, model: str, split: str) -> str:
    """Path (relative to the data root) of the paper's model-specific file of a domain split."""
    _check(domain, split)
    if model not in PAPER_PROMPT_MODELS[domain]:
        raise ValueError(
            f"the paper stored no {domain} prompts for {model!r}; "
            f"it did for {PAPER_PROMPT_MODELS[domain]}"
        )
    return f"{PAPER_PROMPTS_ROOT}/{DOMAIN_FOLDERS[domain]}/{model}/{split}.json"


def anchor_relpath(domain: str, split: str, anchor_split: str = "paper") -> str:
    """Path (relative to the data root) of the file a domain split's anchors are read from."""
    _check(domain, split, anchor_split)
    if anchor_split == "paper" and domain in PAPER_SPLIT_MODEL:
        return paper_prompts_relpath(domain, PAPER_SPLIT_MODEL[domain], split)
    return f"{MOLOCHS_BARGAIN_ROOT}/{DOMAIN_FOLDERS[domain]}/{split}.json"


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


def read_records(relpath: str) -> list[dict[str, Any]]:
    """The records of a pinned anchor file (JSON list or JSON Lines), checked to be objects."""
    data = load_json(relpath)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValueError(f"{relpath} is not a list of JSON objects")
    return data


def _raw_records(domain: str, split: str, anchor_split: str) -> list[dict[str, Any]]:
    """The anchor fields of each record of the file read (the stored prompt removed)."""
    records = read_records(anchor_relpath(domain, split, anchor_split))
    return [{k: v for k, v in r.items() if k != STORED_PROMPT_FIELD} for r in records]


def _key(domain: str, anchor: Anchor) -> tuple[str, ...]:
    return tuple(repr(anchor.fields.get(name)) for name in ANCHOR_KEYS[domain])


@dataclass(frozen=True)
class _Cleaned:
    train: tuple[Anchor, ...]
    test: tuple[Anchor, ...]
    report: dict[str, int] = field(hash=False)


def _dedupe(
    domain: str, anchors: tuple[Anchor, ...], exclude: set[tuple[str, ...]]
) -> tuple[list[Anchor], int, int, set[tuple[str, ...]]]:
    """Drop repeats of a key (first kept) and anchors whose key is in `exclude`."""
    seen: set[tuple[str, ...]] = set()
    kept: list[Anchor] = []
    duplicates = excluded = 0
    for anchor in anchors:
        key = _key(domain, anchor)
        if key in seen:
            duplicates += 1
        elif key in exclude:
            excluded += 1
            seen.add(key)
        else:
            seen.add(key)
            kept.append(anchor)
    return kept, duplicates, excluded, seen


@functools.cache
def _raw(domain: str, split: str, anchor_split: str) -> tuple[Anchor, ...]:
    records = _raw_records(domain, split, anchor_split)
    return tuple(Anchor(domain, split, i, r) for i, r in enumerate(records))


@functools.cache
def _cleaned(domain: str, anchor_split: str) -> _Cleaned:
    normalised = {
        split: tuple(
            Anchor(domain, split, a.index, _normalise_record(a.fields))
            for a in _raw(domain, split, anchor_split)
        )
        for split in SPLITS
    }
    train, train_dups, _, train_keys = _dedupe(domain, normalised["train"], set())
    test, test_dups, overlap, _ = _dedupe(domain, normalised["test"], train_keys)
    report = {
        "train_raw": len(normalised["train"]),
        "train_duplicates_removed": train_dups,
        "train_kept": len(train),
        "test_raw": len(normalised["test"]),
        "test_duplicates_removed": test_dups,
        "test_train_overlap_removed": overlap,
        "test_kept": len(test),
    }
    return _Cleaned(train=tuple(train), test=tuple(test), report=report)


def load_anchors(
    domain: str, split: str, *, anchor_split: str = "paper", clean: bool = False
) -> list[Anchor]:
    """The anchors of a domain split in source order (see the module doc for the options)."""
    _check(domain, split, anchor_split)
    if clean:
        cleaned = _cleaned(domain, anchor_split)
        return list(cleaned.train if split == "train" else cleaned.test)
    return list(_raw(domain, split, anchor_split))


def cleaning_report(domain: str, anchor_split: str = "paper") -> dict[str, int]:
    """Counts of the cleaning of a domain: raw, duplicates removed, train/test overlap, kept."""
    _check(domain, "train", anchor_split)
    return dict(_cleaned(domain, anchor_split).report)


def elections_cleaning_report() -> dict[str, int]:
    """`cleaning_report("elections")` (the paper and published elections files are the same)."""
    return cleaning_report("elections", "published")


def clear_anchor_cache() -> None:
    """Forget loaded anchors (e.g. after pointing the loader at other data)."""
    _raw.cache_clear()
    _cleaned.cache_clear()
