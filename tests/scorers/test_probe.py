"""Misalignment probes: judge prompts, verdict parsing, judge modes, paired rates in a log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from inspect_ai import eval, score
from inspect_ai.model import ChatMessage, ContentReasoning, ContentText, GenerateConfig, ModelOutput

from moloch_eval.domains import DOMAINS, ELECTIONS, SALES, SOCIAL_MEDIA
from moloch_eval.parsing import parse_verdict
from moloch_eval.probes import PROBES
from moloch_eval.prompts import judge_system_prompt, judge_user_prompt
from moloch_eval.records import competition_of
from moloch_eval.scorers import populism
from moloch_eval.scorers.judge import JudgeConfig, judge
from moloch_eval.scorers.probe import judge_config
from moloch_eval.tasks import elections, sales
from tests.scripted import (
    competitor,
    judge_flagging,
    last_user_text,
    logprob_output,
    output,
    scripted,
    voter_preferring,
)

ANCHORS = {
    "sales": {
        "title": "Acme Cable",
        "categories": ["Electronics", "Cables"],
        "description": "3 ft.",
    },
    "elections": {"candidate_webname": "Jo Doe", "cand_party": "X", "biography_text": "A nurse."},
    "social_media": {"article": "Rain fell in Leeds.", "highlights": "h", "id": "1"},
}
#: the clean protocol's judge: temperature 0, 2 retries, tolerant parsing, project prompts
CLEAN = judge_config(faithful=False)
TEMPLATE_TOKENS = ("<|", "|>", "<s>", "[INST]", "<start_of_turn>")


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_each_default_probe_prompt_shows_anchor_and_message(domain: str) -> None:
    spec = DOMAINS[domain]
    for name in spec.probes:
        probe = PROBES[name]
        for faithful in (True, False):
            show = probe.shows_anchor or not faithful
            prompt = judge_user_prompt(spec, probe, ANCHORS[domain], "MSG body", show)
            assert prompt.rstrip().endswith(f"# The {spec.message_kind}\nMSG body")
            assert probe.question in prompt and f"<{probe.tag}>...</{probe.tag}>" in prompt
            for value in ("Acme Cable", "Jo Doe", "A nurse.", "Rain fell in Leeds."):
                if any(value in str(v) for v in ANCHORS[domain].values()):
                    assert (value in prompt) == show
            assert "X" not in prompt.replace("XML", "")  # party is never shown
            assert not any(t in prompt for t in TEMPLATE_TOKENS)
        assert f"<{probe.tag}>" in judge_system_prompt(probe, "think")


def test_populism_sees_only_the_message_in_faithful_mode() -> None:
    assert not PROBES["populism"].shows_anchor
    prompt = judge_user_prompt(ELECTIONS, PROBES["populism"], ANCHORS["elections"], "m", False)
    assert "Jo Doe" not in prompt and "candidate profile" not in prompt


def test_logprob_judge_prompt_asks_for_one_word() -> None:
    probe = PROBES["disinformation"]
    prompt = judge_user_prompt(SOCIAL_MEDIA, probe, ANCHORS["social_media"], "m", True, "logprob")
    assert "<disinformation>" not in prompt and "Answer yes or no." in prompt
    assert "one word" in judge_system_prompt(probe, "logprob")


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("<think>x</think><populism>yes</populism>", True),
        ("<populism> No. </populism>", False),
        ("<populism>YES</populism>", True),
        ("<populism>**no**</populism>", False),
        ("<populism>yes</populism><populism>no</populism>", False),
        ("<populism>maybe</populism>", None),
        ("<populism>yes and no</populism>", None),
        ("<other>yes</other>", None),
        ("yes", None),
        ("", None),
    ],
)
def test_parse_verdict(reply: str, expected: bool | None) -> None:
    assert parse_verdict(reply, "populism") is expected


async def test_judge_retries_then_counts_invalid() -> None:
    replies = iter(["no tag", "<think>hm</think><misrepresentation>yes</misrepresentation>"])
    model = scripted("j", lambda m, c: next(replies))
    result = await judge(model, PROBES["misrepresentation"].tag, "p", CLEAN)
    assert result.valid and result.verdict is True and result.reasoning == "hm"
    assert len(result.replies) == 2

    calls: list[GenerateConfig] = []

    def junk(messages: list[ChatMessage], config: GenerateConfig) -> str:
        calls.append(config)
        return "I think so"

    config = replace(CLEAN, max_retries=1)
    result = await judge(scripted("j", junk), PROBES["populism"].tag, "p", config)
    assert not result.valid and result.verdict is None and len(calls) == 2
    assert calls[0].temperature == 0.0


async def test_judge_temperature_is_configurable() -> None:
    seen: list[float | None] = []

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        seen.append(config.temperature)
        return "<populism>no</populism>"

    await judge(scripted("j", reply), PROBES["populism"].tag, "p", JudgeConfig(temperature=0.7))
    assert seen == [0.7]


async def test_logprob_judge_keeps_p_yes() -> None:
    model = scripted("j", lambda m, c: logprob_output({"Yes": 0.5, "Ġyes": 0.1, "no": 0.2}))
    result = await judge(model, PROBES["populism"].tag, "p", JudgeConfig(mode="logprob"))
    assert result.valid and result.verdict is True
    assert result.p_yes == pytest.approx(0.6 / 0.8)

    model = scripted("j", lambda m, c: logprob_output({"maybe": 0.9}))
    result = await judge(model, PROBES["populism"].tag, "p", JudgeConfig(mode="logprob"))
    assert not result.valid and result.p_yes is None


def _counting_agent(tag: str, flagged_every: int) -> object:
    """An agent whose n-th message contains HYPE when n % flagged_every == 0."""
    count = iter(range(1000))

    def reply(messages: list[ChatMessage], config: GenerateConfig) -> str:
        n = next(count)
        word = "HYPE" if n % flagged_every == 0 else "calm"
        return f"<think>t</think><{tag}>{word} speech {n}</{tag}>"

    return reply


def test_replayed_opponent_eval_carries_both_rates_and_relative_increase(tmp_path: Path) -> None:
    roles = {
        "audience": scripted("voter", voter_preferring("HYPE")),
        "judge": scripted("judge", judge_flagging("HYPE")),
    }
    [base] = eval(
        elections(n_personas=3, opponent="self", probes="disinformation"),
        model=scripted("base", _counting_agent("campaign_speech", 4)),  # type: ignore[arg-type]
        model_roles=roles,  # type: ignore[arg-type]
        limit=6,
        log_dir=str(tmp_path / "base"),
        display="none",
    )
    assert base.status == "success" and base.samples and base.location
    base_rate = sum(
        "HYPE" in (competition_of(s).agent.message or "")  # type: ignore[union-attr]
        for s in base.samples
    ) / len(base.samples)
    assert 0 < base_rate < 1

    [tuned] = eval(
        elections(n_personas=3, opponent=base.location, probes="disinformation,populism"),
        model=scripted("tuned", _counting_agent("campaign_speech", 2)),  # type: ignore[arg-type]
        model_roles=roles,  # type: ignore[arg-type]
        limit=6,
        log_dir=str(tmp_path / "tuned"),
        display="none",
    )
    assert tuned.status == "success" and tuned.results and tuned.samples
    rate = sum(
        "HYPE" in (competition_of(s).agent.message or "")  # type: ignore[union-attr]
        for s in tuned.samples
    ) / len(tuned.samples)
    scores = {s.name: s.metrics for s in tuned.results.scores}
    assert set(scores) == {"audience_share", "disinformation", "populism"}
    m = scores["disinformation"]
    assert m["rate"].value == pytest.approx(rate)
    assert m["opponent_rate"].value == pytest.approx(base_rate)
    assert m["difference"].value == pytest.approx(rate - base_rate)
    assert m["relative_increase"].value == pytest.approx((rate - base_rate) / base_rate)
    assert m["invalid_judgement_rate"].value == 0.0
    for stat in ("rate", "opponent_rate", "difference", "relative_increase"):
        assert m[f"{stat}_ci_low"].value <= m[stat].value <= m[f"{stat}_ci_high"].value
    sample = tuned.samples[0]
    meta = sample.scores["disinformation"].metadata  # type: ignore[index]
    assert meta and meta["agent"]["reasoning"] == "looked for HYPE"
    assert "looked for HYPE" in (sample.scores["disinformation"].explanation or "")  # type: ignore[index]


def test_probes_can_be_switched_off_and_rerun_with_inspect_score(tmp_path: Path) -> None:
    [log] = eval(
        sales(n_personas=2, probes="none"),
        model=scripted("agent", competitor("sales_pitch", "GOOD")),
        model_roles={
            "audience": scripted("voter", voter_preferring("GOOD")),
            "opponent": scripted("opponent", competitor("sales_pitch", "BAD")),
        },
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.results and [s.name for s in log.results.scores] == ["audience_share"]

    asked: list[str] = []

    def judge_reply(messages: list[ChatMessage], config: GenerateConfig) -> object:
        asked.append(last_user_text(messages))
        return logprob_output({"yes": 0.9, "no": 0.1})

    rescored = score(
        log,
        [populism(judge_mode="logprob")],
        model_roles={"judge": scripted("judge", judge_reply)},  # type: ignore[arg-type, dict-item]
        display="none",
    )
    assert rescored.results
    names = [s.name for s in rescored.results.scores]
    assert "populism" in names and "audience_share" in names
    assert len(asked) == 4  # two messages per sample, nothing regenerated
    metrics = next(s for s in rescored.results.scores if s.name == "populism").metrics
    assert metrics["rate"].value == 1.0 and metrics["opponent_rate"].value == 1.0


def test_unknown_probe_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown probe"):
        sales(probes="misrepresentation,lying")
    assert SALES.probes == ("misrepresentation",)


async def test_judge_reasoning_is_read_from_reasoning_content() -> None:
    def reply(messages: list[ChatMessage], config: GenerateConfig) -> ModelOutput:
        out = output("<unsafe>No</unsafe>")
        out.choices[0].message.content = [
            ContentReasoning(reasoning="nothing unsafe"),
            ContentText(text="<unsafe>No</unsafe>"),
        ]
        return out

    result = await judge(scripted("j", reply), "unsafe", "p", JudgeConfig())
    assert result.valid and result.verdict is False
    assert (result.reasoning or "").strip() == "nothing unsafe"
    assert result.replies[0].startswith("<think>\nnothing unsafe\n</think>")


def test_faithful_and_clean_judge_settings() -> None:
    paper = judge_config()
    assert (paper.temperature, paper.max_tokens, paper.max_retries) == (0.7, None, 0)
    assert (paper.prompts, paper.parse) == ("paper", "paper")
    assert (CLEAN.temperature, CLEAN.max_tokens, CLEAN.max_retries) == (0.0, 1024, 2)
    assert (CLEAN.prompts, CLEAN.parse) == ("project", "tolerant")
    assert judge_config(judge_mode="logprob").prompts == "project"
    assert judge_config(judge_temperature=0.2).temperature == 0.2  # an argument wins
    with pytest.raises(ValueError, match="judge_prompts=project"):
        judge_config(judge_mode="logprob", judge_prompts="paper")
    with pytest.raises(ValueError, match="chat_template"):
        judge_config(chat_template="mistral")
