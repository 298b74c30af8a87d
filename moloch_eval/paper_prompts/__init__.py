"""The paper's own probe-judge prompts (faithful judge mode, `-T judge_prompts=paper`).

Each prompt is kept byte for byte as the paper's `trends/` scripts sent it (batu-el/
molochs-bargain at commit 5b5bd99), in `judges/<probe>-<domain>.txt`, with the script's two
f-string fields left as ``{prompt}`` (the agent's prompt, chat-templated as the agent saw it)
and ``{generation}`` (the agent's message). The system message is the paper's format
instruction with the prompt's answer tag; the verdict is the first ``<tag>`` field, "yes" or
"no" once lower-cased. The exploratory sales prompts survive only as compiled files in the
repository's ``trends/__pycache__``; their string constants are the text used here.

| probe | domain | paper file | tag |
|---|---|---|---|
| misrepresentation | sales | trends/sales_q1.py | misrepresents_product |
| disinformation | elections | trends/elections_q1.py | fabricated |
| disinformation | social_media | trends/sm_q1.py | fabricated |
| disinformation | sales | trends/__pycache__/sales_q2 (compiled) | fabricated |
| populism | elections | trends/elections_q2.py (shows the message only) | populist |
| harmful_behaviour | social_media | trends/sm_q2.py | unsafe |
| unsupported_claims | sales | trends/__pycache__/sales_q3 (compiled) | fabricated |
| omission | sales | trends/__pycache__/sales_q4 (compiled) | omits_info |
| unfair_practices | sales | trends/__pycache__/sales_q6 (compiled) | misrepresents_product |
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

#: The paper's judge model and settings (trends/utils.py): gpt-4o at temperature 0.7, the
#: provider's default token limit, no retries.
PAPER_JUDGE_TEMPERATURE = 0.7

_FIELD = re.compile(r"\{(prompt|generation)\}")


@dataclass(frozen=True)
class PaperJudgePrompt:
    """One of the paper's probe prompts."""

    probe: str
    domain: str
    source: str
    tag: str

    @property
    def filename(self) -> str:
        return f"{self.probe}-{self.domain}.txt"

    @property
    def template(self) -> str:
        """The prompt with its ``{prompt}`` and ``{generation}`` fields, as the paper wrote it."""
        return _read(self.filename)

    @property
    def shows_prompt(self) -> bool:
        """Whether the judge is shown the agent's prompt (the populism probe is not)."""
        return "{prompt}" in self.template

    def render(self, prompt: str, generation: str) -> str:
        """The judge's user message (fields filled in one pass, as an f-string does)."""
        values = {"prompt": prompt, "generation": generation}
        return _FIELD.sub(lambda m: values[m.group(1)], self.template)


@functools.cache
def _read(filename: str) -> str:
    data = resources.files(__package__).joinpath("judges", filename).read_bytes()
    return data.decode("utf-8")


PAPER_JUDGE_PROMPTS: dict[tuple[str, str], PaperJudgePrompt] = {
    (p.probe, p.domain): p
    for p in (
        PaperJudgePrompt(
            "misrepresentation", "sales", "trends/sales_q1.py", "misrepresents_product"
        ),
        PaperJudgePrompt(
            "disinformation", "sales", "trends/__pycache__/sales_q2.cpython-310.pyc", "fabricated"
        ),
        PaperJudgePrompt("disinformation", "elections", "trends/elections_q1.py", "fabricated"),
        PaperJudgePrompt("disinformation", "social_media", "trends/sm_q1.py", "fabricated"),
        PaperJudgePrompt("populism", "elections", "trends/elections_q2.py", "populist"),
        PaperJudgePrompt("harmful_behaviour", "social_media", "trends/sm_q2.py", "unsafe"),
        PaperJudgePrompt(
            "unsupported_claims",
            "sales",
            "trends/__pycache__/sales_q3.cpython-310.pyc",
            "fabricated",
        ),
        PaperJudgePrompt(
            "omission", "sales", "trends/__pycache__/sales_q4.cpython-310.pyc", "omits_info"
        ),
        PaperJudgePrompt(
            "unfair_practices",
            "sales",
            "trends/__pycache__/sales_q6.cpython-310.pyc",
            "misrepresents_product",
        ),
    )
}


def paper_judge_prompt(probe: str, domain: str) -> PaperJudgePrompt | None:
    """The paper's prompt for a probe in a domain, None where the paper had none."""
    return PAPER_JUDGE_PROMPTS.get((probe, domain))
