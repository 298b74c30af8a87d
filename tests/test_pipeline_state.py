"""Step state checked by hashes: what counts as finished, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moloch_eval.pipeline_state import PipelineState, StateError


def test_a_step_is_finished_only_while_its_inputs_and_outputs_hold(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("result")
    state = PipelineState(tmp_path / "state.json", {"a": 1})
    assert state.check("step", {"x": "1"}) == (None, "not run yet")
    state.record("step", {"x": "1"}, {"file": out}, note="kept")

    resumed = PipelineState(tmp_path / "state.json", {"a": 1})
    record, why = resumed.check("step", {"x": "1"})
    assert record is not None and why == "finished, outputs verified"
    assert record.path("file") == out and record.info["note"] == "kept"
    assert resumed.check("step", {"x": "2"})[1] == "its inputs changed (x)"
    out.write_text("edited")
    assert "changed (SHA-256 mismatch)" in resumed.check("step", {"x": "1"})[1]
    out.unlink()
    assert "is missing" in resumed.check("step", {"x": "1"})[1]


def test_state_is_written_atomically_and_configurations_are_not_mixed(tmp_path: Path) -> None:
    path = tmp_path / "run" / "state.json"
    PipelineState(path, {"seed": 0, "name": "x"})
    assert json.loads(path.read_text())["config"] == {"seed": 0, "name": "x"}
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]
    with pytest.raises(StateError, match=r"changed: seed\).*--restart"):
        PipelineState(path, {"seed": 1, "name": "x"})
    PipelineState(path, {"seed": 1, "name": "x"}, restart=True)
    assert json.loads(path.read_text())["config"]["seed"] == 1
    path.write_text("{not json")
    with pytest.raises(StateError, match="cannot be read"):
        PipelineState(path, {"seed": 1, "name": "x"})
    path.write_text(json.dumps({"version": 99, "config": {}}))
    with pytest.raises(StateError, match="state version 99"):
        PipelineState(path, {})
