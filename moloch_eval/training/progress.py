"""Progress bars for long work (tqdm, looked up at run time: no stubs are needed to type it)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], **options: Any) -> Iterable[T]:
    """`items` wrapped in a tqdm progress bar (tqdm options: desc, unit, disable, leave...)."""
    tqdm = importlib.import_module("tqdm.auto").tqdm
    bar: Iterable[T] = tqdm(items, **options)
    return bar
