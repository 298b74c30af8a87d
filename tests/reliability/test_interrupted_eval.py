"""A competition eval killed (SIGKILL) halfway is finished by `inspect eval-retry`.

The eval runs as a real `inspect eval moloch_eval/sales` subprocess against the fake
OpenAI-compatible server (every role on it). It runs one sample at a time; once `DONE`
samples have finished, the server *holds* the next sample: its agent call is answered with
HTTP 503, which Inspect retries with back-off, so the sample stays in progress for as long
as the test needs (no fixed sleep, no race with the kill). Inspect starts a sample only when
the previous one has released its slot, i.e. after that sample was written to the sample
buffer; the held call therefore proves `DONE` samples are recorded. The process is then
SIGKILLed. `inspect eval-retry LOG` must finish the run without re-running or re-scoring the
`DONE` samples (the server sees the calls of the other samples only) and end with the same
scores as an uninterrupted run.

Completed samples are flushed to the `.eval` file every 3 (`--log-buffer 3`, also Inspect's
default for 10 samples), so at the kill 3 are in the log file and 2 only in the sample buffer
database: both recovery paths are exercised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog, list_eval_logs, read_eval_log, recoverable_eval_logs
from inspect_ai.model import ChatMessage

from moloch_eval.tasks import sales
from moloch_eval.testing import CompetitionResponder, FakeError, FakeOpenAIServer, Reply
from moloch_eval.testing.fake_openai import message_texts

pytestmark = pytest.mark.reliability

N = 10  # samples of the run
DONE = 5  # samples finished when the eval is killed
PERSONAS = 2
#: server calls of one sample: agent 1 + opponent 1 + one vote per persona + 2 judgements
CALLS_PER_SAMPLE = 1 + 1 + PERSONAS + 2
INSPECT = [sys.executable, "-m", "inspect_ai"]
ROLES = {"opponent": "opponent", "audience": "voter", "judge": "judge"}


@dataclass
class HoldingResponder:
    """The competition responder, holding every agent call after the first `serve_agent` ones.

    A held call is answered with HTTP 503 (Inspect retries it with back-off), so the sample it
    belongs to stays in progress until `hold` is turned off.
    """

    inner: CompetitionResponder
    serve_agent: int
    hold: bool = True
    agent_calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> Reply:
        if body.get("model") == "agent":
            with self.lock:
                self.agent_calls += 1
                held = self.hold and self.agent_calls > self.serve_agent
            if held:
                raise FakeError(503, "held by the test", kind="held")
        return self.inner(body)


@pytest.fixture
def server() -> Iterator[tuple[FakeOpenAIServer, HoldingResponder]]:
    responder = HoldingResponder(
        CompetitionResponder(think_words=10, agent_think_words=10, message_words=20),
        serve_agent=DONE,
    )
    with FakeOpenAIServer(responder, latency=0.02, max_recorded=4096) as running:
        yield running, responder


def _when(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def _user_text(value: str | list[ChatMessage]) -> str:
    if isinstance(value, str):
        return value
    return [m.text for m in value if m.role == "user"][-1]


def _scores(log: EvalLog) -> dict[Any, dict[str, Any]]:
    assert log.samples is not None
    return {
        s.id: {name: score.value for name, score in (s.scores or {}).items()} for s in log.samples
    }


def _metrics(log: EvalLog) -> dict[tuple[str, str], Any]:
    assert log.results is not None
    return {
        (score.name, name): metric.value
        for score in log.results.scores
        for name, metric in score.metrics.items()
    }


def _uninterrupted(server: FakeOpenAIServer, log_dir: Path) -> EvalLog:
    [log] = eval(
        sales(n_personas=PERSONAS),
        model=server.get_model("agent"),
        model_roles={role: server.get_model(name) for role, name in ROLES.items()},
        limit=N,
        log_dir=str(log_dir),
        display="none",
    )
    assert log.status == "success", log.error
    return log


def test_killed_eval_is_finished_by_eval_retry(
    server: tuple[FakeOpenAIServer, HoldingResponder],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, responder = server
    log_dir = tmp_path / "logs"
    # Inspect's sample buffer lives under $XDG_DATA_HOME: one private to this test, shared by
    # the killed run, this process (to count what was recorded) and the retry
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    env = {**os.environ, **fake.env()}
    command = [*INSPECT, "eval", "moloch_eval/sales", "--model", fake.model("agent")]
    for role, name in ROLES.items():
        command += ["--model-role", f"{role}={fake.model(name)}"]
    command += ["-T", f"n_personas={PERSONAS}", "--limit", str(N), "--max-samples", "1"]
    command += ["--log-buffer", "3", "--log-dir", str(log_dir), "--display", "none"]

    output = tmp_path / "killed-run.txt"
    with output.open("w") as sink:
        run = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while fake.stats().errors == 0:  # the first held agent call: DONE samples recorded
            if run.poll() is not None:
                pytest.fail(f"the eval ended before it was killed:\n{output.read_text()}")
            assert time.monotonic() < deadline, "the eval never reached the held sample"
            time.sleep(0.02)
        killed_at = datetime.now().astimezone()
        run.send_signal(signal.SIGKILL)
    finally:
        run.kill()
        run.wait(30)  # reaped: Inspect recovers only buffers whose process is gone
    assert run.returncode == -signal.SIGKILL
    first = fake.stats()
    assert first.by_model["judge"].calls == 2 * DONE  # nothing of the held sample was scored

    [crashed] = list_eval_logs(str(log_dir))
    [recoverable] = recoverable_eval_logs(str(log_dir))
    assert recoverable.total_samples == N
    assert recoverable.flushed_samples == 3  # in the .eval file
    assert recoverable.completed_samples == DONE - 3  # only in the sample buffer database
    assert recoverable.in_progress_samples == 1  # the held sample
    flushed = read_eval_log(crashed.name)
    assert flushed.status == "started" and flushed.samples is not None
    flushed_uuids = {s.id: s.uuid for s in flushed.samples}
    assert len(flushed_uuids) == 3

    # retry with the hold lifted; count what the retry asks the server for
    responder.hold = False
    fake.reset()
    retry = subprocess.run(
        [*INSPECT, "eval-retry", crashed.name, "--log-dir", str(log_dir), "--display", "none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert retry.returncode == 0, retry.stdout + retry.stderr
    stats = fake.stats()
    requests = fake.requests

    logs = [read_eval_log(info.name) for info in list_eval_logs(str(log_dir))]
    [final] = [log for log in logs if log.status == "success"]
    assert final.samples is not None and len(final.samples) == N
    assert all(s.error is None and s.scores for s in final.samples)
    assert final.eval.task_args.get("n_personas") == PERSONAS
    assert {role: str(m.model) for role, m in (final.eval.model_roles or {}).items()} == {
        role: fake.model(name) for role, name in ROLES.items()
    }

    # the DONE samples were kept from the killed run, the others (the held one included) re-run
    kept = [s for s in final.samples if _when(s.completed_at) < killed_at]
    rerun = [s for s in final.samples if _when(s.started_at) > killed_at]
    assert len(kept) == DONE and len(rerun) == N - DONE
    for sample in final.samples:
        if sample.id in flushed_uuids:
            assert sample.uuid == flushed_uuids[sample.id]
    assert stats.errors == 0
    assert stats.calls == (N - DONE) * CALLS_PER_SAMPLE
    assert stats.by_model["agent"].calls == N - DONE
    assert stats.by_model["judge"].calls == 2 * (N - DONE)  # no completed sample re-scored
    agent_prompts = sorted(message_texts(r)[1] for r in requests if r["model"] == "agent")
    assert agent_prompts == sorted(_user_text(s.input) for s in rerun)

    # the same scores, per sample and in every metric, as a run never interrupted
    fake.reset()
    baseline = _uninterrupted(fake, tmp_path / "baseline")
    assert fake.calls == N * CALLS_PER_SAMPLE
    assert _scores(final) == _scores(baseline)
    assert _metrics(final) == _metrics(baseline)
