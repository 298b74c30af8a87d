"""The chat templates of the paper's two models, for prompts rendered as the paper rendered them.

The paper stored every agent prompt already chat-templated (`tokenizer.apply_chat_template`
with `add_generation_prompt=True` and, for Qwen3, `enable_thinking=True`), and its probe judges
were shown that templated string. These renderers reproduce the two official templates for the
only conversation the paper templated: one system message, one user message, then the
generation prompt. They are checked byte for byte against the paper's stored prompts
(`moloch-eval verify-prompts`); with hub access the real tokenizer can be used instead.

- ``qwen3`` (Qwen/Qwen3-8B): contents are kept as they are (a trailing newline survives).
- ``llama3`` (meta-llama/Llama-3.1-8B-Instruct): contents are trimmed, and the system header
  carries the template's default dates ("Cutting Knowledge Date: December 2023", "Today Date:
  26 Jul 2024").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TEMPLATES: tuple[str, ...] = ("qwen3", "llama3")

#: The template of each of the paper's models.
PAPER_MODEL_TEMPLATES: dict[str, str] = {
    "Qwen/Qwen3-8B": "qwen3",
    "meta-llama/Llama-3.1-8B-Instruct": "llama3",
}

LLAMA3_KNOWLEDGE_DATE = "December 2023"
LLAMA3_TODAY_DATE = "26 Jul 2024"


def _system_user(messages: Sequence[Mapping[str, str]]) -> tuple[str, str]:
    roles = [m.get("role") for m in messages]
    if roles != ["system", "user"]:
        raise ValueError(
            f"the paper's chat templates are reproduced for [system, user] only, not {roles}"
        )
    return str(messages[0]["content"]), str(messages[1]["content"])


def render_qwen3(messages: Sequence[Mapping[str, str]]) -> str:
    """Qwen3's template (thinking enabled) for a system and a user message."""
    system, user = _system_user(messages)
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def render_llama3(messages: Sequence[Mapping[str, str]]) -> str:
    """Llama 3.1 Instruct's template (no tools) for a system and a user message."""
    system, user = _system_user(messages)
    return (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"Cutting Knowledge Date: {LLAMA3_KNOWLEDGE_DATE}\nToday Date: {LLAMA3_TODAY_DATE}\n\n"
        f"{system.strip()}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{user.strip()}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


_RENDERERS = {"qwen3": render_qwen3, "llama3": render_llama3}


def render(template: str, messages: Sequence[Mapping[str, str]]) -> str:
    """Render [system, user] with a named template (one of `TEMPLATES`)."""
    try:
        renderer = _RENDERERS[template]
    except KeyError:
        raise ValueError(
            f"Unknown chat template {template!r}; choose one of {TEMPLATES}."
        ) from None
    return renderer(messages)


def template_for_model(model: str) -> str | None:
    """The template a model name implies (Qwen3 or Llama 3 families), None when unknown.

    Works on Inspect model strings and adapter names alike, e.g. ``vllm/Qwen/Qwen3-8B``,
    ``moloch/qwen3-8b-rft`` or ``hf/meta-llama/Llama-3.1-8B-Instruct``.
    """
    name = model.lower().replace("_", "-")
    if "qwen3" in name:
        return "qwen3"
    if "llama-3" in name or "llama3" in name:
        return "llama3"
    return None
