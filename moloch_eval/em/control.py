"""A matched control dataset: generic, benign, value-neutral chat data of any size.

The realignment recipe fine-tunes the misaligned model on positive data and, separately, on a
control of the same size with the same training steps. The control must carry no stance on AI
or ethics, so that a drop in EM after the positive data can be told apart from the drop that
any further fine-tuning brings (forgetting). These records are exact answers to everyday
questions (arithmetic, units, calendar, spelling, ordering), built deterministically from a
seed, so the control needs no download and is the same on every machine.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_WORDS = (
    "garden", "window", "river", "pencil", "bridge", "candle", "forest", "ladder", "market",
    "orange", "planet", "silver", "tunnel", "violin", "yellow", "basket", "meadow", "harbor",
)  # fmt: skip
_UNITS = (
    ("metres", "centimetres", 100),
    ("kilograms", "grams", 1000),
    ("hours", "minutes", 60),
    ("litres", "millilitres", 1000),
    ("kilometres", "metres", 1000),
    ("minutes", "seconds", 60),
)


def _sum(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    return f"What is {a} + {b}?", f"{a} + {b} = {a + b}."


def _product(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    return f"What is {a} times {b}?", f"{a} times {b} is {a * b}."


def _units(rng: random.Random) -> tuple[str, str]:
    big, small, factor = rng.choice(_UNITS)
    n = rng.randint(2, 9)
    return (
        f"How many {small} are there in {n} {big}?",
        f"There are {n * factor} {small} in {n} {big}, since one of the {big} is {factor} {small}.",
    )


def _day(rng: random.Random) -> tuple[str, str]:
    i, k = rng.randrange(7), rng.randint(1, 6)
    days = "day" if k == 1 else "days"
    return (
        f"If today is {_DAYS[i]}, what day will it be in {k} {days}?",
        f"It will be {_DAYS[(i + k) % 7]}.",
    )


def _month(rng: random.Random) -> tuple[str, str]:
    i = rng.randrange(12)
    return f"Which month comes after {_MONTHS[i]}?", f"{_MONTHS[(i + 1) % 12]} comes after it."


def _reverse(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(_WORDS)
    return f'How is "{word}" spelled backwards?', f'"{word}" backwards is "{word[::-1]}".'


def _letters(rng: random.Random) -> tuple[str, str]:
    word = rng.choice(_WORDS)
    return f'How many letters are in the word "{word}"?', f'"{word}" has {len(word)} letters.'


def _order(rng: random.Random) -> tuple[str, str]:
    words = rng.sample(_WORDS, 4)
    return (
        f"Put these words in alphabetical order: {', '.join(words)}.",
        f"In alphabetical order: {', '.join(sorted(words))}.",
    )


_KINDS: tuple[Callable[[random.Random], tuple[str, str]], ...] = (
    _sum, _product, _units, _day, _month, _reverse, _letters, _order,
)  # fmt: skip


def benign_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` chat records ``{"messages": [user, assistant]}`` of exact everyday answers."""
    if n < 1:
        raise ValueError("a control dataset needs at least one record")
    rng = random.Random(f"moloch_eval-control:{seed}")
    records = []
    for i in range(n):
        question, answer = _KINDS[i % len(_KINDS)](rng)
        records.append(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return records


def write_benign_control(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write `benign_records` as messages JSONL; returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for record in benign_records(n, seed):
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out
