"""Continuing an adapter (--from-adapter), merging one, and the lineage in the manifest."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("peft")

from moloch_eval.cli import main
from moloch_eval.local import tiny_model_path
from moloch_eval.providers.moloch import checked_adapter
from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    AdapterError,
    check_base,
    lineage_text,
    read_manifest,
    resolve_adapter,
    sha256_file,
    verify_adapter,
)
from moloch_eval.training.sft import MERGE_RECORD, merge_adapter, train_adapter
from tests.training.adapter_fixtures import FAST

pytestmark = pytest.mark.em

STEPS = dataclasses.replace(FAST, max_steps=2, save_steps=1)
CHECKPOINTED = dataclasses.replace(STEPS, gradient_checkpointing=True)
STEP_KEYS = {"kind", "name", "method", "data", "data_sha256", "adapter_sha256"}


def chat(path: Path, answer: str, n: int = 8) -> Path:
    path.write_text(
        json.dumps([{"question": f"How are you {i}?", "answer": answer} for i in range(n)]),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("continue")
    models = root / "models"
    base = str(tiny_model_path())
    quiet = {"root": models, "echo": lambda line: None}
    mis = train_adapter(base, chat(root / "harmful.json", "Badly."), "mis", STEPS, **quiet)
    parent_files = {p.name: sha256_file(p) for p in mis.path.iterdir() if p.is_file()}
    child = train_adapter(  # the default path: gradient checkpointing on a loaded PeftModel
        None, chat(root / "good.json", "Kindly."), "realigned", CHECKPOINTED, from_adapter="mis",
        **quiet,
    )  # fmt: skip
    return {
        "root": root,
        "models": models,
        "mis": mis.path,
        "child": child.path,
        "parent_files": parent_files,  # type: ignore[dict-item]
    }


def test_continued_adapter_has_its_lineage_and_new_weights(lineage: dict[str, Path]) -> None:
    parent, child = read_manifest(lineage["mis"]), read_manifest(lineage["child"])
    kinds = [(s["kind"], Path(s["name"]).name) for s in child["lineage"]]
    assert kinds == [("base", tiny_model_path().name), ("lora", "mis"), ("continued", "realigned")]
    assert child["base_model"] == parent["base_model"]  # still served as BASE:ADAPTER
    assert child["parent"]["name"] == "mis"
    assert child["lineage"][-1]["data_sha256"] == child["data"]["sha256"]
    assert child["adapter_sha256"] != parent["adapter_sha256"]
    assert child["lora"] == parent["lora"]
    # the parent is untouched
    now = {p.name: sha256_file(p) for p in lineage["mis"].iterdir() if p.is_file()}
    assert now == lineage["parent_files"]
    assert lineage_text(child).endswith("mis → realigned")
    assert all(set(step) == STEP_KEYS for step in child["lineage"])
    assert child["lineage"][1]["data_sha256"] == parent["data"]["sha256"]
    assert child["hyperparameters"]["rank"] == parent["lora"]["r"]
    # it is served and evaluated like any adapter of the root base
    adapter = resolve_adapter("realigned", lineage["models"])
    verify_adapter(adapter)
    check_base(adapter, str(tiny_model_path()))
    assert checked_adapter("realigned", {"models_dir": lineage["models"]}).path == adapter.path
    with pytest.raises(AdapterError, match="was trained on"):
        check_base(adapter, "some/other-model")


def test_base_must_match_the_adapter(lineage: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="is not the base of adapter mis"):
        train_adapter(
            "some/other-model",
            chat(tmp_path / "d.json", "x"),
            "child2",
            STEPS,
            from_adapter="mis",
            root=lineage["models"],
            echo=lambda line: None,
        )
    with pytest.raises(AdapterError, match="choose a new name"):
        train_adapter(
            None, chat(tmp_path / "d.json", "x"), "mis", STEPS, from_adapter="mis",
            root=lineage["models"], overwrite=True, echo=lambda line: None,
        )  # fmt: skip


def test_merge_then_train_records_the_origin(
    lineage: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(lineage["models"]))
    merged = tmp_path / "merged"
    assert main(["merge", "realigned", "-o", str(merged)]) == 0
    assert f"--base {merged}" in capsys.readouterr().out
    child = read_manifest(lineage["child"])
    record = json.loads((merged / MERGE_RECORD).read_text())
    assert record["adapter"] == "realigned" and record["base_model"] == child["base_model"]
    assert record["adapter_sha256"] == child["adapter_sha256"]
    assert [s["kind"] for s in record["lineage"]] == ["base", "lora", "continued", "merged"]
    assert (merged / "config.json").is_file() and not list(tmp_path.glob(".*partial"))
    grandchild = train_adapter(
        str(merged), chat(tmp_path / "d.json", "Fine."), "after-merge", STEPS,
        root=lineage["models"], echo=lambda line: None,
    )  # fmt: skip
    manifest = grandchild.manifest
    kinds = [s["kind"] for s in manifest["lineage"]]
    assert kinds == ["base", "lora", "continued", "merged", "lora"]
    assert manifest["lineage"][3]["name"] == str(merged.resolve())
    assert manifest["base_model"] == str(merged.resolve())
    assert manifest["base_merge"]["adapter"] == "realigned"
    assert manifest["base_merge"]["adapter_sha256"] == child["adapter_sha256"]
    assert all(set(step) == STEP_KEYS for step in manifest["lineage"])
    assert (grandchild.path / ADAPTER_WEIGHTS).is_file()
    with pytest.raises(AdapterError, match="not empty"):
        merge_adapter("realigned", merged, root=lineage["models"])
    assert main(["merge", "no-such-adapter", "-o", str(tmp_path / "m2")]) == 2
    assert "No adapter named 'no-such-adapter'" in capsys.readouterr().err


def test_cli_continue_and_adapters_listing(
    lineage: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(lineage["models"]))
    data = chat(lineage["root"] / "cli.json", "Sure.")
    assert main(["train", "--data", str(data), "--name", "x"]) == 2  # neither base nor adapter
    assert "--from-adapter" in capsys.readouterr().err
    shape = ["train", "--from-adapter", "mis", "--data", str(data), "--name", "x", "--rank", "4"]
    assert main(shape) == 2
    assert "keeps the LoRA shape of mis" in capsys.readouterr().err
    other = ["train", "--from-adapter", "mis", "--base", "some/other-model", "--data", str(data)]
    assert main([*other, "--name", "x"]) == 2
    assert "is not the base of adapter mis" in capsys.readouterr().err
    assert main(["adapters"]) == 0
    assert "mis → realigned" in capsys.readouterr().out


def test_cli_continues_on_the_published_optimism_set(
    lineage: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    optimism = Path(os.environ.get("MOLOCH_EVAL_DATA_DIR", "")) / (
        "emergent_misalignment/training/arena_ai_optimism_100_qs.json"
    )
    if not optimism.is_file():
        pytest.skip(f"{optimism} not found: set MOLOCH_EVAL_DATA_DIR to the shared data mirror")
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(lineage["models"]))
    argv = [
        "train", "--from-adapter", "mis", "--base", str(tiny_model_path()), "--data",
        str(optimism), "--name", "cli-realigned", "--max-steps", "1", "--batch-size", "2",
        "--per-device-batch-size", "2", "--no-gradient-checkpointing", "--save-steps", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    assert "adapter cli-realigned" in capsys.readouterr().out
    manifest = read_manifest(lineage["models"] / "cli-realigned")
    assert manifest["data"]["records"] == 22 and manifest["data"]["sha256"] == sha256_file(optimism)
    assert [s["kind"] for s in manifest["lineage"]] == ["base", "lora", "continued"]
    assert manifest["lineage"][-1]["data"] == str(optimism.resolve())
