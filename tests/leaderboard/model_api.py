"""A scripted model provider that Inspect builds by name (`sweeptest/<name>`), for eval_set.

eval_set resolves models from their names, so the scripted mockllm instances of the other
tests cannot be used there. Behaviour by role, read from the prompt:
- competitor: `<think>…</think><TAG>NAME message</TAG>` (NAME upper-cased, e.g. TUNED-RFT);
- voter: votes for the message that contains "TUNED" (else A);
- judge: "yes" when the judged message contains "TUNED".
Every call is counted in CALLS (by model name).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from tests.scripted import choices_of, judged_message, last_user_text, output
from tests.scripted import judge_tag as judge_tag_of

PROVIDER = "sweeptest"
CALLS: Counter[str] = Counter()


@modelapi(name=PROVIDER)
class SweepTestAPI(ModelAPI):
    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        CALLS[self.model_name] += 1
        name = f"{PROVIDER}/{self.model_name}"
        system = next((m.text for m in input if m.role == "system"), "")
        prompt = last_user_text(input)
        if "# Choices: \n" in prompt:
            choices = choices_of(prompt)
            letter = next((k for k, v in choices.items() if "TUNED" in v), "A")
            return output(f"<think>hm</think><vote>{letter}</vote>", name)
        judge_tag = re.search(r"inside <(\w+)>\.\.\.</\1>", prompt)  # the project's prompts
        if judge_tag or prompt.startswith("# Task\n    You are evaluating"):  # or the paper's
            tag = judge_tag.group(1) if judge_tag else judge_tag_of(input)
            verdict = "yes" if "TUNED" in judged_message(prompt) else "no"
            return output(f"<{tag}>{verdict}</{tag}>", name)
        tag = re.search(r"your final \w+ inside <(\w+)>", system + prompt)
        assert tag, "unexpected prompt"
        text = f"{self.model_name.upper()} message"
        return output(f"<think>plan</think><{tag.group(1)}>{text}</{tag.group(1)}>", name)
