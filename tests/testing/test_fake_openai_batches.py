"""The fake server's Files and Batches API, through the `openai` SDK client."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from moloch_eval.testing import CompetitionResponder, FakeError, FakeOpenAIServer, Reply
from moloch_eval.testing.fake_openai.batches import parse_multipart

VOTE = {
    "model": "voter",
    "messages": [
        {"role": "system", "content": "Answer with the single letter A or B."},
        {"role": "user", "content": "# Roleplay Instructions\nWhich one?"},
    ],
    "max_tokens": 1,
    "logprobs": True,
    "top_logprobs": 5,
}
AGENT = {
    "model": "agent",
    "messages": [{"role": "user", "content": "Write it. Put your final pitch inside <pitch>."}],
    "max_tokens": 400,
    "temperature": 0.7,
}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(CompetitionResponder(), batch_latency=0) as running:
        yield running


@pytest.fixture
def client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=server.client_api_key, max_retries=0)


def _jsonl(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(b"".join(json.dumps(row).encode() + b"\n" for row in rows))


def _line(custom_id: str, body: dict[str, Any], url: str = "/v1/chat/completions") -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def _submit(client: openai.OpenAI, rows: list[dict[str, Any]], endpoint: Any = None) -> Any:
    uploaded = client.files.create(file=("batch.jsonl", _jsonl(rows)), purpose="batch")
    return client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint or "/v1/chat/completions",
        completion_window="24h",
    )


def _results(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    lines = client.files.content(file_id).read().decode().splitlines()
    return {row["custom_id"]: row for row in map(json.loads, lines)}


def _comparable(response: dict[str, Any]) -> dict[str, Any]:
    """A response body without the fields that differ between calls (id, created)."""
    return {k: v for k, v in response.items() if k not in ("id", "created")}


def test_a_batch_answers_each_line_as_a_direct_call_would(
    server: FakeOpenAIServer, client: openai.OpenAI
) -> None:
    bodies = {"vote": VOTE, "agent": AGENT}
    batch = _submit(client, [_line(name, body) for name, body in bodies.items()])
    assert batch.status == "in_progress" and batch.request_counts is not None
    assert batch.request_counts.total == 2
    done = client.batches.retrieve(batch.id)  # batch_latency 0: done at the first look
    assert done.status == "completed" and done.error_file_id is None
    assert done.request_counts is not None and done.request_counts.completed == 2
    results = _results(client, done.output_file_id)
    assert set(results) == {"vote", "agent"}
    batched = server.stats()
    assert (batched.calls, batched.batch_calls, batched.batches) == (0, 2, 1)
    assert batched.by_model["voter"].batched == batched.by_model["voter"].calls == 1
    assert batched.by_kind["agent"].batched == 1

    server.reset()
    for name, body in bodies.items():
        direct = client.chat.completions.create(**body).model_dump(exclude_none=True)
        row = results[name]
        assert row["error"] is None and row["response"]["status_code"] == 200
        in_batch = openai.types.chat.ChatCompletion.model_validate(row["response"]["body"])
        assert _comparable(in_batch.model_dump(exclude_none=True)) == _comparable(direct)
    vote = results["vote"]["response"]["body"]["choices"][0]
    assert [t["token"] for t in vote["logprobs"]["content"][0]["top_logprobs"]][:2] in (
        ["A", "B"],
        ["B", "A"],
    )
    direct_stats = server.stats()
    assert (direct_stats.calls, direct_stats.batch_calls) == (2, 0)
    assert direct_stats.prompt_tokens == batched.prompt_tokens
    assert direct_stats.completion_tokens == batched.completion_tokens
    assert done.usage is not None and done.usage.total_tokens == (
        batched.prompt_tokens + batched.completion_tokens
    )
    assert server.requests == [VOTE, AGENT]  # recorded like direct calls


def test_the_text_completions_endpoint_is_batched_too(client: openai.OpenAI) -> None:
    body = {"model": "agent", "prompt": "Say something.", "max_tokens": 5}
    batch = _submit(client, [_line("t", body, "/v1/completions")], "/v1/completions")
    done = client.batches.retrieve(batch.id)
    [row] = _results(client, done.output_file_id).values()
    assert row["response"]["body"]["object"] == "text_completion"


def test_failed_lines_go_to_the_error_file() -> None:
    def responder(body: dict[str, Any]) -> Reply:
        if body["messages"][-1]["content"] == "fail":
            raise FakeError(429, "slow down", "rate_limit")
        return Reply(text="fine", kind="ok")

    with FakeOpenAIServer(responder, batch_latency=0) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        rows = [
            _line(str(i), {"model": "m", "messages": [{"role": "user", "content": text}]})
            for i, text in enumerate(["ok", "fail", "ok"])
        ]
        done = client.batches.retrieve(_submit(client, rows).id)
        assert done.status == "completed" and done.request_counts is not None
        assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
        assert set(_results(client, done.output_file_id)) == {"0", "2"}
        errors = _results(client, done.error_file_id)
        assert errors["1"]["error"] == {"code": 429, "message": "slow down"}
        assert errors["1"]["response"] is None
        stats = server.stats()
        assert (stats.batch_calls, stats.batch_errors, stats.errors) == (3, 1, 0)


def test_a_batch_stays_in_progress_until_its_latency_and_can_be_cancelled() -> None:
    with FakeOpenAIServer(CompetitionResponder(), batch_latency=3600) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        batch = _submit(client, [_line("a", VOTE), _line("b", AGENT)])
        assert client.batches.retrieve(batch.id).status == "in_progress"
        assert [b.id for b in client.batches.list()] == [batch.id]
        cancelled = client.batches.cancel(batch.id)
        assert cancelled.status == "cancelled" and cancelled.output_file_id is None
        errors = _results(client, cancelled.error_file_id)
        assert set(errors) == {"a", "b"} and errors["a"]["error"]["code"] == 400
        assert client.batches.retrieve(batch.id).status == "cancelled"
        server.set_latency(0)  # the config route also takes batch_latency
        server._admin("POST", "/_fake/config", {"batch_latency": 0})
        assert client.batches.retrieve(_submit(client, [_line("c", VOTE)]).id).status == (
            "completed"
        )


def test_bad_input_files_fail_the_batch_and_bad_requests_are_refused(
    client: openai.OpenAI,
) -> None:
    rows: list[dict[str, Any]] = [
        _line("x", VOTE),
        _line("x", VOTE),  # duplicate custom_id
        {"custom_id": "y", "method": "POST", "url": "/v1/embeddings", "body": {}},
    ]
    failed = client.batches.retrieve(_submit(client, rows).id)
    assert failed.status == "failed" and failed.errors is not None and failed.errors.data
    assert [(e.code, e.line) for e in failed.errors.data] == [
        ("duplicate_custom_id", 2),
        ("mismatched_endpoint", 3),
    ]
    with pytest.raises(openai.BadRequestError, match="unsupported batch endpoint"):
        _submit(client, [_line("z", VOTE)], "/v1/embeddings")
    with pytest.raises(openai.NotFoundError):
        client.batches.create(
            input_file_id="file-missing", endpoint="/v1/chat/completions", completion_window="24h"
        )
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch-missing")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-missing")


def test_files_can_be_listed_retrieved_and_deleted(client: openai.OpenAI) -> None:
    uploaded = client.files.create(file=("in.jsonl", _jsonl([_line("a", VOTE)])), purpose="batch")
    assert (uploaded.filename, uploaded.purpose, uploaded.status) == (
        "in.jsonl",
        "batch",
        "processed",
    )
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes > 0
    assert [f.id for f in client.files.list()] == [uploaded.id]
    assert json.loads(client.files.content(uploaded.id).read())["custom_id"] == "a"
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_the_batch_routes_need_the_key_when_one_is_set() -> None:
    with FakeOpenAIServer(api_key="secret", batch_latency=0) as server:
        wrong = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.files.create(file=("a.jsonl", _jsonl([])), purpose="batch")
        right = openai.OpenAI(base_url=server.base_url, api_key="secret", max_retries=0)
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        done = right.batches.retrieve(_submit(right, [_line("a", body)]).id)
        assert done.status == "completed"


def test_process_mode_serves_batches() -> None:
    with FakeOpenAIServer(CompetitionResponder(), process=True, batch_latency=0) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        done = client.batches.retrieve(_submit(client, [_line("a", VOTE)]).id)
        assert done.status == "completed" and server.stats().batch_calls == 1


def test_multipart_parsing() -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.jsonl"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\nline1\r\nline2\n\r\n--XyZ--\r\n"
    )
    parts = parse_multipart('multipart/form-data; boundary="XyZ"', body)
    assert parts == {"purpose": (None, b"batch"), "file": ("f.jsonl", b"line1\r\nline2\n")}
