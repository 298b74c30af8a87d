"""Fixtures of the tiny-model tests: one real build per session, under a tmp path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from moloch_eval.local import tiny_model_path

    return tiny_model_path(tmp_path_factory.mktemp("tiny_cache"))


@pytest.fixture(scope="session")
def tokenizer(built: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(built))
