"""Bad input gives a clear, actionable error and changes nothing (issue 12).

Every case goes through the path a user takes (`inspect eval` / `inspect_ai.eval` by task name,
or `moloch-eval ...` through `moloch_eval.cli.main`) and checks that (i) the message names the
bad value and says what to do, without a traceback, and (ii) the folders involved (log dir,
models dir, output, data mirror or cache) hold exactly what they held before: no file created,
modified or deleted. Task arguments are checked while Inspect builds the task, before it
creates the log dir, so even Inspect writes no error log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match

from moloch_eval.cli import main
from moloch_eval.data import DATA_DIR_ENV, FILES
from moloch_eval.data.anchors import clear_anchor_cache
from moloch_eval.data.cache import CACHE_DIR_ENV
from moloch_eval.data.personas import clear_persona_cache
from moloch_eval.tasks import em_first_plot, sales
from moloch_eval.testing import CompetitionResponder, EMResponder, FakeOpenAIServer
from moloch_eval.training.adapters import ADAPTER_CONFIG, MODELS_DIR_ENV
from moloch_eval.training.selfplay import COLLECT_HINT
from tests.scripted import scripted
from tests.training.adapter_fixtures import short_records, write_records
from tests.training.fake_adapters import fake_adapter
from tests.training.selfplay_fixtures import Scenario, make_selfplay_log

pytestmark = pytest.mark.reliability

SHARED = Path(os.environ[DATA_DIR_ENV])
MOCK_ROLES = {"audience": "mockllm/model", "opponent": "mockllm/model", "judge": "mockllm/model"}

Snapshot = dict[str, tuple[str, int, int, str]]


def snapshot(*roots: Path) -> Snapshot:
    """Every path under `roots` (the roots too): kind, and for files size, mtime and hash."""
    out: Snapshot = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            out[str(root)] = ("absent", 0, 0, "")
            continue
        for path in [root, *sorted(root.rglob("*"))]:
            st = path.lstat()
            if path.is_symlink():
                out[str(path)] = ("link", 0, st.st_mtime_ns, os.readlink(path))
            elif path.is_dir():  # its entries are compared; its mtime also moves when a
                out[str(path)] = ("dir", 0, 0, "")  # failed run removes what it created
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[str(path)] = ("file", st.st_size, st.st_mtime_ns, digest)
    return out


@dataclass(frozen=True)
class Logs:
    """Logs of every kind, each alone in its own folder."""

    competition: Path  # sales, test split, opponent=role: an evaluation, not self-play
    em: Path  # moloch_eval/em_first_plot
    plain: Path  # a mockllm log of a task that is not this package's
    junk: Path  # a file named .eval that is no log
    tie: Path  # a self-play log whose only round is a tie: no training record
    train: Path  # a self-play log with a winner (train split)


def _only(folder: Path) -> Path:
    [found] = list(folder.glob("*.eval"))
    return found


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    root = tmp_path_factory.mktemp("kinds")
    with FakeOpenAIServer(CompetitionResponder()) as server:
        [log] = eval(
            sales(n_personas=2, probes="none"),
            model=server.get_model("agent"),
            model_roles={"audience": server.get_model("voter"), "opponent": server.get_model("o")},
            limit=1,
            log_dir=str(root / "competition"),
            display="none",
        )
        assert log.status == "success", log.error
    with FakeOpenAIServer(EMResponder()) as server:
        [log] = eval(
            em_first_plot(samples_per_question=1),
            model=server.get_model("model"),
            model_roles={"judge": server.get_model("judge")},
            limit=2,
            log_dir=str(root / "em"),
            display="none",
        )
        assert log.status == "success", log.error
    [log] = eval(
        Task(dataset=[Sample(input="hi", target="hi")], scorer=match(), name="plain"),
        model=scripted("plain", lambda messages, config: "hi"),
        log_dir=str(root / "plain"),
        display="none",
    )
    assert log.status == "success", log.error
    (root / "junk").mkdir()
    (root / "junk" / "notes.eval").write_bytes(b"these are my notes, not a log\n")
    make_selfplay_log(root / "tie", [Scenario(agent_votes=1)], n_personas=2)
    make_selfplay_log(root / "train", [Scenario(agent_votes=2)], n_personas=2)
    return Logs(
        competition=_only(root / "competition"),
        em=_only(root / "em"),
        plain=_only(root / "plain"),
        junk=root / "junk" / "notes.eval",
        tie=_only(root / "tie"),
        train=_only(root / "train"),
    )


def _eval_refused(task: str, log_dir: Path, **kwargs: Any) -> str:
    """Run a task by name the way `inspect eval` does; its error message (it must fail)."""
    kwargs.setdefault("model", "mockllm/model")
    kwargs.setdefault("model_roles", MOCK_ROLES)
    with pytest.raises(PrerequisiteError) as err:
        eval(task, log_dir=str(log_dir), display="none", limit=1, **kwargs)
    return str(err.value.message)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err + captured.out


# -- unknown task argument values and names ---------------------------------------------------

#: (task, -T arguments, what the message must say: the bad value and what to use instead)
TASK_ARGUMENT_CASES = [
    ("sales", {"judge_mode": "bogus"}, ["'bogus'", "'think'", "'logprob'"]),
    ("sales", {"anchor_split": "mine"}, ["'mine'", "'paper'", "'published'"]),
    ("sales", {"audience": "split9"}, ["'split9'", "audience", "'split1'", "'exp2'"]),
    ("elections", {"invalid_message": "ignore"}, ["'ignore'", "'forfeit'", "'exclude'"]),
    ("sales", {"audience_mode": "vibes"}, ["'vibes'", "'think'", "'logprob'"]),
    ("sales", {"split": "dev"}, ["'dev'", "'train'", "'test'"]),
    ("sales", {"opponent": "nobody"}, ["'nobody'", "'role'", "'self'", ".eval"]),
    ("sales", {"vote_parse": "loose"}, ["'loose'", "'paper'", "'tolerant'"]),
    ("social_media", {"judge_prompts": "mine"}, ["'mine'", "'paper'", "'project'"]),
    ("sales", {"judge_parse": "loose"}, ["'loose'", "'tolerant'"]),
    ("sales", {"chat_template": "mistral"}, ["'mistral'", "'qwen3'", "'llama3'"]),
    ("sales", {"probes": "lying"}, ["'lying'", "misrepresentation", "omission"]),
    ("sales", {"n_personas": 0}, ["n_personas", "between 1 and 20", "not 0"]),
    ("sales", {"n_personas": "many"}, ["n_personas='many'", "whole number", "n_personas=20"]),
    ("sales", {"faithful": "maybe"}, ["faithful='maybe'", "true or false", "faithful=true"]),
    ("sales", {"judge_mod": "logprob"}, ["'judge_mod'", "Did you mean -T judge_mode="]),
    ("em_first_plot", {"judge_mode": "think"}, ["'think'", "'logprob'", "'labels'"]),
    ("em_first_plot", {"variant": "long"}, ["'long'", "'plain'", "'json'"]),
    ("em_self_reflection", {"source": "web"}, ["'web'", "'project'", "'arena'"]),
    ("em_triggers", {"conditions": "none,sunset"}, ["'sunset'", "'trigger'", "code_template"]),
    ("em_preregistered", {"samples_per_question": "lots"}, ["'lots'", "whole number"]),
    ("em_factual", {"sample_per_question": 3}, ["'sample_per_question'", "samples_per_question"]),
]


@pytest.mark.parametrize(
    "task, args, expected",
    TASK_ARGUMENT_CASES,
    ids=[f"{t}-{next(iter(a))}" for t, a, _ in TASK_ARGUMENT_CASES],
)
def test_bad_task_argument_stops_before_any_log(
    task: str, args: dict[str, Any], expected: list[str], tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    before = snapshot(tmp_path)
    message = _eval_refused(f"moloch_eval/{task}", log_dir, task_args=args)
    assert f"moloch_eval/{task}" in message
    for text in expected:
        assert text in message, (text, message)
    assert snapshot(tmp_path) == before  # not even an Inspect error log


@pytest.mark.parametrize("kind", ["em", "junk", "plain"])
def test_replayed_opponent_of_the_wrong_kind(logs: Logs, kind: str, tmp_path: Path) -> None:
    path = getattr(logs, kind)
    before = snapshot(tmp_path, path.parent)
    message = _eval_refused(
        "moloch_eval/sales", tmp_path / "logs", task_args={"opponent": str(path)}
    )
    assert str(path) in message and "-T opponent=role|self" in message
    assert snapshot(tmp_path, path.parent) == before


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["-T", "judge_mod=logprob"], ["'judge_mod'", "-T judge_mode="]),
        (["-T", "audience=split9"], ["'split9'", "'split1'"]),
    ],
)
def test_inspect_eval_command_prints_the_message_without_traceback(
    argv: list[str], expected: list[str], tmp_path: Path
) -> None:
    inspect_cli = Path(sys.executable).with_name("inspect")
    log_dir = tmp_path / "logs"
    before = snapshot(tmp_path)
    command = [str(inspect_cli), "eval", "moloch_eval/sales", "--model", "mockllm/model"]
    done = subprocess.run(
        [*command, *argv, "--log-dir", str(log_dir), "--limit", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},  # one line per sentence
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output, output
    for text in expected:
        assert text in output, (text, output)
    assert snapshot(tmp_path) == before


# -- missing or corrupt data files ------------------------------------------------------------


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data mirror of links to the shared files (so that one can be removed or damaged)."""
    root = tmp_path / "mirror"
    for relpath in FILES:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).symlink_to(SHARED / relpath)
    monkeypatch.setenv(DATA_DIR_ENV, str(root))
    clear_persona_cache()
    clear_anchor_cache()
    yield root
    clear_persona_cache()
    clear_anchor_cache()


