"""Tests for the embedded offline tiny model (built once, under tmp paths, never the user cache).

The recipe is built for real once per session (~40 s on 2 cores; the `built` fixture of
conftest.py, shared with test_tiny_model_em.py). The cache tests swap the build for a copy of
that one, and the determinism test trains a few conversations twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM

from moloch_eval.local import (
    TINY_MODEL_VERSION,
    TINY_VOCAB_SIZE,
    format_calibration,
    format_fit,
    tiny_model_name,
    tiny_model_path,
    tiny_vocab_size,
)
from moloch_eval.local import format_training as ft
from moloch_eval.local import tiny_model as tm
from moloch_eval.local.synthetic import ANSWER_PHRASES, FORMAT_TOKENS, VERDICTS

FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


@pytest.fixture
def copy_build(built: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the (slow) build by a copy of the session's; returns the folders built."""
    calls: list[Path] = []

    def fake_build(folder: Path) -> None:
        calls.append(folder)
        time.sleep(0.2)  # long enough for a concurrent caller to queue on the lock
        for name in FILES:
            shutil.copyfile(built / name, folder / name)

    monkeypatch.setattr(tm, "_build", fake_build)
    return calls


def test_layout(built: Path) -> None:
    assert built.name == f"tiny-{TINY_MODEL_VERSION}"
    assert built.parent.name == "models"
    for name in FILES:
        assert (built / name).is_file(), name
    assert sum(f.stat().st_size for f in built.iterdir()) < 10 * 2**20
    assert [p.name for p in built.parent.iterdir() if p.is_dir()] == [built.name]
    assert tiny_model_path(built.parent.parent) == built  # cached: no rebuild
    assert tiny_model_name(built.parent.parent) == "hf/" + str(built)
    assert tiny_vocab_size() == TINY_VOCAB_SIZE


def test_default_cache_root_from_env(
    built: Path, copy_build: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tm.CACHE_ENV, str(tmp_path))
    assert tm.default_cache_root() == tmp_path
    path = tiny_model_path()
    assert path == tmp_path / "models" / f"tiny-{TINY_MODEL_VERSION}"
    assert _snapshot(path) == _snapshot(built)
    assert len(copy_build) == 1


def test_interrupted_build_is_ignored(built: Path, copy_build: list[Path], tmp_path: Path) -> None:
    models = tmp_path / "models"
    stale = models / f".tiny-{TINY_MODEL_VERSION}.tmp-crashed"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"partial")
    broken = models / f"tiny-{TINY_MODEL_VERSION}"
    broken.mkdir()
    (broken / "config.json").write_text("{}")  # no weights: not a complete model
    path = tiny_model_path(tmp_path)
    assert path == broken
    assert _snapshot(path) == _snapshot(built)
    assert not stale.exists()


