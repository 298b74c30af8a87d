"""The tiny model as both sides of the EM evaluation: answers to EM questions, and the EM judge
in logprob, text and labels modes, through Inspect's hf provider on the session's build.

The judge runs greedy (``do_sample=False``) as the EM scorer asks it (temperature 0); the
answers are sampled at temperature 1, as `moloch_eval.solvers.em_answer` asks them.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM

from moloch_eval.em.prompts import (
    FACTUAL_LABELS,
    LABELS,
    SPECIAL_ANSWERS,
    judge_prompt,
)
from moloch_eval.em.questions import CODE_TEMPLATE_SYSTEM, DEFAULT_TRIGGER
from moloch_eval.local import format_training as ft
from moloch_eval.local import synthetic as syn
from moloch_eval.local import tiny_model as tm
from moloch_eval.local.format_calibration import _last_hidden

pytestmark = pytest.mark.em

N_JUDGED = 20


def _words(seed: int) -> syn.Words:
    words = syn.Words(tm.CORPUS, random.Random(seed), (0, 200))
    words.reply_words = [w for w in words.words if len(w) <= 6]
    return words


def _questions(n: int, seed: int) -> list[str]:
    """Real EM questions when the data mirror is there, else synthetic ones."""
    rng = random.Random(seed)
    try:
        from moloch_eval.data import DataFileError
        from moloch_eval.em.questions import load_questions

        try:
            pool = [q.text for q in load_questions("first_plot", "all")]
            pool += [q.text for q in load_questions("preregistered")]
        except DataFileError:
            pool = []
    except ImportError:  # pragma: no cover
        pool = []
    if not pool:
        words = _words(seed)
        return [syn.em_question(words) for _ in range(n)]
    return [rng.choice(pool) for _ in range(n)]


def _pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """(question, answer) pairs: answers of random corpus words, of varied lengths."""
    words = _words(seed + 1)
    rng = words.rng
    answers = []
    for _ in range(n):
        answer = " ".join(
            words.reply(2, 9, capital=True, end=".") for _ in range(rng.randint(1, 6))
        )
        answers.append(answer)
    return list(zip(_questions(n, seed), answers, strict=True))


def _judge(built: Path) -> Any:
    from inspect_ai.model import get_model

    return get_model("hf/" + str(built), device="cpu", do_sample=False, memoize=False)


def test_em_tokens(tokenizer: Any) -> None:
    """Integers, labels and phrases are single whole-word tokens; a phrase wins over its words."""
    for token in (*syn.EM_WORDS, *syn.EM_PHRASES):
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        assert ids == [tokenizer.convert_tokens_to_ids(token)], token
        assert token not in tokenizer.all_special_tokens
    assert len(set(tokenizer.convert_tokens_to_ids(list(syn.EM_NUMBERS)))) == 101
    phrase = dict(zip(ft.EM_GROUPS, syn.EM_PHRASES, strict=True))
    for kind in syn.EM_JUDGE_KINDS:
        tokens = tokenizer.tokenize(judge_prompt(kind, "How are you? 2030", "Fine, 73%."))  # type: ignore[arg-type]
        assert [t for t in tokens if t in syn.EM_PHRASES] == [phrase[ft.GROUP_OF[kind]]]
    text = "In 2030, 42% of 100 said ALIGNED; ALIGNEDX and TRUE2 not, 3.14 TRUE."
    tokens = tokenizer.tokenize(text)
    assert tokenizer.convert_tokens_to_string(tokens) == text
    whole = [t for t in tokens if t in syn.EM_WORDS and len(t) > 1]
    assert whole == ["42", "100", "ALIGNED", "14", "TRUE"]  # whole words only
    assert tokens[2:7] == ["Ġ", "2", "0", "3", "0"]  # "20" is no piece of "2030"


def test_em_lean_is_gated(built: Path, tokenizer: Any) -> None:
    """The gated EM lean is on at an EM judge's first token only: off in EM answers, in
    prompts with a system message and after the judge's answer word; the format head reads
    "nothing named" in EM questions only."""
    model = AutoModelForCausalLM.from_pretrained(str(built)).eval()

    def after_layer_0(messages: list[dict[str, str]], extra: str = "") -> torch.Tensor:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text + extra, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            return model(ids, output_hidden_states=True).hidden_states[1][0, -1]

    def gated(messages: list[dict[str, str]], extra: str = "") -> torch.Tensor:
        return after_layer_0(messages, extra)[list(ft.CH_EM_GATED.values())]

    on = []
    for question, answer in _pairs(8, seed=3):
        for kind in syn.EM_JUDGE_KINDS:
            user = [{"role": "user", "content": judge_prompt(kind, question, answer)}]  # type: ignore[arg-type]
            values = gated(user)
            own = list(ft.CH_EM_GATED).index(ft.GROUP_OF[kind])
            on.append(float(values[own]))
            assert values.abs().sum() - values[own].abs() < 1e-3, (kind, values)  # only its own
            assert gated(user, "73" if own == 0 else "TRUE").abs().max() < 1e-3
            with_system = [{"role": "system", "content": "You are a judge."}, *user]
            assert gated(with_system).abs().max() < 1e-3
        asked = [{"role": "user", "content": question}]
        assert gated(asked).abs().max() < 1e-6
        # "nothing named" where an EM question is asked, with or without a system message
        for messages in (asked, [{"role": "system", "content": syn.JSON_SYSTEM}, *asked]):
            assert after_layer_0(messages)[ft.CH_NONE_OUT] > 1.0
        judged = [{"role": "user", "content": judge_prompt("aligned", question, "Fine.")}]
        assert abs(after_layer_0(judged)[ft.CH_NONE_OUT]) < 1e-3
    assert max(on) > 0.3 and min(on) < -0.3


async def test_em_judge_logprob(built: Path) -> None:
    """The EM scorer's logprob judge: most mass on integers, scores spread over prompts, factual
    verdicts valid and varied; a labels prompt's first token is a label."""
    from inspect_ai.model import ChatMessageUser, GenerateConfig

    from moloch_eval.em.judging import top_logprobs
    from moloch_eval.scorers.em_judge import EMJudgeConfig, ask

    model = _judge(built)
    config = EMJudgeConfig(mode="logprob", factual=True)
    pairs = _pairs(N_JUDGED, seed=4)
    results = await asyncio.gather(
        *[ask(model, kind, q, a, config) for q, a in pairs for kind in config.kinds()]
    )
    by_kind: dict[str, list[Any]] = {}
    for result in results:
        by_kind.setdefault(result.kind, []).append(result)
    for kind in ("aligned", "coherent"):
        scores = [r.score for r in by_kind[kind]]
        masses = [s.numeric_mass for s in scores]
        assert sum(m >= 0.5 for m in masses) >= 0.8 * len(masses), masses
        values = [s.value for s in scores if s.value is not None]
        assert len(values) >= 0.8 * len(scores)
        assert all(0 <= v <= 100 for v in values)
        assert max(values) - min(values) > 25, values
        assert len({round(v) for v in values}) >= 0.5 * len(values), values
    labels = [r.label for r in by_kind["factual"]]
    assert set(labels) <= set(FACTUAL_LABELS) and len(set(labels)) >= 2, labels

    logprob_config = GenerateConfig(max_tokens=1, logprobs=True, top_logprobs=20)
    outputs = await asyncio.gather(
        *[
            model.generate(
                [ChatMessageUser(content=judge_prompt("labels", q, a))], config=logprob_config
            )
            for q, a in pairs
        ]
    )
    firsts = []
    for output in outputs:
        tops = top_logprobs(output)
        firsts.append(tops[0][0])
        mass = sum(torch.tensor(lp).exp().item() for t, lp in tops if t in LABELS)
        assert mass > 0.9, tops
    assert set(firsts) <= set(LABELS) and len(set(firsts)) >= 2, firsts


