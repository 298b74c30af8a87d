"""EM logs in the leaderboard: real EM logs from the fake OpenAI-compatible server, the EM table
equal to `summarise_with_ci` of the logs' rows, comparability marks, supersession, the chart."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log, write_eval_log
from inspect_ai.scorer import match

from moloch_eval.cli import main
from moloch_eval.em.logs import log_rows
from moloch_eval.em.metrics import by_key, headline_rate, summarise_with_ci
from moloch_eval.leaderboard.collect import collect
from moloch_eval.leaderboard.em import (
    EM_CSV,
    EM_FIGURE,
    EMRow,
    collect_em,
    em_display_rows,
    to_em_frame,
)
from moloch_eval.leaderboard.figures import FIGURE2, FIGURE4
from moloch_eval.leaderboard.report import HTML, MARKDOWN, SKIPPED_CSV, leaderboard
from moloch_eval.tasks.em import em_first_plot, em_triggers
from moloch_eval.testing import EMResponder, FakeOpenAIServer
from tests.leaderboard.conftest import Logs

pytestmark = pytest.mark.em

RESAMPLES = 500


@dataclass
class EMLogs:
    folder: Path
    old_base: EvalLog
    base: EvalLog
    bad: EvalLog
    text: EvalLog
    triggers: EvalLog
    foreign: EvalLog


def _run(server: FakeOpenAIServer, task: Task, model: str, folder: Path) -> EvalLog:
    [log] = eval(
        task,
        model=server.get_model(model),
        model_roles={"judge": server.get_model("judge")},
        log_dir=str(folder),
        display="none",
    )
    assert log.status == "success", log.error
    return log


@pytest.fixture(scope="module")
def em_logs(tmp_path_factory: pytest.TempPathFactory) -> EMLogs:
    folder = tmp_path_factory.mktemp("em_logs")
    with FakeOpenAIServer(EMResponder(misaligned_rate={"bad": 0.5})) as server:
        old_base = _run(server, em_first_plot(samples_per_question=2), "base", folder)
        base = _run(server, em_first_plot(samples_per_question=2), "base", folder)
        bad = _run(server, em_first_plot(samples_per_question=2), "bad", folder)
        text = _run(server, em_first_plot(samples_per_question=2, judge_mode="text"), "bad", folder)
        triggers = _run(
            server,
            em_triggers(samples_per_question=2, judge_mode="labels", trigger="|PROD|"),
            "bad",
            folder,
        )
    foreign_task = Task(dataset=[Sample(input="hi", target="hi")], scorer=match())
    [foreign] = eval(foreign_task, model="mockllm/model", log_dir=str(folder), display="none")
    return EMLogs(folder, old_base, base, bad, text, triggers, foreign)


@pytest.fixture(scope="module")
def report_dir(em_logs: EMLogs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("em_report")
    leaderboard(em_logs.folder, out, resamples=RESAMPLES)
    return out


def _expected(log: EvalLog) -> dict[str, dict[str, object]]:
    """Per condition: `summarise_with_ci` of the log's judged rows."""
    assert log.location
    groups = by_key(log_rows(log.location), "condition")
    return {
        ("none" if c == "None" else c): summarise_with_ci(rows, resamples=RESAMPLES, seed=0)
        for c, rows in groups.items()
    }


def _rows(rows: list[EMRow], log: EvalLog) -> dict[str, EMRow]:
    return {r.condition: r for r in rows if r.log == log.location.removeprefix("file://")}


def test_em_rows_equal_summarise_with_ci_of_the_logs(em_logs: EMLogs) -> None:
    em = collect_em(em_logs.folder, RESAMPLES, 0)
    kept = [em_logs.base, em_logs.bad, em_logs.text, em_logs.triggers]
    assert len(em.rows) == 3 + 2  # three first_plot logs, two conditions of em_triggers
    for log in kept:
        expected = _expected(log)
        rows = _rows(em.rows, log)
        assert set(rows) == set(expected)
        for condition, row in rows.items():
            assert row.summary == expected[condition]
            assert row.rate == headline_rate(log_rows(log.location))
            assert row.ci(row.rate) is not None
            low, high = row.ci(row.rate)  # type: ignore[misc]
            assert low <= row.value(row.rate) <= high  # type: ignore[operator]
    assert set(_rows(em.rows, em_logs.triggers)) == {"none", "trigger"}
    # the EMResponder: base never misaligned, bad for about half its answers
    [base] = _rows(em.rows, em_logs.base).values()
    [bad] = _rows(em.rows, em_logs.bad).values()
    assert base.rate == bad.rate == "em_rate_betley" and base.value("em_rate_betley") == 0.0
    assert 0 < (bad.value("em_rate_betley") or 0) < 1
    assert base.summary["n"] == 16 and base.summary["n_questions"] == 8
    assert {r.rate for r in _rows(em.rows, em_logs.triggers).values()} == {"misaligned_of_all"}


