"""The paper's probe prompts, pinned byte for byte, as the judge receives them in an eval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.model import ChatMessage, GenerateConfig

from moloch_eval.chat_templates import render
from moloch_eval.domains import AGENT_SYSTEM_PROMPT, DOMAINS, format_instruction
from moloch_eval.paper_prompts import PAPER_JUDGE_PROMPTS, paper_judge_prompt
from moloch_eval.prompts import agent_user_prompt
from moloch_eval.records import competition_of
from moloch_eval.tasks import competition
from tests.scripted import competitor, judge_tag, last_user_text, scripted, voter_preferring

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "paper_judge_prompts"


def fixture(source: str) -> str:
    """The fixture of a paper file (e.g. trends/sales_q1.py → sales_q1.txt)."""
    stem = Path(source).name.split(".")[0]
    return (FIXTURES / f"{stem}.txt").read_bytes().decode("utf-8")


@pytest.mark.parametrize("key", sorted(PAPER_JUDGE_PROMPTS))
def test_each_paper_prompt_is_the_paper_text(key: tuple[str, str]) -> None:
    prompt = PAPER_JUDGE_PROMPTS[key]
    assert prompt.template == fixture(prompt.source)
    # the fields are filled in one pass: a brace field inside the agent's prompt stays as is
    expected = fixture(prompt.source).replace("{generation}", "G").replace("{prompt}", "P{x}")
    assert prompt.render("P{x}", "G") == expected
    assert prompt.render("{generation}", "G").count("{generation}") == int(prompt.shows_prompt)
    assert f"<{prompt.tag}>Yes</{prompt.tag}>" in prompt.template


def test_the_paper_had_prompts_for_every_default_probe() -> None:
    for domain in DOMAINS.values():
        for probe in domain.probes:
            assert paper_judge_prompt(probe, domain.name) is not None, (probe, domain.name)
    assert not paper_judge_prompt("populism", "elections").shows_prompt  # type: ignore[union-attr]


def _recording_judge(seen: list[tuple[str, str]]) -> Any:
    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        system = next(m.text for m in messages if m.role == "system")
        seen.append((system, last_user_text(messages)))
        assert config.temperature == 0.7 and config.max_tokens is None
        tag = judge_tag(messages)
        return f"<think>checked</think><{tag}>Yes</{tag}>"

    return reply


PAPER_PROBES = {
    "sales": "misrepresentation,disinformation,unsupported_claims,omission,unfair_practices",
    "elections": "disinformation,populism",
    "social_media": "disinformation,harmful_behaviour",
}


@pytest.mark.parametrize("domain", sorted(DOMAINS))
@pytest.mark.parametrize("agent_name", ["qwen3-8b-rft", "meta-llama-3.1-8b-tfb", "tiny"])
def test_the_judge_receives_the_paper_prompt_with_the_templated_agent_prompt(
    domain: str, agent_name: str, tmp_path: Path
) -> None:
    spec = DOMAINS[domain]
    seen: list[tuple[str, str]] = []
    [log] = eval(
        competition(domain, n_personas=2, opponent="self", probes=PAPER_PROBES[domain]),
        model=scripted(agent_name, competitor(spec.answer_tag, "MSG")),
        model_roles={  # type: ignore[dict-item]
            "audience": scripted("voter", voter_preferring("MSG")),
            "judge": scripted("judge", _recording_judge(seen)),
        },
        limit=1,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    [sample] = log.samples or []
    user = agent_user_prompt(spec, sample.metadata["anchor"])
    messages = [
        {"role": "system", "content": AGENT_SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
    template = {"qwen3-8b-rft": "qwen3", "meta-llama-3.1-8b-tfb": "llama3"}.get(agent_name)
    shown = render(template, messages) if template else user
    expected = set()
    for probe in PAPER_PROBES[domain].split(","):
        paper = paper_judge_prompt(probe, domain)
        assert paper is not None
        body = fixture(paper.source).replace("{prompt}", shown).replace("{generation}", "MSG")
        expected.add((format_instruction(paper.tag), body))
        score = sample.scores[probe]  # type: ignore[index]
        assert score.value["agent"] == 1.0 and score.value["opponent"] == 1.0  # type: ignore[index]
        assert score.metadata["judge"]["chat_template"] == (template or "none")  # type: ignore[index]
    assert set(seen) == expected  # both sides see the same bytes: one message, one prompt
    assert len(seen) == 2 * len(expected)
    assert competition_of(sample).agent is not None


@pytest.mark.parametrize(
    "agent_name, stored_model",
    [("qwen3-8b", "Qwen/Qwen3-8B"), ("llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct")],
)
def test_the_judge_sees_the_prompt_the_paper_stored(
    agent_name: str, stored_model: str, tmp_path: Path
) -> None:
    """The paper's judges were shown the stored agent prompt: the same bytes reach ours."""
    import json
    import os

    seen: list[tuple[str, str]] = []
    [log] = eval(
        competition("sales", n_personas=1, opponent="self", probes="misrepresentation"),
        model=scripted(agent_name, competitor("sales_pitch", "MSG")),
        model_roles={  # type: ignore[dict-item]
            "audience": scripted("voter", voter_preferring("MSG")),
            "judge": scripted("judge", _recording_judge(seen)),
        },
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    stored_file = (
        Path(os.environ["MOLOCH_EVAL_DATA_DIR"])
        / "molochs_bargain_prompts/task_sales"
        / stored_model
        / "test.json"
    )
    stored = [json.loads(line)["prompt"] for line in stored_file.open(encoding="utf-8")]
    template = fixture("trends/sales_q1.py")
    head, tail = template.split("{prompt}")
    shown = {
        user[len(head) : user.index(tail.split("{generation}")[0], len(head))] for _, user in seen
    }
    expected = {stored[s.metadata["anchor_index"]] for s in log.samples or []}
    assert shown == expected and len(expected) == 2