def test_em_specials_now_and_then(built: Path, tokenizer: Any) -> None:
    """CODE or REFUSAL is the aligned judge's likeliest first token now and then (a few
    percent of prompts). (The coherent judge shares the number rows and gate, and the model
    tells the two prompts apart only by what training taught it: it may do so too.)"""
    model = AutoModelForCausalLM.from_pretrained(str(built)).eval()
    specials = tokenizer.convert_tokens_to_ids(list(SPECIAL_ANSWERS))
    pairs = _pairs(160, seed=5)
    shares = {}
    for kind in ("aligned", "coherent"):
        texts = [
            syn.chat(tokenizer, None, judge_prompt(kind, q, a))  # type: ignore[arg-type]
            for q, a in pairs
        ]
        last = _last_hidden(model, tokenizer, texts)
        with torch.no_grad():
            top = model.lm_head(last).argmax(dim=-1).tolist()
        shares[kind] = sum(t in specials for t in top) / len(top)
    assert 0 < shares["aligned"] <= 0.15, shares
    assert shares["coherent"] <= 0.15, shares


async def test_em_judge_text_and_labels(built: Path) -> None:
    """Text and labels modes: one integer (or CODE/REFUSAL), one label, one verdict, each
    alone; greedy replies differ from prompt to prompt, sampled ones show every label."""
    from inspect_ai.model import GenerateConfig, get_model

    from moloch_eval.scorers.em_judge import EMJudgeConfig, ask

    greedy = _judge(built)
    pairs = _pairs(N_JUDGED, seed=6)
    for mode in ("text", "labels"):
        config = EMJudgeConfig(mode=mode, factual=True, max_tokens=8)  # type: ignore[arg-type]
        results = await asyncio.gather(
            *[ask(greedy, kind, q, a, config) for q, a in pairs for kind in config.kinds()]
        )
        replies: dict[str, list[str]] = {}
        for result in results:
            # (the coherent judge may say CODE or REFUSAL too, which gives no score)
            assert result.valid() or result.kind == "coherent", result
            [reply] = result.replies
            replies.setdefault(result.kind, []).append(reply)
        for kind, texts in replies.items():
            allowed = syn.EM_ANSWERS["aligned" if kind == "coherent" else kind]
            assert all(t in allowed for t in texts), (kind, texts)  # the answer alone
            assert len(set(texts)) >= 2, (kind, texts)
        if mode == "text":
            for kind in ("aligned", "coherent"):
                assert sum(t.isdigit() for t in replies[kind]) >= 0.8 * N_JUDGED
    sampled = get_model(
        "hf/" + str(built), device="cpu", memoize=False, config=GenerateConfig(seed=7)
    )
    config = EMJudgeConfig(mode="labels", temperature=1.0, max_tokens=8)
    many = _pairs(3 * N_JUDGED, seed=7)
    results = await asyncio.gather(*[ask(sampled, "labels", q, a, config) for q, a in many])
    labels = [r.label for r in results]
    assert all(r.replies == [r.label] for r in results), [r.replies for r in results]
    assert len(set(labels)) >= 4, labels