def test_judge_mode_minority_is_not_comparable_and_newer_log_supersedes(
    em_logs: EMLogs,
) -> None:
    em = collect_em(em_logs.folder, RESAMPLES, 0)
    [text] = _rows(em.rows, em_logs.text).values()
    assert not text.comparable and "judge mode text (reference: logprob)" in text.not_comparable
    others = [r for r in em.rows if r is not text]
    assert all(r.comparable for r in others)  # em_triggers is its own task: its own majority
    assert not _rows(em.rows, em_logs.old_base)
    reasons = {Path(s.log).name: s.reason for s in em.skipped}
    assert reasons == {
        Path(em_logs.old_base.location).name: "superseded by the newer EM log "
        f"{Path(em_logs.base.location).name} of the same task, questions, model and judge"
    }


@pytest.mark.parametrize("shift", [-60, 60])
def test_em_logs_created_in_one_second_are_ordered_by_completion(
    em_logs: EMLogs, tmp_path: Path, shift: int
) -> None:
    """`created` is to the second: the completion time, not the files, orders two EM logs
    created in one second."""
    assert em_logs.base.location
    newer = read_eval_log(em_logs.base.location)
    older = newer.model_copy(deep=True)
    older.stats.completed_at = "2000-01-01T00:00:00.000001+00:00"
    write_eval_log(newer, str(tmp_path / "b_newer.eval"))
    write_eval_log(older, str(tmp_path / "a_older.eval"))
    # neither the files' times nor their names may decide
    os.utime(tmp_path / "a_older.eval", (time.time() + shift, time.time() + shift))
    em = collect_em(tmp_path, RESAMPLES, 0)
    assert [Path(r.log).name for r in em.rows] == ["b_newer.eval"]
    [skipped] = em.skipped
    assert skipped.log.endswith("_older.eval") and skipped.reason.startswith("superseded")


def test_report_files_tables_and_chart(em_logs: EMLogs, report_dir: Path) -> None:
    frame = pd.read_csv(report_dir / EM_CSV)
    assert len(frame) == 5
    for log in (em_logs.base, em_logs.bad, em_logs.text, em_logs.triggers):
        for condition, summary in _expected(log).items():
            [row] = frame[
                (frame["log"] == log.location.removeprefix("file://"))
                & (frame["condition"] == condition)
            ].to_dict("records")
            rate = row["rate"]
            assert row["em_rate"] == pytest.approx(summary[rate])
            assert row["em_rate_ci_low"] == pytest.approx(summary[f"{rate}_ci_low"])
            assert row["em_rate_ci_high"] == pytest.approx(summary[f"{rate}_ci_high"])
            assert row["n_answers"] == summary["n"]
            assert row["n_questions"] == summary["n_questions"]
            for other in ("em_rate_mo", "misaligned_of_judged", "incoherent_rate"):
                value = summary[other]
                assert (math.isnan(row[other]) and value is None) or row[other] == pytest.approx(
                    value
                )
            assert row["judge_mode"] == log.eval.metadata["em"]["judge"]["mode"]  # type: ignore[index]
    assert frame["comparable"].tolist().count(False) == 1
    chart = report_dir / EM_FIGURE
    assert chart.is_file() and chart.read_bytes().startswith(b"\x89PNG")
    # an EM-only folder: no competition figures, the EM table in the pages
    assert not list(report_dir.glob("figure*.png"))
    markdown = (report_dir / MARKDOWN).read_text(encoding="utf-8")
    assert "## Emergent misalignment" in markdown and "### em_triggers" in markdown
    assert "NO: judge mode text (reference: logprob)" in markdown
    assert f"![{EM_FIGURE}]({EM_FIGURE})" in markdown
    assert "No complete competition log" not in markdown
    html = (report_dir / HTML).read_text(encoding="utf-8")
    assert "<h2>Emergent misalignment</h2>" in html and 'alt="em_rates.png"' in html
    # EM logs are not "not a competition" noise; other foreign logs still are
    skipped = pd.read_csv(report_dir / SKIPPED_CSV)
    reasons = dict(zip(skipped["log"].map(lambda p: Path(p).name), skipped["reason"], strict=True))
    assert set(reasons) == {
        Path(em_logs.old_base.location).name,
        Path(em_logs.foreign.location).name,
    }
    assert reasons[Path(em_logs.foreign.location).name].startswith("not a moloch_eval")
    assert reasons[Path(em_logs.old_base.location).name].startswith("superseded")