PERSONAS = "molochs_bargain/persona/split1.json"
ANCHORS = "molochs_bargain_prompts/task_sales/Qwen/Qwen3-8B/test.json"
EM_QUESTIONS = "emergent_misalignment/questions/first_plot_questions.yaml"


@pytest.mark.parametrize(
    "task, relpath",
    [("sales", PERSONAS), ("sales", ANCHORS), ("em_first_plot", EM_QUESTIONS)],
)
@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_data_file(
    mirror: Path, tmp_path: Path, task: str, relpath: str, damage: str
) -> None:
    path = mirror / relpath
    path.unlink()
    if damage == "corrupt":
        path.write_bytes((SHARED / relpath).read_bytes()[:-10] + b"tampered!!")
    before = snapshot(tmp_path)
    message = _eval_refused(f"moloch_eval/{task}", tmp_path / "logs")
    assert relpath in message and str(mirror) in message and DATA_DIR_ENV in message
    assert FILES[relpath].url in message  # where the right file comes from
    if damage == "missing":
        assert "missing from the local mirror" in message
    else:
        assert "Checksum mismatch" in message and FILES[relpath].sha256 in message
        assert "replace it with the pinned file" in message
    assert snapshot(tmp_path) == before


def test_damaged_cache_without_network_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cache mode (no mirror): a damaged cached copy is the package's own; it is fetched again.
    Offline, the error says the copy was damaged and how to get the data; the only change is
    that the damaged copy is gone (kept, it could never be used), nothing else is written."""
    monkeypatch.delenv(DATA_DIR_ENV)
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "data" / PERSONAS
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'[{"character_name": "EVIL"}]')

    def offline(request: Any, timeout: float) -> Any:
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    clear_persona_cache()
    try:
        before = snapshot(tmp_path)
        message = _eval_refused("moloch_eval/sales", tmp_path / "logs")
    finally:
        clear_persona_cache()
    assert PERSONAS in message and "was damaged" in message and str(cached) in message
    assert FILES[PERSONAS].url in message and DATA_DIR_ENV in message
    assert "network is unreachable" in message
    after = snapshot(tmp_path)
    for changed in (cached, cached.parent):  # the damaged copy removed from its folder
        before.pop(str(changed))
        after.pop(str(changed), None)
    assert after == before


# -- a log of the wrong kind given to build-dataset and leaderboard ---------------------------


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("competition", "is not a self-play log"),
        ("em", "is not a moloch_eval competition log (task 'moloch_eval/em_first_plot')"),
        ("plain", "is not a moloch_eval competition log (task 'plain')"),
        ("junk", "cannot be read as an Inspect log"),
        ("missing", "does not exist"),
        ("empty_folder", "holds no .eval logs"),
    ],
)
def test_build_dataset_refuses_a_log_of_the_wrong_kind(
    logs: Logs, kind: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if kind == "missing":
        given = tmp_path / "no-such.eval"
    elif kind == "empty_folder":
        given = tmp_path / "empty"
        given.mkdir()
    else:
        given = getattr(logs, kind)
    out = tmp_path / "out" / "sales-rft.jsonl"
    before = snapshot(tmp_path, given.parent)
    code, message = _cli(capsys, "build-dataset", "--method", "rft", str(given), "-o", str(out))
    assert code == 2
    assert str(given) in message and expected in message
    assert COLLECT_HINT in message  # the command that collects self-play data
    assert "Traceback" not in message
    assert snapshot(tmp_path, given.parent) == before


def test_build_dataset_with_zero_records_writes_nothing(
    logs: Logs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sales-rft.jsonl"
    before = snapshot(tmp_path, logs.tie.parent)
    code, message = _cli(capsys, "build-dataset", "--method", "rft", str(logs.tie), "-o", str(out))
    assert code == 2
    assert "No training records" in message and "ties: 1 (1 dropped" in message
    assert "Collect more self-play data" in message
    assert snapshot(tmp_path, logs.tie.parent) == before


def test_leaderboard_refuses_a_folder_of_the_wrong_logs(
    logs: Logs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    for path in (logs.plain, logs.junk, logs.train):
        shutil.copy2(path, folder / path.name)
    out = tmp_path / "board"
    before = snapshot(tmp_path)
    code, message = _cli(capsys, "leaderboard", str(folder), "-o", str(out))
    assert code == 2
    assert "nothing was written" in message and "Traceback" not in message
    assert f"{folder / logs.plain.name}: not a moloch_eval competition log (task plain)" in message
    assert f"{folder / logs.junk.name}: unreadable" in message
    assert f"{folder / logs.train.name}: train split" in message
    assert "point it at the folder that holds them" in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_leaderboard_wants_a_folder(
    logs: Logs, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = logs.competition if kind == "file" else tmp_path / "nowhere"
    before = snapshot(tmp_path, logs.competition.parent)
    code, message = _cli(capsys, "leaderboard", str(given), "-o", str(tmp_path / "board"))
    assert code == 2
    assert str(given) in message and "give the folder that holds the evaluation logs" in message
    assert snapshot(tmp_path, logs.competition.parent) == before


# -- adapter names with path separators or .. -------------------------------------------------

BAD_NAMES = ["team/rft", "team\\rft", "..", "../rft", "rft/../../etc"]


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A models dir holding one (fake-weights) adapter on the base `org/base`."""
    root = tmp_path / "models"
    fake_adapter(root, "good", "org/base")
    monkeypatch.setenv(MODELS_DIR_ENV, str(root))
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_records(tmp_path / "data.jsonl", short_records(4))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_train_refuses_a_path_as_adapter_name(
    models: Path, data: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(tmp_path)
    code, message = _cli(capsys, "train", "--base", "org/base", "--data", str(data), "--name", name)
    assert code == 2
    assert f"Invalid adapter name {name!r}" in message
    assert "use letters, digits, '.', '_' and '-' only" in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_merge_serve_and_from_adapter_refuse_a_path_that_is_no_adapter(
    models: Path, data: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(tmp_path)
    code, message = _cli(capsys, "merge", name, "-o", str(tmp_path / "merged"))
    assert code == 2 and repr(name) in message
    assert "never '/', '\\' or '..'" in message and "good" in message  # the known adapters
    code, message = _cli(
        capsys, "train", "--from-adapter", name, "--data", str(data), "--name", "next"
    )
    assert code == 2 and repr(name) in message and "moloch-eval adapters" in message
    code, message = _cli(capsys, "serve", name, "--dry-run")
    assert code == 2 and f"Cannot serve {name}" in message and "moloch-eval adapters" in message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_moloch_provider_refuses_a_path_that_is_no_adapter(
    models: Path, tmp_path: Path, name: str
) -> None:
    before = snapshot(tmp_path)
    message = _eval_refused(
        "moloch_eval/sales",
        tmp_path / "logs",
        model=f"moloch/{name}",
        model_args={"backend": "hf"},
        task_args={"probes": "none"},
    )
    assert repr(name) in message and "moloch-eval adapters" in message
    assert snapshot(tmp_path) == before


# -- a manifest whose base does not match -----------------------------------------------------


def test_from_adapter_with_another_base(
    models: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(tmp_path)
    code, message = _cli(
        capsys, "train", "--from-adapter", "good", "--base", "org/other", "--data", str(data),
        "--name", "next",
    )  # fmt: skip
    assert code == 2
    assert "--base org/other is not the base of adapter good (org/base)" in message
    assert "drop --base" in message
    assert snapshot(tmp_path) == before


def test_moloch_provider_with_another_base(models: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    message = _eval_refused(
        "moloch_eval/sales",
        tmp_path / "logs",
        model="moloch/good",
        model_args={"backend": "hf", "base": "org/other"},
        task_args={"probes": "none"},
    )
    assert "'good' was trained on 'org/base', not 'org/other'" in message
    assert "drop the base argument" in message
    assert snapshot(tmp_path) == before


def test_merge_of_an_adapter_whose_files_name_another_base(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = models / "good" / ADAPTER_CONFIG
    config.write_text(json.dumps({"r": 16, "base_model_name_or_path": "org/other"}))
    before = snapshot(tmp_path)
    code, message = _cli(capsys, "merge", "good", "-o", str(tmp_path / "merged"))
    assert code == 2
    assert "names base model 'org/other' but its manifest names 'org/base'" in message
    assert "Retrain it" in message
    assert snapshot(tmp_path) == before


# -- an empty dataset -------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n", "[]\n"], ids=["empty", "blank-lines", "[]"])
def test_train_on_an_empty_dataset(
    models: Path, tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / ("data.json" if content.startswith("[") else "data.jsonl")
    data.write_text(content)
    before = snapshot(tmp_path)
    code, message = _cli(
        capsys, "train", "--base", "org/base", "--data", str(data), "--name", "new"
    )
    assert code == 2
    assert str(data) in message and "holds no records" in message
    assert "moloch-eval build-dataset" in message or '{"messages"' in message
    assert snapshot(tmp_path) == before


def test_train_on_a_base_that_cannot_be_loaded(
    models: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = str(tmp_path / "no-such-model")
    before = snapshot(tmp_path)
    code, message = _cli(capsys, "train", "--base", base, "--data", str(data), "--name", "new")
    assert code == 2
    assert f"Could not load {base}" in message and "Hugging Face" in message
    assert "Traceback" not in message
    assert snapshot(tmp_path) == before


def test_train_when_truncation_leaves_no_completion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records whose prompt alone fills --max-length: TRL keeps none of them. A clear error,
    and the run's new adapter folder (TRL made its checkpoints folder) is removed again."""
    from moloch_eval.local import tiny_model_path

    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    records = short_records(4)
    for record in records:
        record["prompt"][-1]["content"] = "Describe the product. " * 40  # type: ignore[index]
    data = write_records(tmp_path / "long.jsonl", records)
    base = str(tiny_model_path())
    before = snapshot(tmp_path)
    code, message = _cli(
        capsys, "train", "--base", base, "--data", str(data), "--name", "short",
        "--max-length", "16", "--max-steps", "1", "--batch-size", "2",
        "--per-device-batch-size", "2", "--no-gradient-checkpointing",
    )  # fmt: skip
    assert code == 2
    assert "keeps any of its completion within --max-length 16" in message
    assert "Raise --max-length" in message
    assert snapshot(tmp_path) == before


# -- a persona set that does not exist --------------------------------------------------------


def test_sweep_with_a_persona_set_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_dir = tmp_path / "sweep"
    before = snapshot(tmp_path)
    code, message = _cli(
        capsys, "sweep", "--models", "mockllm/tuned", "--base", "mockllm/base",
        "--log-dir", str(log_dir), "--audience", "mockllm/voter", "--judge", "mockllm/judge",
        "--domains", "sales", "-T", "audience=split9", "--display", "none",
    )  # fmt: skip
    assert code == 2
    assert "'split9'" in message and "'split1'" in message and "Traceback" not in message
    assert snapshot(tmp_path) == before
