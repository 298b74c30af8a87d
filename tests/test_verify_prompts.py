"""`moloch-eval verify-prompts`: every faithful agent prompt equals the paper's stored one."""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from moloch_eval import cli
from moloch_eval.chat_templates import render
from moloch_eval.verify_prompts import (
    first_difference,
    report,
    stored_prompt_files,
    verify_prompts,
)

EXPECTED_FILES = [
    ("sales", "Qwen/Qwen3-8B", "train"),
    ("sales", "Qwen/Qwen3-8B", "test"),
    ("sales", "meta-llama/Llama-3.1-8B-Instruct", "train"),
    ("sales", "meta-llama/Llama-3.1-8B-Instruct", "test"),
    ("elections", "Qwen/Qwen3-8B", "train"),
    ("elections", "Qwen/Qwen3-8B", "test"),
    ("social_media", "Qwen/Qwen3-8B", "train"),
    ("social_media", "Qwen/Qwen3-8B", "test"),
    ("social_media", "meta-llama/Llama-3.1-8B-Instruct", "train"),
    ("social_media", "meta-llama/Llama-3.1-8B-Instruct", "test"),
]


def test_every_stored_prompt_is_rebuilt_byte_for_byte() -> None:
    results = verify_prompts()
    assert [(r.domain, r.model, r.split) for r in results] == EXPECTED_FILES
    assert all(r.ok and r.matched == r.total == 1024 for r in results), report(results)
    text = report(results)
    assert "total 10240/10240" in text and "MISMATCH" not in text


def test_a_mismatch_is_reported_with_its_first_difference() -> None:
    def strip_cr(model: str) -> Any:
        def renderer(messages: Sequence[Mapping[str, str]]) -> str:
            user = {"role": "user", "content": messages[1]["content"].replace("\r", "")}
            return render("qwen3", [messages[0], user])

        return renderer

    [train, test] = verify_prompts(domains=["elections"], renderer_for=strip_cr)
    assert not train.ok and train.matched < train.total == 1024
    mismatch = train.first_mismatch
    assert mismatch and mismatch.index == 0 and mismatch.sample_id == "elections-train-0000"
    assert mismatch.what == "prompt" and mismatch.position is not None
    assert "\\r" in mismatch.stored and "\\r" not in mismatch.rebuilt
    text = report([train, test])
    assert "MISMATCH" in text and f"at character {mismatch.position}" in text
    assert "task_elections/Qwen/Qwen3-8B/train.json" in text


def test_first_difference() -> None:
    assert first_difference("abc", "abd") == 2
    assert first_difference("ab", "abc") == 2
    assert first_difference("", "x") == 0


def test_the_command_is_registered_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert "moloch_eval.verify_prompts" in cli.COMMAND_MODULES
    assert cli.main(["verify-prompts", "--domain", "social_media"]) == 0
    out = capsys.readouterr().out
    assert "social_media  Qwen/Qwen3-8B" in out and "total 4096/4096" in out


def test_the_command_exits_one_on_a_mismatch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import moloch_eval.verify_prompts as vp

    monkeypatch.setattr(vp, "builtin_renderer", lambda model: lambda messages: "nope")
    assert cli.main(["verify-prompts", "--domain", "sales"]) == 1
    out = capsys.readouterr().out
    assert "total 0/4096" in out and "first mismatch" in out


class FakeTokenizer:
    """Stands in for a hub tokenizer: checks the paper's call, renders with the built-ins."""

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, model: str) -> None:
        self.template = {"Qwen/Qwen3-8B": "qwen3"}.get(model, "llama3")

    @classmethod
    def from_pretrained(cls, model: str, **kwargs: Any) -> FakeTokenizer:
        assert kwargs.get("trust_remote_code") is False  # never remote code
        return cls(model)

    def apply_chat_template(self, messages: list[dict[str, str]], **kwargs: Any) -> str:
        self.calls.append(kwargs)
        return render(self.template, messages)


def test_tokenizer_option_calls_apply_chat_template_as_the_paper(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = types.ModuleType("transformers")
    fake.AutoTokenizer = FakeTokenizer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers", fake)
    FakeTokenizer.calls.clear()
    assert cli.main(["verify-prompts", "--tokenizer", "--domain", "elections"]) == 0
    assert "total 2048/2048" in capsys.readouterr().out
    assert FakeTokenizer.calls[0] == {
        "tokenize": False,
        "add_generation_prompt": True,
        "enable_thinking": True,
    }


def test_tokenizer_that_cannot_load_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Offline:
        @classmethod
        def from_pretrained(cls, model: str, **kwargs: Any) -> Any:
            raise OSError("no hub.")

    fake = types.ModuleType("transformers")
    fake.AutoTokenizer = Offline  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "transformers", fake)
    assert cli.main(["verify-prompts", "--tokenizer"]) == 2
    out = capsys.readouterr().out
    assert "could not load the tokenizer of Qwen/Qwen3-8B: no hub." in out
    assert "built-in renderers" in out


def test_stored_prompt_files() -> None:
    assert stored_prompt_files() == EXPECTED_FILES
    assert stored_prompt_files(["elections"]) == EXPECTED_FILES[4:6]
