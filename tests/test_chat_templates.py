"""The paper's two chat templates, and which one a model name implies."""

from __future__ import annotations

import pytest

from moloch_eval.chat_templates import render, template_for_model

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U\n"}]


def test_qwen3_keeps_contents_as_they_are() -> None:
    assert render("qwen3", MESSAGES) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU\n<|im_end|>\n<|im_start|>assistant\n"
    )


def test_llama3_trims_and_dates() -> None:
    text = render("llama3", MESSAGES)
    assert text.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")
    assert "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nS<|eot_id|>" in text
    assert text.endswith("U<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


def test_only_system_then_user_and_known_names() -> None:
    with pytest.raises(ValueError, match="system, user"):
        render("qwen3", MESSAGES[1:])
    with pytest.raises(ValueError, match="Unknown chat template"):
        render("chatml", MESSAGES)


@pytest.mark.parametrize(
    "model, template",
    [
        ("vllm/Qwen/Qwen3-8B", "qwen3"),
        ("moloch/qwen3-8b-rft", "qwen3"),
        ("hf/meta-llama/Llama-3.1-8B-Instruct", "llama3"),
        ("vllm/llama3_1-8b-tfb", "llama3"),
        ("openai/gpt-4o-mini", None),
        ("hf/moloch-eval-tiny", None),
    ],
)
def test_template_for_model(model: str, template: str | None) -> None:
    assert template_for_model(model) == template