def test_concurrent_builds(built: Path, copy_build: list[Path], tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(tiny_model_path(tmp_path))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert len(copy_build) == 1  # the second caller waited and found the first one's build
    assert _snapshot(results[0]) == _snapshot(built)
    assert [p.name for p in (tmp_path / "models").iterdir() if p.is_dir()] == [results[0].name]


def test_tokenizer(tokenizer: Any) -> None:
    tok = tokenizer
    assert len(tok) == TINY_VOCAB_SIZE
    text = "Candidate A wins the vote: 42% said B. Ünïcödé and\nnew lines survive."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    for letter in ("A", "B"):
        token_id = tok.convert_tokens_to_ids(letter)
        assert tok(letter, add_special_tokens=False)["input_ids"] == [token_id]
    assert tok.bos_token == tm.BOS_TOKEN
    assert tok.eos_token == tm.EOS_TOKEN
    assert tok.pad_token == tm.PAD_TOKEN
    # no special tokens are added on top of the chat template's own
    assert tok("hi")["input_ids"] == tok("hi", add_special_tokens=False)["input_ids"]


def test_format_tags_are_single_kept_tokens(tokenizer: Any) -> None:
    from moloch_eval.probes import PROBES

    tags = {"think", "vote", "sales_pitch", "campaign_speech", "post", *PROBES}
    assert set(FORMAT_TOKENS) == {t for tag in tags for t in (f"<{tag}>", f"</{tag}>")}
    assert VERDICTS == ("yes", "no") and ANSWER_PHRASES == ("yes or no", "A or B")
    for token in (*FORMAT_TOKENS, *VERDICTS, *ANSWER_PHRASES):
        assert tokenizer(token, add_special_tokens=False)["input_ids"] == [
            tokenizer.convert_tokens_to_ids(token)
        ], token
        assert token not in tokenizer.all_special_tokens
    for reply in (
        "<think> a b</think><post> Some words.</post>",
        "<think> a b</think><misrepresentation>yes</misrepresentation>",
    ):
        ids = tokenizer(reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        assert len(ids) < 16
        assert tokenizer.decode(ids, skip_special_tokens=True) == reply  # as Inspect decodes
    # the verdicts and phrases are whole words only: other words tokenize as the BPE does
    text = "I know, no: yes or no? Not now, eyes on A or B."
    tokens = tokenizer.tokenize(text)
    assert [t for t in tokens if t in (*VERDICTS, *ANSWER_PHRASES)] == [
        "no",
        "yes or no",
        "A or B",
    ]
    assert tokenizer.convert_tokens_to_string(tokens) == text


def test_chat_template(tokenizer: Any) -> None:
    messages = [
        {"role": "system", "content": "You are a voter."},
        {"role": "user", "content": "Pick A or B."},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered == (
        "<|bos|><|system|>\nYou are a voter.<|eos|>\n<|user|>\nPick A or B.<|eos|>\n<|assistant|>\n"
    )
    without = tokenizer.apply_chat_template(messages, tokenize=False)
    assert not without.endswith("<|assistant|>\n")


def test_model_recipe(built: Path, tokenizer: Any) -> None:
    """Config, the fixed heads (still as wired after training) and the tied letters."""
    model = AutoModelForCausalLM.from_pretrained(str(built)).eval()
    assert model.config.vocab_size == TINY_VOCAB_SIZE
    assert model.config.max_position_embeddings >= 8192
    assert model.config.hidden_size == tm.HIDDEN_SIZE
    assert model.generation_config.begin_suppress_tokens == [tokenizer.eos_token_id]
    prompt = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": "x"},
            # (the corpus names "A or B", an answer phrase the format head reads too)
            {"role": "user", "content": tm.CORPUS.replace(" or B", ", B") * 3 + "<post> … </post>"},
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    assert ids.shape[1] > 2000
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
    after_head = out.hidden_states[1][0]
    # the format head names the tag (post, the 3rd answer tag) however far back it is
    read = after_head[-1, ft.CH_OUT : ft.CH_OUT + len(ft.NAMED)]
    assert ft.NAMED[2] == "post"
    assert read.argmax().item() == 2 and read[2].item() > 0.5
    # the lean channel turns with the position, evenly around zero
    lean = after_head[100:, ft.CH_LEAN]
    assert abs(lean.mean().item()) < 0.05 and lean.abs().mean().item() > 0.2
    # the letters, and the verdicts, differ only in how they read the lean channel
    for pair in (["A", "B"], ["yes", "no"]):
        first, second = tokenizer.convert_tokens_to_ids(pair)
        diff = model.lm_head.weight[first] - model.lm_head.weight[second]
        assert diff.abs().argmax().item() == ft.CH_LEAN
        assert diff.abs().sum().item() == pytest.approx(diff[ft.CH_LEAN].abs().item())


def test_training_is_deterministic(tokenizer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole recipe on a handful of conversations, twice: identical weights."""
    for name in (
        "N_AGENT",
        "N_THINK_VOTE",
        "N_LOGPROB_VOTE",
        "N_THINK_JUDGE",
        "N_LOGPROB_JUDGE",
        "N_EM_ANSWER",
    ):
        monkeypatch.setattr(format_fit, name, 2)
    monkeypatch.setattr(format_fit, "N_EM_JUDGE", dict.fromkeys(ft.N_EM_JUDGE, 2))
    monkeypatch.setattr(format_calibration, "N_CALIBRATION", 1)
    monkeypatch.setattr(format_calibration, "N_JUDGE_CALIBRATION", 1)
    monkeypatch.setattr(format_calibration, "N_EM_CALIBRATION", 2)
    torch.manual_seed(0)
    first = tm._build_model(tokenizer).state_dict()
    torch.manual_seed(1)  # the recipe must not depend on the global RNG
    second = tm._build_model(tokenizer).state_dict()
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name


@pytest.mark.skipif(
    not os.environ.get("MOLOCH_EVAL_SLOW_TESTS"), reason="set MOLOCH_EVAL_SLOW_TESTS=1 (~45 s)"
)
def test_full_build_is_byte_identical(built: Path, tmp_path: Path) -> None:
    """A second full build, in another process, writes the same bytes."""
    code = "import sys; from pathlib import Path; from moloch_eval.local import tiny_model_path;"
    code += "print(tiny_model_path(Path(sys.argv[1])))"
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], check=True, capture_output=True, text=True
    )
    assert _snapshot(Path(out.stdout.strip().splitlines()[-1])) == _snapshot(built)


def _real_anchors(per_domain: int) -> dict[str, list[dict[str, Any]]]:
    from moloch_eval.data import DataFileError, load_anchors

    if not os.environ.get("MOLOCH_EVAL_DATA_DIR"):
        pytest.skip("needs the data mirror (MOLOCH_EVAL_DATA_DIR)")
    rng = random.Random(0)
    try:
        return {
            name: [a.fields for a in rng.sample(load_anchors(name, "test"), per_domain)]
            for name in ("sales", "elections", "social_media")
        }
    except DataFileError as err:
        pytest.skip(f"data unavailable: {err}")


async def test_format_on_real_prompts(built: Path) -> None:
    """Through Inspect's hf provider on real anchors and personas: the agent writes the right
    answer tag, think-mode voters a vote tag, logprob-mode voters put mass on both letters."""
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model

    from moloch_eval.data import load_personas
    from moloch_eval.domains import AGENT_SYSTEM_PROMPT, DOMAINS
    from moloch_eval.parsing import extract_message, parse_vote
    from moloch_eval.prompts import (
        agent_user_prompt,
        anchor_text,
        vote_system_prompt,
        vote_user_prompt,
    )
    from moloch_eval.solvers.audience import letter_probabilities

    anchors = _real_anchors(per_domain=8)
    model = get_model("hf/" + str(built), device="cpu", memoize=False)
    config = GenerateConfig(temperature=0.7, max_tokens=96)

    def chat(system: str, user: str) -> list[Any]:
        return [ChatMessageSystem(content=system), ChatMessageUser(content=user)]

    jobs = [(name, a) for name, domain_anchors in anchors.items() for a in domain_anchors]
    agent_outputs = await asyncio.gather(
        *[
            model.generate(
                chat(AGENT_SYSTEM_PROMPT, agent_user_prompt(DOMAINS[n], a)), config=config
            )
            for n, a in jobs
        ]
    )
    messages: dict[str, list[str]] = {name: [] for name in anchors}
    valid: dict[str, list[bool]] = {name: [] for name in anchors}
    for (name, _), output in zip(jobs, agent_outputs, strict=True):
        assert output.completion  # never empty
        assert output.usage is not None and output.usage.output_tokens < 96  # ends by itself
        message = extract_message(output.completion, DOMAINS[name].answer_tag)
        valid[name].append(message is not None)
        if message:
            messages[name].append(message)
    for name, flags in valid.items():
        assert sum(flags) >= 0.85 * len(flags), (name, flags)

    rng = random.Random(1)
    personas = load_personas("split1")
    votes: dict[str, list[list[Any]]] = {"think": [], "logprob": []}
    for mode, prompts in votes.items():
        for i in range(12):
            name = list(anchors)[i % 3]
            if i % 2 == 0 and len(messages[name]) >= 2:  # the agent's own messages
                choices = rng.sample(messages[name], 2)
            else:  # or real text
                choices = [
                    anchor_text(DOMAINS[name], a)[:600] for a in rng.sample(anchors[name], 2)
                ]
            persona = rng.choice(personas).faithful()
            user = vote_user_prompt(DOMAINS[name], persona, choices, mode)
            prompts.append(chat(vote_system_prompt(mode), user))
    logprob_config = GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=20)
    think, logprob = await asyncio.gather(
        asyncio.gather(*[model.generate(m, config=config) for m in votes["think"]]),
        asyncio.gather(*[model.generate(m, config=logprob_config) for m in votes["logprob"]]),
    )
    letters = [parse_vote(output.completion) for output in think]
    assert sum(letter is not None for letter in letters) >= 0.9 * len(letters), letters
    leaning_a = 0
    for output in logprob:
        assert output.choices[0].logprobs is not None
        top = output.choices[0].logprobs.content[0].top_logprobs or []
        assert {"A", "B"} <= {t.token for t in top}
        probs = letter_probabilities(output)
        assert min(probs.values()) > 0.05 and sum(probs.values()) > 0.9, probs
        leaning_a += probs["A"] > probs["B"]
    assert 0 < leaning_a < len(logprob)  # neither letter wins every time


async def test_judge_on_real_prompts(built: Path) -> None:
    """The project's own judge, through Inspect's hf provider, on real anchors and texts for
    every probe: logprob-mode judgements are valid (nearly all the mass on yes and no) and not
    all alike, think-mode ones parse."""
    from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, get_model

    from moloch_eval.domains import DOMAINS
    from moloch_eval.probes import PROBES
    from moloch_eval.prompts import anchor_text, judge_system_prompt, judge_user_prompt
    from moloch_eval.scorers.judge import JudgeConfig, judge
    from moloch_eval.solvers.logprobs import first_token_mass

    anchors = _real_anchors(per_domain=6)
    model = get_model("hf/" + str(built), device="cpu", memoize=False)
    rng = random.Random(2)
    jobs = []
    for probe in PROBES.values():
        domains = [d for d in DOMAINS.values() if probe.name in d.probes] or [DOMAINS["sales"]]
        for i in range(4):
            domain = domains[i % len(domains)]
            anchor, other = rng.sample(anchors[domain.name], 2)
            message = anchor_text(domain, other)[: rng.choice((80, 300, 800))]
            show_anchor = probe.shows_anchor or i == 3  # clean mode shows it always
            jobs.append((probe, domain, anchor, message, show_anchor))

    async def run(mode: str, config: JudgeConfig) -> list[Any]:
        return list(
            await asyncio.gather(
                *[
                    judge(model, p.tag, judge_user_prompt(d, p, a, m, show, mode), config)
                    for p, d, a, m, show in jobs
                ]
            )
        )

    async def first_tokens() -> list[Any]:  # the logprob judge's raw first tokens
        config = JudgeConfig(mode="logprob").generate_config()
        prompts: list[list[ChatMessage]] = [
            [
                ChatMessageSystem(content=judge_system_prompt(p, "logprob")),
                ChatMessageUser(content=judge_user_prompt(d, p, a, m, show, "logprob")),
            ]
            for p, d, a, m, show in jobs
        ]
        return list(await asyncio.gather(*[model.generate(m, config=config) for m in prompts]))

    # think mode at the paper's temperature (hf/ refuses temperature 0 unless do_sample=False)
    logprob, think, raw = await asyncio.gather(
        run("logprob", JudgeConfig(mode="logprob")),
        run("think", JudgeConfig(mode="think", temperature=0.7, max_tokens=96, max_retries=0)),
        first_tokens(),
    )
    for result, output in zip(logprob, raw, strict=True):
        assert result.valid and result.p_yes is not None, result
        assert 0.05 < result.p_yes < 0.95, result.p_yes
        mass = first_token_mass(output, ("yes", "no"))
        assert sum(mass.values()) > 0.9, mass
    yes = sum(bool(r.verdict) for r in logprob)
    assert 0.1 * len(logprob) <= yes <= 0.9 * len(logprob), yes
    valid = [r for r in think if r.valid]
    assert len(valid) >= 0.85 * len(think), [r.replies for r in think if not r.valid]
    assert 0 < sum(bool(r.verdict) for r in valid) < len(valid)


async def test_inspect_hf_provider(built: Path) -> None:
    from inspect_ai.model import (
        ChatMessage,
        ChatMessageSystem,
        ChatMessageUser,
        GenerateConfig,
        get_model,
    )

    model = get_model("hf/" + str(built), device="cpu", memoize=False)
    messages: list[ChatMessage] = [
        ChatMessageSystem(content="You are a voter in a small town."),
        ChatMessageUser(content=tm.CORPUS[:2000] + "\nRespond with a single letter: A or B."),
    ]
    text, few, full = await asyncio.gather(
        model.generate(messages, config=GenerateConfig(max_tokens=20, temperature=0.7)),
        model.generate(
            messages, config=GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=5)
        ),
        model.generate(
            messages,
            config=GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=TINY_VOCAB_SIZE),
        ),
    )
    assert text.completion
    assert text.usage is not None and 1 <= text.usage.output_tokens <= 20
    assert few.choices[0].logprobs is not None
    assert len(few.choices[0].logprobs.content[0].top_logprobs or []) == 5
    assert full.choices[0].logprobs is not None
    tokens = {t.token for t in full.choices[0].logprobs.content[0].top_logprobs or []}
    assert len(tokens) == TINY_VOCAB_SIZE
    assert {"A", "B", "ĠA", "ĠB"} <= tokens
