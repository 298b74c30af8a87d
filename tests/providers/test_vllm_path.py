"""`vllm/NAME` (and `moloch/NAME` on its vLLM backend) against a fake OpenAI-compatible server.

The server stands in for the one `moloch-eval serve` starts: it lists the base and the
adapters by name, and every request's `model` says which of them Inspect addressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog

from moloch_eval.records import competition_of
from moloch_eval.tasks import sales
from moloch_eval.testing.fake_openai import CompetitionResponder, FakeOpenAIServer
from moloch_eval.training.serve import plan_serve
from tests.training.fake_adapters import fake_adapter

BASE = "Qwen/Qwen3-8B"
ADAPTERS = ("qwen3-8b-rft", "qwen3-8b-tfb")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    from inspect_ai.model._providers._vllm_lora import _vllm_servers

    models = tmp_path / "models"
    for name in ADAPTERS:
        fake_adapter(models, name, BASE)
    monkeypatch.setenv("MOLOCH_EVAL_MODELS_DIR", str(models))
    monkeypatch.delenv("MOLOCH_EVAL_BACKEND", raising=False)
    with FakeOpenAIServer(
        CompetitionResponder(), models=[BASE, *ADAPTERS], api_key="serve-key"
    ) as fake:
        # the environment `moloch-eval serve` prints, for a server on the fake's port
        plan = plan_serve(BASE, port=fake.port, api_key="serve-key")
        assert plan.env["VLLM_BASE_URL"] == fake.base_url
        for key, value in plan.env.items():
            monkeypatch.setenv(key, value)
        _vllm_servers.clear()
        yield fake
    _vllm_servers.clear()


def _eval(model: str, log_dir: Path) -> EvalLog:
    [log] = eval(
        sales(n_personas=2, probes="none"),
        model=model,
        model_roles={"opponent": f"vllm/{BASE}", "audience": f"vllm/{BASE}"},
        limit=2,
        log_dir=str(log_dir),
        display="none",
    )
    assert log.status == "success", log.error
    return log


def test_vllm_name_reaches_the_served_adapter(server: FakeOpenAIServer, tmp_path: Path) -> None:
    log = _eval(f"vllm/{ADAPTERS[0]}", tmp_path)
    by_model = server.stats().by_model
    assert by_model[ADAPTERS[0]].calls == 2  # one agent message per anchor, by adapter name
    assert by_model[BASE].calls == 2 + 2 * 2  # the base: opponent messages and votes
    assert log.samples
    for sample in log.samples:
        record = competition_of(sample)
        assert record.agent is not None and record.agent.valid
        assert ADAPTERS[0] in (record.agent.message or "")  # the fake names the model it played
        assert record.opponent is not None and BASE in (record.opponent.message or "")


def test_moloch_name_uses_the_server_when_vllm_base_url_is_set(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    log = _eval(f"moloch/{ADAPTERS[1]}", tmp_path)
    assert log.eval.model == f"moloch/{ADAPTERS[1]}"
    assert server.stats().by_model[ADAPTERS[1]].calls == 2
    assert all(r["model"] in (BASE, ADAPTERS[1]) for r in server.requests)