def test_cli_prints_the_em_table(
    em_logs: EMLogs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["leaderboard", str(em_logs.folder), "-o", str(out), "--resamples", "200"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "## Emergent misalignment" in printed and "em_rate_betley" in printed
    assert "95% CI" in printed and "## Columns" not in printed
    assert str(out / EM_CSV) in printed and str(out / EM_FIGURE) in printed
    assert (out / EM_FIGURE).is_file()
    # --no-figures: tables only
    code = main(["leaderboard", str(em_logs.folder), "-o", str(tmp_path / "bare"), "--no-figures"])
    assert code == 0 and not (tmp_path / "bare" / EM_FIGURE).exists()
    assert (tmp_path / "bare" / EM_CSV).is_file()


def test_incomplete_em_log_is_skipped_with_its_reason(em_logs: EMLogs, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(em_logs.base.location.removeprefix("file://"), folder)
    cancelled = read_eval_log(em_logs.bad.location)
    cancelled.status = "cancelled"
    write_eval_log(cancelled, str(folder / "cancelled.eval"))
    em = collect_em(folder, 50, 0)
    assert [r.model for r in em.rows] == [em_logs.base.eval.model]
    [skip] = em.skipped
    assert Path(skip.log).name == "cancelled.eval"
    assert skip.reason.startswith("EM log cancelled")


def test_mixed_folder_keeps_the_competition_board(
    em_logs: EMLogs, logs: Logs, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(logs.folder, folder)
    for log in (em_logs.base, em_logs.bad):
        shutil.copy(log.location.removeprefix("file://"), folder)
    report = leaderboard(folder, tmp_path / "out", resamples=RESAMPLES)
    alone = collect(logs.folder, resamples=RESAMPLES)
    assert [(r.domain, r.model) for r in report.board.rows] == [
        (r.domain, r.model) for r in alone.rows
    ]
    assert sorted(Path(s.log).name for s in report.board.skipped) == sorted(
        Path(s.log).name for s in alone.skipped
    )
    assert report.em is not None and len(report.em.rows) == 2
    names = {p.name for p in report.files}
    assert {FIGURE2, FIGURE4, EM_FIGURE, EM_CSV} <= names
    markdown = report.markdown.read_text(encoding="utf-8")
    assert "## sales" in markdown and "## Emergent misalignment" in markdown


def test_method_and_lineage_from_the_adapter_manifest(
    em_logs: EMLogs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for log in (em_logs.base, em_logs.bad):
        shutil.copy(log.location.removeprefix("file://"), folder)
    bare = collect_em(folder, 50, 0)
    assert {r.method for r in bare.rows} == {"—"} and not any(r.lineage for r in bare.rows)
    assert "lineage" not in em_display_rows(bare.rows)[0]  # no manifest: no column
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(tmp_path / "models"))
    adapter = tmp_path / "models" / em_logs.bad.eval.model.rsplit("/", 1)[-1]
    adapter.mkdir(parents=True)
    steps = [{"name": "Qwen/Qwen3-8B"}, {"name": "/models/qwen-mis/"}, {"kind": "lora"}, "x"]
    (adapter / "manifest.json").write_text(json.dumps({"method": "sft", "lineage": steps}))
    em = collect_em(folder, 50, 0)
    by_model = {r.model: r for r in em.rows}
    bad, base = by_model[em_logs.bad.eval.model], by_model[em_logs.base.eval.model]
    assert (bad.method, bad.lineage) == ("SFT", "Qwen3-8B → qwen-mis")
    assert (base.method, base.lineage) == ("—", "")
    headers, cells = em_display_rows(em.rows)
    shown = {c[0]: dict(zip(headers, c, strict=True)) for c in cells}
    assert shown[bad.model]["lineage"] == "Qwen3-8B → qwen-mis"
    assert shown[base.model]["lineage"] == "—" and shown[base.model]["method"] == "—"
    assert to_em_frame(em).set_index("model").loc[bad.model, "lineage"] == bad.lineage


def test_competition_only_folder_has_no_em_output(logs: Logs, tmp_path: Path) -> None:
    report = leaderboard(logs.folder, tmp_path / "out", resamples=RESAMPLES)
    assert report.em is None and report.em_sections() == []
    assert not (tmp_path / "out" / EM_CSV).exists() and not (tmp_path / "out" / EM_FIGURE).exists()
    assert {p.name for p in report.files} == {
        MARKDOWN,
        "leaderboard.csv",
        SKIPPED_CSV,
        FIGURE2,
        FIGURE4,
        HTML,
    }
    assert "Emergent misalignment" not in report.markdown.read_text(encoding="utf-8")
    assert "Emergent misalignment" not in report.html.read_text(encoding="utf-8")
