"""The throughput benchmark's machinery on a tiny workload (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.reference import PaperDesign, RoleModels
from benchmarks.throughput import main
from benchmarks.workload import Workload, ideal_seconds, paper_design_seconds
from moloch_eval.testing import CompetitionResponder, FakeOpenAIServer


def test_workload_counts_and_bounds() -> None:
    w = Workload(anchors=64, personas=20)  # sales: one probe, judged on both sides
    assert w.probe_names == ["misrepresentation"]
    assert w.calls_per_anchor == 2 + 20 + 2 and w.calls == 1536
    assert w.critical_path() == 4 and w.critical_path(concurrent_messages=True) == 3
    assert ideal_seconds(w.calls, w.critical_path(), 0.5, 16) == 0.5 * 96
    assert ideal_seconds(10, 4, 1.0, 100) == 4.0  # the critical path binds
    # one batch of 64 with 6 workers: ⌈128/6⌉ + ⌈1280/6⌉ + ⌈128/6⌉ rounds
    assert paper_design_seconds(w, 1.0, 6, 64) == 22 + 214 + 22
    assert paper_design_seconds(w, 1.0, 6, 32) == 2 * (11 + 107 + 11)
    elections = Workload(domain="elections", anchors=2, personas=3)
    assert elections.probe_names == ["disinformation", "populism"]
    assert elections.calls == 2 * (2 + 3 + 4) and elections.critical_path() == 5
    assert Workload(probes="none", anchors=1, personas=1).calls == 3
    with pytest.raises(ValueError):
        Workload(audience_mode="shout")


@pytest.mark.parametrize("mode", ["think", "logprob"])
def test_reference_makes_one_call_per_message_vote_and_verdict(mode: str) -> None:
    workload = Workload(anchors=3, personas=4, audience_mode=mode, judge_mode=mode)
    with FakeOpenAIServer(CompetitionResponder(prefer="[agent ")) as server:
        design = PaperDesign(
            workload, server.base_url, server.client_api_key, RoleModels(), workers=3, batch=2
        )
        result = design.run()
        stats = server.stats()
    assert result.calls == stats.calls == workload.calls == 3 * (2 + 4 + 2)
    assert {name: s.calls for name, s in stats.by_model.items()} == {
        "agent": 3,
        "opponent": 3,
        "voter": 12,
        "judge": 6,
    }
    assert result.valid_votes == 12 and result.agent_votes == 12  # voters prefer the agent
    assert len(result.verdicts["misrepresentation"]) == 6
    assert result.workers == 3 and result.batch == 2


def test_benchmark_end_to_end_counts_calls_and_caches(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    argv = ["--anchors", "2", "--personas", "3", "--latency", "0.01", "--concurrency", "4"]
    argv += ["--paper-workers", "2", "--json", str(out), "--work-dir", str(tmp_path / "work")]
    argv += ["--latencies", "0.02", "--defaults-latencies", "0.01,0.02", "--scale-anchors", "1,2"]
    argv += ["--cpu-repeats", "2"]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    runs = report["runs"]
    expected = 2 * (1 + 1 + 3 + 2)
    for key in ("moloch_equal", "paper_equal", "moloch_defaults", "paper_defaults"):
        assert runs[key]["calls"] == runs[key]["expected_calls"] == expected, key
        assert runs[key]["status"] == "success" and not runs[key]["notes"], key
    assert runs["moloch_equal"]["by_kind"]["vote"]["calls"] == 2 * 3
    assert runs["moloch_equal"]["ideal_s"] == pytest.approx(0.01 * 4)  # D = 4 > ⌈14 / 4⌉
    assert runs["paper_defaults"]["concurrency"] == 2
    # the cache: the first run calls the server for everything, the same eval again never
    cache = report["checks"]["cache"]
    assert cache["first_run_calls"] == expected and cache["second_run_calls"] == 0
    assert cache["ok"] and runs["cached"]["calls"] == 0
    # a replayed opponent is read from the log, never generated
    replay = report["checks"]["replay"]
    assert replay["ok"] and replay["opponent_calls"] == 0
    assert replay["replayed_messages"] == replay["anchors"] == 2
    tokens = report["checks"]["tokens"]
    assert tokens["output_tokens_per_vote"]["logprob"] == 1.0
    assert tokens["output_tokens_per_vote"]["think"] > 50 and tokens["ok"]
    assert set(report["checks"]) >= {"ideal_ratio", "speedup_defaults", "speedup_equal", "cpu"}
    # the sweep: each latency has its own runs and targets; the primary one also plain names
    for latency in ("0.01", "0.02"):
        for key in ("moloch_equal", "paper_equal", "moloch_defaults", "paper_defaults"):
            run = runs[f"{key}@{latency}"]
            assert run["calls"] == expected and run["latency_s"] == float(latency), key
        assert {f"ideal_ratio@{latency}", f"speedup_equal@{latency}"} <= set(report["checks"])
        assert f"speedup_defaults@{latency}" in report["checks"]
        # Inspect's floor at the same limits: a bare task, the same calls, ideal and paper
        floor_run = runs[f"bare_equal@{latency}"]
        assert floor_run["system"] == "inspect" and floor_run["calls"] == expected
        assert floor_run["concurrency"] == 4 and floor_run["ideal_s"] is not None
        floor = report["checks"][f"floor_equal@{latency}"]
        assert floor["ideal_ratio"] == pytest.approx(floor_run["ideal_s"] / floor_run["wall_s"])
        equal = runs[f"moloch_equal@{latency}"]
        gap = floor["ideal_ratio"] - equal["ideal_s"] / equal["wall_s"]
        assert floor["package_ratio_below_floor"] == pytest.approx(gap)
        paper = runs[f"paper_equal@{latency}"]["wall_s"]
        assert floor["speedup_equal"] == pytest.approx(paper / floor_run["wall_s"])
    assert runs["moloch_equal"] == runs["moloch_equal@0.01"]
    # the floor: a bare Inspect task makes exactly the competition's calls
    for key in ("bare", "bare_logged", "bare_logprob"):
        assert runs[key]["calls"] == expected and runs[key]["system"] == "inspect", key
        assert runs[key]["by_kind"]["vote"]["calls"] == 2 * 3, key
    cpu = report["checks"]["cpu_think"]
    assert {"floor_ms", "package_share_ms", "floor_every_call_logged_ms"} <= set(cpu)
    # the CPU runs: interleaved rounds, each figure the lower median of its rounds
    for key in ("zero_latency", "bare", "bare_logged", "bare_default_gc"):
        rounds = runs[key]["cpu_samples_ms"]
        assert len(rounds) == 2 and runs[key]["cpu_per_call_ms"] == min(rounds), key
    assert len(runs["audience_logprob"]["cpu_samples_ms"]) == 2
    assert cpu["rounds_ms"] == runs["zero_latency"]["cpu_samples_ms"]
    share = runs["zero_latency"]["cpu_per_call_ms"] - runs["bare"]["cpu_per_call_ms"]
    assert cpu["package_share_ms"] == pytest.approx(share)
    assert "floor_ms" in report["checks"]["cpu_logprob"]
    # CPU against the number of samples: one run per size, at 0 latency
    flat = report["checks"]["flat"]
    assert set(flat["cpu_per_call_ms"]) == {"1", "2"} and runs["scale@1"]["calls"] == expected // 2
    # shards: separate `inspect eval` processes over disjoint sample ranges, one log folder
    for shards in (1, 2):
        run = runs[f"shards@{shards}"]
        assert run["status"] == "success" and run["calls"] == expected, run["notes"]
        assert len(list(Path(run["log"]).glob("*.eval"))) == shards
    assert report["checks"]["shards"]["shards"] == 2
    # the cost of a full replication, per role, from the measured tokens per call
    cost = report["checks"]["cost"]
    assert {r["role"] for r in cost["think"]} == {"audience", "judge"}
    for roles in cost.values():
        assert sum(r["calls"] for r in roles) == 520_000
        assert all(r["batch_dollars"] == pytest.approx(r["dollars"] / 2) for r in roles)
    [think_votes] = [r for r in cost["think"] if r["role"] == "audience"]
    [logprob_votes] = [r for r in cost["logprob"] if r["role"] == "audience"]
    assert logprob_votes["completion_tokens_per_call"] == 1.0
    assert think_votes["completion_tokens_per_call"] > 50
