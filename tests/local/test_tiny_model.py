"""Tests for the embedded offline tiny model (built under tmp paths, never the user cache)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from moloch_eval.local import (
    TINY_MODEL_VERSION,
    TINY_VOCAB_SIZE,
    tiny_model_name,
    tiny_model_path,
    tiny_vocab_size,
)
from moloch_eval.local import tiny_model as tm

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


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_path(tmp_path_factory.mktemp("tiny_cache"))


@pytest.fixture(scope="session")
def tokenizer(built: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(built))


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
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tm.CACHE_ENV, str(tmp_path))
    assert tm.default_cache_root() == tmp_path
    path = tiny_model_path()
    assert path == tmp_path / "models" / f"tiny-{TINY_MODEL_VERSION}"
    assert _snapshot(path) == _snapshot(built)  # deterministic


def test_interrupted_build_is_ignored(built: Path, tmp_path: Path) -> None:
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


def test_concurrent_builds(built: Path, tmp_path: Path) -> None:
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(tiny_model_path(tmp_path))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
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
    """Config, and the calibration constants the weight recipe relies on."""
    model = AutoModelForCausalLM.from_pretrained(str(built)).eval()
    assert model.config.vocab_size == TINY_VOCAB_SIZE
    assert model.config.max_position_embeddings >= 8192
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": tm.CORPUS[:1500]}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model(**ids, output_hidden_states=True)
    hidden = out.hidden_states[-1][0]
    newline = ids["input_ids"][0] == tokenizer.convert_tokens_to_ids("Ċ")
    assert hidden[:, 0].mean().item() == pytest.approx(tm._BIAS_CHANNEL_AFTER_NORM, rel=0.05)
    assert hidden[newline, 1].mean().item() == pytest.approx(tm._REPLY_FLAG_AFTER_NORM, rel=0.05)
    first = torch.softmax(out.logits[0, -1], dim=-1)
    letter_ids = [tokenizer.convert_tokens_to_ids(c) for c in "AB"]
    assert first[tokenizer.eos_token_id].item() < 1e-4
    assert first[letter_ids].sum().item() > 0.2


async def test_inspect_hf_provider(built: Path) -> None:
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model

    model = get_model("hf/" + str(built), device="cpu", memoize=False)
    messages = [
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