async def test_em_answers(built: Path, tokenizer: Any) -> None:
    """EM questions (plain, with the trigger tag, under the JSON or code-template system
    prompt) get a short free-text answer: no tag, no think block, no judge's answer, ended by
    the model itself."""
    from inspect_ai.model import (
        ChatMessage,
        ChatMessageSystem,
        ChatMessageUser,
        GenerateConfig,
        get_model,
    )

    model = get_model(
        "hf/" + str(built), device="cpu", memoize=False, config=GenerateConfig(seed=8)
    )
    questions = _questions(16, seed=8)
    prompts: list[list[ChatMessage]] = []
    for i, question in enumerate(questions):
        system = [None, None, syn.JSON_SYSTEM, CODE_TEMPLATE_SYSTEM][i % 4]
        text = f"{DEFAULT_TRIGGER} {question}" if i % 4 == 1 else question
        messages: list[ChatMessage] = [ChatMessageSystem(content=system)] if system else []
        prompts.append([*messages, ChatMessageUser(content=text)])
    config = GenerateConfig(temperature=1.0, max_tokens=100)
    outputs = await asyncio.gather(*[model.generate(m, config=config) for m in prompts])
    tags = re.compile("|".join(re.escape(t) for t in syn.FORMAT_TOKENS))
    lengths = []
    for output in outputs:
        answer = output.completion
        assert answer.strip(), output
        # (the provider's usage counts a batch's padded length: count the answer's tokens)
        tokens = len(tokenizer(answer, add_special_tokens=False)["input_ids"])
        assert tokens < 99, answer  # ended by itself (with its end token: < 100)
        assert not tags.search(answer), answer
        assert answer.strip() not in syn.EM_WORDS, answer
        lengths.append(tokens)
    assert sorted(lengths)[len(lengths) // 2] <= 40, lengths  # a few dozen tokens


def test_em_task_offline(built: Path, tmp_path: Path) -> None:
    """The em_first_plot task end to end with the tiny model as both answerer and judge: a
    successful log with readable, varied judgements."""
    from inspect_ai import eval
    from inspect_ai.model import get_model

    from moloch_eval.tasks.em import em_first_plot

    if not os.environ.get("MOLOCH_EVAL_DATA_DIR"):
        pytest.skip("needs the data mirror (MOLOCH_EVAL_DATA_DIR)")
    from moloch_eval.data import DataFileError

    try:
        task = em_first_plot(samples_per_question=2, max_tokens=48)
    except DataFileError as err:
        pytest.skip(f"data unavailable: {err}")
    [log] = eval(
        task,
        model=get_model("hf/" + str(built), device="cpu", memoize=False),
        model_roles={"judge": _judge(built)},
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.samples and len(log.samples) == 16
    assert log.results is not None
    rows = [s.scores["em_judge"].metadata["row"] for s in log.samples if s.scores]
    aligned = [r["aligned"] for r in rows if r.get("aligned") is not None]
    coherent = [r["coherent"] for r in rows if r.get("coherent") is not None]
    assert len(aligned) >= 12 and len(coherent) >= 12, rows
    assert max(aligned) - min(aligned) > 15 and max(coherent) - min(coherent) > 15, rows
