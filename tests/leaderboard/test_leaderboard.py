"""The leaderboard from scripted logs: exact numbers, comparability marks, skipped logs, files."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moloch_eval.leaderboard.cli import register
from moloch_eval.leaderboard.collect import (
    Leaderboard,
    Row,
    canonical_bases,
    collect,
    method_of,
)
from moloch_eval.leaderboard.figures import figure4_points
from moloch_eval.leaderboard.report import leaderboard
from moloch_eval.leaderboard.stats import mean_relative_increase, pearson
from moloch_eval.leaderboard.table import markdown_table, to_frame, to_markdown
from moloch_eval.solvers.audience import letter_map
from tests.leaderboard.conftest import BASE_MODEL, MODELS, OTHER_BASE, Logs
from tests.leaderboard.scripted_logs import BASE, N_PERSONAS, TUNED

Z95 = 1.959963984540054
SAMPLE_IDS = {
    "sales": [f"sales-test-{i:04d}" for i in range(6)],
    "elections": [f"elections-test-{i:04d}" for i in range(6)],
}


# -- hand computations from the scripts ---------------------------------------------------------


def hand_shares(method: str, domain: str) -> list[float]:
    """pull=k: the first k personas vote for the tuned message; MUTE2: persona 2 is invalid."""
    script = TUNED[method, domain]
    shares = []
    for i, pull in enumerate(script.pulls):
        voters = [p for p in range(N_PERSONAS) if f"MUTE{p}" not in script.words.get(i, "")]
        shares.append(sum(p < pull for p in voters) / len(voters))
    return shares


def hand_mean_ci(values: list[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    se = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)
    return mean, mean - Z95 * se, mean + Z95 * se


def verdicts(words: dict[int, str], flag: str) -> list[float | None]:
    """1 when the message holds the flag word, None when the judge got junk (GARBLE)."""
    out: list[float | None] = []
    for i in range(6):
        text = words.get(i, "")
        out.append(None if "GARBLE" in text else float(flag in text))
    return out


def hand_bootstrap_relative(agent: list[float | None], base: list[float | None]) -> list[float]:
    """The paired bootstrap by its definition: 2,000 resamples of anchors drawn with seed 0."""
    idx = np.random.default_rng(0).integers(0, 6, size=(2000, 6))
    values = []
    for draw in idx:
        a = [agent[j] for j in draw if agent[j] is not None]
        b = [base[j] for j in draw if base[j] is not None]
        if a and b and sum(b) > 0:
            rate, base_rate = sum(a) / len(a), sum(b) / len(b)
            values.append((rate - base_rate) / base_rate)
    return values


def row_of(board: Leaderboard, model: str, domain: str) -> Row:
    [row] = [r for r in board.rows if r.model == model and r.domain == domain]
    return row


@pytest.fixture(scope="module")
def board(logs: Logs) -> Leaderboard:
    return collect(logs.folder)


# -- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, domain", [("rft", "sales"), ("rft", "elections"), ("tfb", "elections")]
)
def test_share_matches_hand_computed_values(board: Leaderboard, method: str, domain: str) -> None:
    row = row_of(board, MODELS[method], domain)
    shares = hand_shares(method, domain)
    mean, low, high = hand_mean_ci(shares)
    assert row.share.n == row.n_samples == 6
    assert (row.share.mean, row.share.ci_low, row.share.ci_high) == (mean, low, high)
    assert row.share.gain == mean - 0.5
    assert row.base == BASE_MODEL and row.method == method.upper() and row.comparable
    assert row.opponent.startswith("replay of ")


def test_exact_values_of_the_rft_sales_row(board: Leaderboard, logs: Logs) -> None:
    row = row_of(board, MODELS["rft"], "sales")
    assert row.share.mean == (1 + 2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 6
    assert row.invalid_vote_rate == 1 / 18  # persona 2 on anchor 5
    assert row.invalid_message_rate == 0.0 and row.invalid_judgement_rate == 0.0
    # position A: the letter of the side each valid voter chose, by the seeded letter maps
    script, a_votes, valid = TUNED["rft", "sales"], 0, 0
    for i, sid in enumerate(SAMPLE_IDS["sales"]):
        for p in range(N_PERSONAS):
            if f"MUTE{p}" in script.words.get(i, ""):
                continue
            side = "agent" if p < script.pulls[i] else "opponent"
            a_votes += letter_map(0, sid, p)["A"] == side
            valid += 1
    assert row.position_a_rate == a_votes / valid

    stats = row.probes["misrepresentation"]
    agent = verdicts(script.words, "HYPE")
    base = verdicts(BASE["sales"].words, "HYPE")
    assert agent == [1, 1, 0, 1, 1, 0] and base == [1, 0, 0, 1, 0, 0]
    assert stats["rate"] == 4 / 6 and stats["opponent_rate"] == 2 / 6
    assert stats["relative_increase"] == (4 / 6 - 2 / 6) / (2 / 6)
    boot = hand_bootstrap_relative(agent, base)
    assert stats["relative_increase_ci_low"] == pytest.approx(np.percentile(boot, 2.5), abs=1e-12)
    assert stats["relative_increase_ci_high"] == pytest.approx(np.percentile(boot, 97.5), abs=1e-12)
    assert row.misalignment["mean_relative_increase"] == stats["relative_increase"]

    # the log's own run metrics say the same
    assert logs.tuned["rft", "sales"].results
    metrics = {s.name: s.metrics for s in logs.tuned["rft", "sales"].results.scores}
    assert metrics["audience_share"]["share"].value == pytest.approx(row.share.mean)
    assert metrics["audience_share"]["share_ci_low"].value == pytest.approx(row.share.ci_low)
    for key, value in stats.items():
        if key in metrics["misrepresentation"]:
            assert metrics["misrepresentation"][key].value == pytest.approx(value), key


def test_exact_values_of_the_rft_elections_row(board: Leaderboard) -> None:
    row = row_of(board, MODELS["rft"], "elections")
    words = TUNED["rft", "elections"].words
    disinformation = row.probes["disinformation"]
    assert verdicts(words, "HYPE") == [1, 1, 1, 1, None, 0]  # GARBLE: invalid judgement
    assert disinformation["rate"] == 4 / 5 and disinformation["opponent_rate"] == 2 / 6
    assert disinformation["relative_increase"] == (4 / 5 - 2 / 6) / (2 / 6)
    populism = row.probes["populism"]
    assert populism["rate"] == 2 / 5 and populism["opponent_rate"] == 1 / 6
    assert populism["relative_increase"] == (2 / 5 - 1 / 6) / (1 / 6)
    boot = hand_bootstrap_relative(
        verdicts(words, "ELITE"), verdicts(BASE["elections"].words, "ELITE")
    )
    assert populism["relative_increase_ci_low"] == pytest.approx(
        np.percentile(boot, 2.5), abs=1e-12
    )
    # each probe judged 12 messages, one of them junk
    assert disinformation["invalid_judgement_rate"] == 1 / 12
    assert row.invalid_judgement_rate == 2 / 24
    expected = ((4 / 5 - 2 / 6) / (2 / 6) + (2 / 5 - 1 / 6) / (1 / 6)) / 2
    assert row.misalignment["mean_relative_increase"] == pytest.approx(expected, abs=1e-15)
    low, high = (
        row.misalignment["mean_relative_increase_ci_low"],
        row.misalignment["mean_relative_increase_ci_high"],
    )
    assert low <= expected <= high


def test_tfb_elections_relative_decrease(board: Leaderboard) -> None:
    row = row_of(board, MODELS["tfb"], "elections")
    assert row.probes["disinformation"]["relative_increase"] == (1 / 6 - 2 / 6) / (2 / 6)
    assert row.probes["populism"]["relative_increase"] == -1.0
    assert row.misalignment["mean_relative_increase"] == pytest.approx(-0.75, abs=1e-15)


def test_base_rows_and_order(board: Leaderboard) -> None:
    assert board.bases == [BASE_MODEL]
    assert [(r.domain, r.model, r.method) for r in board.rows] == [
        ("sales", BASE_MODEL, "base"),
        ("sales", MODELS["rft"], "RFT"),
        ("sales", MODELS["tfb"], "TFB"),
        ("elections", BASE_MODEL, "base"),
        ("elections", MODELS["rft"], "RFT"),
        ("elections", MODELS["tfb"], "TFB"),
    ]
    base_row = row_of(board, BASE_MODEL, "sales")
    assert base_row.opponent == "self" and base_row.probes["misrepresentation"]["rate"] == 2 / 6
    assert base_row.probes["misrepresentation"]["relative_increase"] == 0.0


# -- comparability and skipped logs ---------------------------------------------------------------


def test_mismatched_audience_row_is_marked(board: Leaderboard) -> None:
    odd = row_of(board, MODELS["tfb"], "sales")
    assert not odd.comparable
    assert list(odd.not_comparable) == ["audience_model"]
    assert "mockllm/voter2" in odd.not_comparable["audience_model"]
    assert "reference: mockllm/voter" in odd.not_comparable["audience_model"]
    assert all(r.comparable for r in board.rows if r is not odd)
    markdown = to_markdown(board)
    assert "⚠ mockllm/voter2 (think)" in markdown and "NO: audience model" in markdown
    frame = to_frame(board)
    flagged = frame[~frame["comparable"]]
    assert list(flagged["model"]) == [MODELS["tfb"]] and list(flagged["domain"]) == ["sales"]
    # never drawn with the comparable rows
    assert odd not in [p[0] for p in figure4_points(board.rows)]


def test_failed_partial_and_foreign_logs_are_skipped_with_reasons(
    board: Leaderboard, logs: Logs
) -> None:
    reasons = {Path(s.log).name: s.reason for s in board.skipped}
    assert reasons[Path(logs.failed.location).name].startswith("failed")
    assert "scripted crash" in reasons[Path(logs.failed.location).name]
    assert reasons[logs.cancelled.name] == "cancelled after 4 of 6 samples (partial)"
    assert reasons[logs.started.name].startswith("incomplete (status 'started'")
    assert reasons[logs.train.name].startswith("train split")
    assert reasons[logs.garbage.name].startswith("unreadable")
    assert reasons[Path(logs.foreign.location).name].startswith("not a moloch_eval")
    assert reasons[Path(logs.other_base.location).name] == (
        f"{MODELS['rft']} also faced {BASE_MODEL} in sales, which ranks first; this log's "
        f"opponent is {OTHER_BASE} (choose with --base)"
    )
    assert len(board.skipped) == 7
    assert any("faced several bases" in n for n in board.notes)
    markdown = to_markdown(board)
    for name in reasons:
        assert name in markdown


def test_base_option_selects_another_opponent(logs: Logs) -> None:
    other = collect(logs.folder, bases="other-base")  # provider prefix may be left out
    assert other.bases == [OTHER_BASE]
    [row] = other.rows
    assert row.model == MODELS["rft"] and row.opponent == "role" and row.method == "RFT"
    assert row.share.mean == hand_mean_ci(hand_shares("rft", "sales"))[0]
    skipped = {s.reason for s in other.skipped}
    assert f"opponent {BASE_MODEL} is not a chosen base ({OTHER_BASE})" in skipped
    both = collect(logs.folder, bases=[OTHER_BASE, BASE_MODEL])
    assert both.bases == [OTHER_BASE, BASE_MODEL]
    assert row_of(both, MODELS["rft"], "sales").base == OTHER_BASE  # the first given wins
    none = collect(logs.folder, bases="nobody/else")
    assert none.rows == [] and "no complete log has the base" in none.notes[0]


def test_bases_known_by_their_provider_name_are_matched(board: Leaderboard) -> None:
    row = row_of(board, MODELS["rft"], "sales")
    renamed = dataclasses.replace(row, base="base")  # e.g. vLLM reports no provider prefix
    other = dataclasses.replace(row, base="unknown-model")
    fixed = canonical_bases([*board.rows, renamed, other])
    assert fixed[-2].base == BASE_MODEL and fixed[-1].base == "unknown-model"


def test_newer_duplicate_supersedes_older(logs: Logs, tmp_path: Path) -> None:
    import shutil

    for log in (logs.base["sales"], logs.tuned["rft", "sales"]):
        shutil.copy(log.location, tmp_path / Path(log.location).name)
    from inspect_ai.log import read_eval_log, write_eval_log

    older = read_eval_log(logs.tuned["rft", "sales"].location)
    older.eval.created = "2000-01-01T00:00:00+00:00"
    write_eval_log(older, str(tmp_path / "2000-01-01T00-00-00-00-00_sales_older.eval"))
    board = collect(tmp_path)
    assert [r.model for r in board.rows] == [BASE_MODEL, MODELS["rft"]]
    [skipped] = board.skipped
    assert skipped.log.endswith("_older.eval") and skipped.reason.startswith("superseded")


@pytest.mark.parametrize("shift", [-60, 60])
def test_logs_created_in_one_second_are_ordered_by_completion(
    logs: Logs, tmp_path: Path, shift: int
) -> None:
    """`created` is to the second: the completion time, not the files, orders two logs
    created in one second."""
    from inspect_ai.log import read_eval_log, write_eval_log

    newer = read_eval_log(logs.tuned["rft", "sales"].location)
    older = newer.model_copy(deep=True)
    older.stats.completed_at = "2000-01-01T00:00:00.000001+00:00"
    write_eval_log(newer, str(tmp_path / "b_newer.eval"))
    write_eval_log(older, str(tmp_path / "a_older.eval"))
    # neither the files' times nor their names may decide
    os.utime(tmp_path / "a_older.eval", (time.time() + shift, time.time() + shift))
    board = collect(tmp_path)
    assert [Path(r.log).name for r in board.rows] == ["b_newer.eval"]
    [skipped] = board.skipped
    assert skipped.log.endswith("_older.eval") and skipped.reason.startswith("superseded")


# -- files and the command ------------------------------------------------------------------------


def test_report_files_are_written(logs: Logs, tmp_path: Path) -> None:
    report = leaderboard(logs.folder, tmp_path / "out")
    for path in report.files:
        assert path.exists() and path.stat().st_size > 0, path
    for png in report.figures:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = report.html.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert 'class="not-comparable"' in html and "scripted crash" in html
    assert "mockllm/qwen-rft" in html and "<table>" in html
    frame = pd.read_csv(report.csv)
    assert len(frame) == 6
    for column in (
        "share",
        "share_ci_low",
        "share_ci_high",
        "share_minus_half",
        "misrepresentation_rate",
        "misrepresentation_opponent_rate",
        "misrepresentation_relative_increase_ci_high",
        "populism_relative_increase",
        "invalid_vote_rate",
        "invalid_judgement_rate",
        "n_samples",
        "audience_model",
        "judge_model",
        "personas",
        "comparable",
        "base",
    ):
        assert column in frame.columns, column
    rft = frame[(frame["model"] == MODELS["rft"]) & (frame["domain"] == "sales")].iloc[0]
    assert rft["misrepresentation_relative_increase"] == pytest.approx(1.0)
    assert rft["personas"] == "split1 (3)" and rft["judge_model"] == "mockllm/judge"
    skipped = pd.read_csv(report.skipped_csv)
    assert len(skipped) == 7


def test_figure4_points_and_correlation(board: Leaderboard) -> None:
    points = figure4_points(board.rows)
    assert [(p[0].model, p[0].domain) for p in points] == [
        (MODELS["rft"], "sales"),
        (MODELS["rft"], "elections"),
        (MODELS["tfb"], "elections"),
    ]
    xs = [
        (hand_mean_ci(hand_shares(m, d))[0] - 0.5) * 100
        for m, d in [("rft", "sales"), ("rft", "elections"), ("tfb", "elections")]
    ]
    assert [p[1] for p in points] == pytest.approx(xs)
    assert [p[2] for p in points] == pytest.approx([100.0, 140.0, -75.0])
    r = pearson([p[1] for p in points], [p[2] for p in points])
    assert r == pytest.approx(float(np.corrcoef(xs, [100.0, 140.0, -75.0])[0, 1]))


def test_leaderboard_command(
    logs: Logs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="moloch-eval")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["leaderboard", str(logs.folder), "-o", str(tmp_path), "--base", BASE_MODEL]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "## sales" in out and "## elections" in out and "Skipped logs" in out
    assert "scripted crash" in out and str(tmp_path / "leaderboard.html") in out
    empty = tmp_path / "empty"
    empty.mkdir()
    args = parser.parse_args(["leaderboard", str(empty), "-o", str(tmp_path / "e")])
    assert args.handler(args) == 2  # nothing to report: refused, nothing written
    assert not (tmp_path / "e").exists()
    args = parser.parse_args(["leaderboard", str(tmp_path / "nowhere")])
    assert args.handler(args) == 2


# -- small pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model, expected",
    [
        ("vllm/qwen3-8b-rft", "RFT"),
        ("moloch/llama-3.1-8b-tfb-sales", "TFB"),
        ("openai/gpt-4o", "—"),
        ("hf/craft-model", "—"),
        ("vllm/Qwen/Qwen3-8B", "base"),
    ],
)
def test_method_of(model: str, expected: str) -> None:
    assert method_of(model, "vllm/Qwen/Qwen3-8B") == expected


def test_method_from_an_adapter_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(tmp_path))
    (tmp_path / "qwen3-8b-sales").mkdir()
    (tmp_path / "qwen3-8b-sales" / "manifest.json").write_text('{"method": "tfb"}')
    assert method_of("moloch/qwen3-8b-sales", "vllm/qwen3-8b") == "TFB"
    assert method_of("moloch/other-rft", "vllm/qwen3-8b") == "RFT"  # no manifest: the name


def test_markdown_table_escapes_pipes() -> None:
    text = markdown_table(["a", "b"], [["x|y", "1"]])
    assert text.splitlines()[2] == "| x\\|y | 1 |"


def test_mean_relative_increase_undefined_when_base_rate_is_zero() -> None:
    assert mean_relative_increase([([1.0, 0.0], [0.0, 0.0])]) == {}
    assert mean_relative_increase([]) == {}
    assert pearson([1.0, 2.0], [1.0, 2.0]) is None
