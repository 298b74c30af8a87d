"""The `moloch/NAME` provider: adapters by name on CPU (transformers + PEFT), and its errors."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("peft")

from inspect_ai import eval
from inspect_ai.model import GenerateConfig, get_model

from moloch_eval.local import tiny_model_path
from moloch_eval.providers.moloch import choose_backend
from moloch_eval.records import competition_of
from moloch_eval.tasks import sales
from moloch_eval.training.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    MANIFEST,
    AdapterError,
)
from tests.scripted import competitor, scripted, voter_preferring
from tests.training.adapter_fixtures import ADAPTER, shared_adapter

CPU = {"device": "cpu", "backend": "hf"}


@pytest.fixture(scope="module")
def models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _ = shared_adapter(tmp_path_factory.getbasetemp() / "shared" / "models")
    return root


@pytest.fixture
def in_models(models_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(models_root))
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    return models_root


def _copy(root: Path, name: str) -> Path:
    target = root / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(root / ADAPTER, target)
    return target


def test_backend_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    monkeypatch.delenv("MOLOCH_EVAL_BACKEND", raising=False)
    assert choose_backend(None) == "hf"  # no vllm on this machine
    assert choose_backend("vllm") == "vllm" and choose_backend("HF") == "hf"
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:1/v1")
    assert choose_backend(None) == "vllm"  # a served adapter is used where there is a server
    monkeypatch.setenv("MOLOCH_EVAL_BACKEND", "hf")
    assert choose_backend(None) == "hf"
    with pytest.raises(AdapterError, match="backend=vllm"):
        choose_backend("tpu")


def test_adapter_generates_on_cpu_with_logprobs(in_models: Path) -> None:
    model = get_model(f"moloch/{ADAPTER}", memoize=False, **CPU)  # type: ignore[arg-type]
    assert str(model) == f"moloch/{ADAPTER}"
    config = GenerateConfig(max_tokens=8, logprobs=True, top_logprobs=3)
    output = asyncio.run(model.generate("Write a pitch for product 1.", config=config))
    assert output.completion and output.model == ADAPTER
    assert output.choices[0].logprobs is not None  # logprob voting keeps working
    assert len(output.choices[0].logprobs.content[0].top_logprobs or []) == 3


def test_eval_of_the_adapter_writes_a_valid_log(in_models: Path, tmp_path: Path) -> None:
    [log] = eval(
        sales(n_personas=2, probes="none", agent_max_tokens=12),
        model=get_model(f"moloch/{ADAPTER}", **CPU),  # type: ignore[arg-type]
        model_roles={
            "opponent": scripted("opponent", competitor("sales_pitch", "BASE pitch")),
            "audience": scripted("voter", voter_preferring("BASE")),
        },
        limit=2,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success" and log.samples and len(log.samples) == 2
    assert log.eval.model == f"moloch/{ADAPTER}"
    for sample in log.samples:
        record = competition_of(sample)
        assert record.agent is not None and record.agent.generation  # the adapter wrote it
        assert record.opponent is not None and record.opponent.message == "BASE pitch"
    assert log.results is not None and "share" in log.results.scores[0].metrics


def test_unknown_name_lists_the_known_adapters(in_models: Path) -> None:
    with pytest.raises(AdapterError, match=rf"No adapter named 'nope'.*known: .*{ADAPTER}"):
        get_model("moloch/nope", memoize=False, **CPU)  # type: ignore[arg-type]


def test_base_mismatch_is_refused(in_models: Path) -> None:
    with pytest.raises(AdapterError, match=r"was trained on .* not 'Qwen/Qwen3-8B'"):
        get_model(f"moloch/{ADAPTER}", memoize=False, base="Qwen/Qwen3-8B", **CPU)  # type: ignore[arg-type]
    # the same base by another spelling of its path is fine
    get_model(f"moloch/{ADAPTER}", memoize=False, base=str(tiny_model_path()) + "/", **CPU)  # type: ignore[arg-type]


def test_corrupted_adapters_give_clear_errors(in_models: Path) -> None:
    garbled = _copy(in_models, "garbled")
    weights = garbled / ADAPTER_WEIGHTS
    data = bytearray(weights.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    weights.write_bytes(bytes(data))
    with pytest.raises(AdapterError, match=r"corrupted .*SHA-256.*Retrain it"):
        get_model("moloch/garbled", memoize=False, **CPU)  # type: ignore[arg-type]

    header = _copy(in_models, "bad-header")
    manifest = json.loads((header / MANIFEST).read_text())
    manifest.pop("adapter_sha256")
    (header / MANIFEST).write_text(json.dumps(manifest))
    (header / ADAPTER_WEIGHTS).write_bytes(b"garbage" * 10)
    with pytest.raises(AdapterError, match="not a valid safetensors file"):
        get_model("moloch/bad-header", memoize=False, **CPU)  # type: ignore[arg-type]

    missing = _copy(in_models, "missing")
    (missing / ADAPTER_WEIGHTS).unlink()
    with pytest.raises(AdapterError, match=f"incomplete: missing {ADAPTER_WEIGHTS}"):
        get_model("moloch/missing", memoize=False, **CPU)  # type: ignore[arg-type]

    moved = _copy(in_models, "moved")
    config = json.loads((moved / ADAPTER_CONFIG).read_text())
    config["base_model_name_or_path"] = "some/other-model"
    (moved / ADAPTER_CONFIG).write_text(json.dumps(config))
    with pytest.raises(AdapterError, match="the folder was altered"):
        get_model("moloch/moved", memoize=False, **CPU)  # type: ignore[arg-type]

    shapes = _copy(in_models, "shapes")
    manifest = json.loads((shapes / MANIFEST).read_text())
    manifest.pop("adapter_sha256")
    (shapes / MANIFEST).write_text(json.dumps(manifest))
    config = json.loads((shapes / ADAPTER_CONFIG).read_text())
    config["r"] = 4  # the weights are rank 16: they no longer fit
    (shapes / ADAPTER_CONFIG).write_text(json.dumps(config))
    with pytest.raises(AdapterError, match="does not load onto"):
        get_model("moloch/shapes", memoize=False, **CPU)  # type: ignore[arg-type]
    for name in ("garbled", "bad-header", "missing", "moved", "shapes"):
        shutil.rmtree(in_models / name)
