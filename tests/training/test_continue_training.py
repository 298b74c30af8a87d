"""Continuing an adapter (--from-adapter), merging one, and the lineage in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("peft")

from moloch_eval.cli import main
from moloch_eval.local import tiny_model_path
from moloch_eval.training.adapters import ADAPTER_WEIGHTS, AdapterError, read_manifest, sha256_file
from moloch_eval.training.cli import lineage_text
from moloch_eval.training.sft import MERGE_RECORD, merge_adapter, train_adapter
from tests.training.adapter_fixtures import FAST

pytestmark = pytest.mark.em

STEPS = FAST.__class__(**{**FAST.__dict__, "max_steps": 2, "save_steps": 1})


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
    child = train_adapter(
        None, chat(root / "good.json", "Kindly."), "realigned", STEPS, from_adapter="mis", **quiet
    )
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


def test_merge_then_train_records_the_origin(lineage: dict[str, Path], tmp_path: Path) -> None:
    merged = merge_adapter("realigned", tmp_path / "merged", root=lineage["models"])
    record = json.loads((merged / MERGE_RECORD).read_text())
    assert record["adapter"] == "realigned" and record["lineage"][-1]["kind"] == "merged"
    assert (merged / "config.json").is_file()
    grandchild = train_adapter(
        str(merged), chat(tmp_path / "d.json", "Fine."), "after-merge", STEPS,
        root=lineage["models"], echo=lambda line: None,
    )  # fmt: skip
    kinds = [s["kind"] for s in grandchild.manifest["lineage"]]
    assert kinds == ["base", "lora", "continued", "merged", "lora"]
    assert (grandchild.path / ADAPTER_WEIGHTS).is_file()
    with pytest.raises(AdapterError, match="not empty"):
        merge_adapter("realigned", merged, root=lineage["models"])


def test_cli_continue_and_adapters_listing(
    lineage: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(lineage["models"]))
    data = chat(lineage["root"] / "cli.json", "Sure.")
    assert main(["train", "--data", str(data), "--name", "x"]) == 2  # neither base nor adapter
    assert "--from-adapter" in capsys.readouterr().err
    assert main(["adapters"]) == 0
    assert "mis → realigned" in capsys.readouterr().out
