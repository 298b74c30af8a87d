"""The fake server's OpenAI Files and Batches API, enough for Inspect's batch mode (``--batch``).

Routes (all under ``/v1``, also without the prefix):

- ``POST /files`` (multipart: ``file`` and ``purpose``), ``GET /files``, ``GET /files/{id}``,
  ``GET /files/{id}/content``, ``DELETE /files/{id}``;
- ``POST /batches`` (``input_file_id``, ``endpoint``, ``completion_window``), ``GET /batches``,
  ``GET /batches/{id}``, ``POST /batches/{id}/cancel``.

When a batch is created, each line of its input file (``{"custom_id", "method": "POST", "url",
"body"}``) is answered at once by the server's responder exactly as a direct call to ``url``
would be (:func:`~moloch_eval.testing.fake_openai.completions.complete`: same reply, log
probabilities and usage) and counted as a *batched* call (``batch_calls``, and ``batched`` in
the per-model and per-kind tables). The batch reports ``in_progress`` until ``batch_latency``
seconds (default: the server's per-call latency) plus the longest extra delay of its replies
have passed, then ``completed`` with an output file (one ``{"custom_id", "response":
{"status_code": 200, "body": ...}}`` line per answered request) and, when some failed, an error
file (``{"custom_id", "response": null, "error": {"code", "message"}}``; a
:class:`~moloch_eval.testing.fake_openai.FakeError` raised by the responder becomes such a
line). A file with unreadable lines makes the batch ``failed`` with ``errors``; a cancelled
batch fails its unfinished lines. A reply's ``body_bytes`` cut does not apply to batch lines.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moloch_eval.testing.fake_openai.completions import complete
from moloch_eval.testing.fake_openai.protocol import Connection, error_body
from moloch_eval.testing.fake_openai.replies import FakeError, Responder
from moloch_eval.testing.fake_openai.stats import Counters

#: the request endpoints a batch may name, and whether each is the chat API
BATCH_ENDPOINTS = {"/v1/chat/completions": True, "/v1/completions": False}
_FILE_ROUTE = re.compile(r"^(?:/v1)?/files(?:/([^/]+)(/content)?)?$")
_BATCH_ROUTE = re.compile(r"^(?:/v1)?/batches(?:/([^/]+)(/cancel)?)?$")


class _Rejected(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a ``multipart/form-data`` body: name -> (file name or None, content)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/form-data") or match is None:
        raise _Rejected(400, "expected a multipart/form-data upload")
    delimiter = b"--" + match.group(1).encode("latin-1")
    parts: dict[str, tuple[str | None, bytes]] = {}
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            continue
        disposition = next(
            (
                line
                for line in head.decode("utf-8", "replace").split("\r\n")
                if line.lower().startswith("content-disposition:")
            ),
            "",
        )
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name is not None:
            parts[name.group(1)] = (
                filename.group(1) if filename else None,
                content.removesuffix(b"\r\n"),
            )
    return parts


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def card(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }


@dataclass
class BatchJob:
    """One batch: its OpenAI object (``info``), when it is done (loop time), its result files."""

    info: dict[str, Any]
    done_at: float
    output: list[dict[str, Any]]
    errors: list[dict[str, Any]]


class Batches:
    """The files and batches of one server; lives on the server's event loop with its core.

    `now` is the loop's clock; `latency` gives the batch latency when a batch is created.
    """

    def __init__(
        self,
        responder: Callable[[], Responder],
        counters: Callable[[], Counters],
        record: Callable[[dict[str, Any]], None],
        next_id: Callable[[], int],
        latency: Callable[[], float],
        now: Callable[[], float],
    ) -> None:
        self.responder, self.counters, self.record = responder, counters, record
        self.next_id, self.latency, self.now = next_id, latency, now
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, BatchJob] = {}
        self.serial = 0

    def _new_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-fake-{self.serial}"

    def handle(
        self, conn: Connection, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> bool:
        """Answer a Files or Batches request; False when `path` is neither."""
        file_route, batch_route = _FILE_ROUTE.match(path), _BATCH_ROUTE.match(path)
        if file_route is None and batch_route is None:
            return False
        self.counters().other += 1
        try:
            if file_route is not None:
                status, payload, content_type = self._files(method, file_route, headers, body)
            else:
                assert batch_route is not None
                status, payload, content_type = self._batches(method, batch_route, body)
        except _Rejected as ex:
            status, payload = ex.status, error_body(ex.status, ex.message, ex.kind)
            content_type = "application/json"
        conn.send(status, payload, content_type)
        return True

    # -- files ------------------------------------------------------------------------------

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise _Rejected(404, f"no file {file_id!r}", "not_found")
        return stored

    def _files(
        self, method: str, route: re.Match[str], headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, str]:
        file_id, content = route.group(1), route.group(2)
        if file_id is None and method == "POST":
            parts = parse_multipart(headers.get("content-type", ""), body)
            if "file" not in parts:
                raise _Rejected(400, "the upload has no 'file' part")
            filename, data = parts["file"]
            purpose = parts.get("purpose", (None, b"batch"))[1].decode() or "batch"
            stored = StoredFile(self._new_id("file"), filename or "upload.jsonl", purpose, data)
            self.files[stored.id] = stored
            return 200, _json(stored.card()), "application/json"
        if file_id is None and method == "GET":
            cards = [f.card() for f in self.files.values()]
            return (
                200,
                _json({"object": "list", "data": cards, "has_more": False}),
                "application/json",
            )
        if file_id is not None and content and method == "GET":
            return 200, self._file(file_id).data, "application/octet-stream"
        if file_id is not None and not content and method == "GET":
            return 200, _json(self._file(file_id).card()), "application/json"
        if file_id is not None and not content and method == "DELETE":
            self._file(file_id)
            del self.files[file_id]
            return (
                200,
                _json({"id": file_id, "object": "file", "deleted": True}),
                "application/json",
            )
        raise _Rejected(404, f"no route {method} {route.group(0)}", "not_found")

    # -- batches ----------------------------------------------------------------------------

    def _job(self, batch_id: str) -> BatchJob:
        job = self.jobs.get(batch_id)
        if job is None:
            raise _Rejected(404, f"no batch {batch_id!r}", "not_found")
        return job

    def _batches(self, method: str, route: re.Match[str], raw: bytes) -> tuple[int, bytes, str]:
        batch_id, cancel = route.group(1), route.group(2)
        if batch_id is None and method == "POST":
            try:
                request = json.loads(raw or b"{}")
            except ValueError as ex:
                raise _Rejected(400, f"bad request: {ex}") from None
            if not isinstance(request, dict):
                raise _Rejected(400, "the request body must be a JSON object")
            job = self.create(request)
            return 200, _json(job.info), "application/json"
        if batch_id is None and method == "GET":
            infos = [self.refresh(job).info for job in self.jobs.values()]
            return (
                200,
                _json({"object": "list", "data": infos, "has_more": False}),
                "application/json",
            )
        if batch_id is not None and cancel and method == "POST":
            return 200, _json(self.cancel(self._job(batch_id)).info), "application/json"
        if batch_id is not None and not cancel and method == "GET":
            return 200, _json(self.refresh(self._job(batch_id)).info), "application/json"
        raise _Rejected(404, f"no route {method} {route.group(0)}", "not_found")

    def create(self, request: dict[str, Any]) -> BatchJob:
        """Validate a batch request, answer every line of its file, and register the job."""
        endpoint = request.get("endpoint")
        if endpoint not in BATCH_ENDPOINTS:
            raise _Rejected(400, f"unsupported batch endpoint {endpoint!r}")
        stored = self._file(str(request.get("input_file_id")))
        now = int(time.time())
        info: dict[str, Any] = {
            "id": self._new_id("batch"),
            "object": "batch",
            "endpoint": endpoint,
            "input_file_id": stored.id,
            "completion_window": request.get("completion_window") or "24h",
            "status": "in_progress",
            "created_at": now,
            "in_progress_at": now,
            "expires_at": now + 86_400,
            "metadata": request.get("metadata"),
            "output_file_id": None,
            "error_file_id": None,
            "errors": None,
        }
        lines, problems = _read_lines(stored.data, endpoint)
        if problems:
            info |= {"status": "failed", "failed_at": now, "request_counts": None}
            info["errors"] = {"object": "list", "data": problems}
            job = BatchJob(info, self.now(), [], [])
        else:
            output, errors, delay = self._answer(lines)
            info["request_counts"] = {"total": len(lines), "completed": 0, "failed": 0}
            job = BatchJob(info, self.now() + self.latency() + delay, output, errors)
            self.counters().batches += 1
        self.jobs[info["id"]] = job
        return job

    def _answer(
        self, lines: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
        counters, responder = self.counters(), self.responder()
        output: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        delay = 0.0
        for line in lines:
            body, custom_id = line["body"], line["custom_id"]
            call_id = self.next_id()
            self.record(body)
            counters.batch_calls += 1
            try:
                done = complete(responder, body, BATCH_ENDPOINTS[line["url"]], call_id)
            except FakeError as ex:
                counters.batch_errors += 1
                errors.append(_error_line(call_id, custom_id, ex.status, ex.message))
                continue
            except Exception as ex:
                counters.batch_errors += 1
                message = f"responder failed: {type(ex).__name__}: {ex}"
                errors.append(_error_line(call_id, custom_id, 500, message))
                continue
            counters.tally(
                done.model, done.kind, done.prompt_tokens, done.completion_tokens, batched=True
            )
            delay = max(delay, done.delay)
            response = {"status_code": 200, "request_id": f"req-{call_id}", "body": done.response}
            output.append(
                {"id": f"batch_req-{call_id}", "custom_id": custom_id, "response": response}
                | {"error": None}
            )
        return output, errors, delay

    def refresh(self, job: BatchJob) -> BatchJob:
        """Complete an in-progress job whose time has come: write its result files."""
        info = job.info
        if info["status"] != "in_progress" or self.now() < job.done_at:
            return job
        info["status"], info["completed_at"] = "completed", int(time.time())
        info["finalizing_at"] = info["completed_at"]
        self._write_results(job, job.output, job.errors)
        return job

    def cancel(self, job: BatchJob) -> BatchJob:
        """Cancel a job: an unfinished one fails all its lines (error file), a done one stays."""
        self.refresh(job)
        if job.info["status"] == "in_progress":
            now = int(time.time())
            job.info |= {"status": "cancelled", "cancelling_at": now, "cancelled_at": now}
            cancelled = [
                _error_line(0, line["custom_id"], 400, "batch cancelled")
                for line in [*job.output, *job.errors]
            ]
            self._write_results(job, [], cancelled)
        return job

    def _write_results(
        self, job: BatchJob, output: list[dict[str, Any]], errors: list[dict[str, Any]]
    ) -> None:
        info = job.info
        for key, rows, name in (
            ("output_file_id", output, "output"),
            ("error_file_id", errors, "errors"),
        ):
            if rows:
                data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
                stored = StoredFile(
                    self._new_id("file"), f"{info['id']}_{name}.jsonl", "batch_output", data
                )
                self.files[stored.id] = stored
                info[key] = stored.id
        info["request_counts"] = {
            "total": len(job.output) + len(job.errors),
            "completed": len(output),
            "failed": len(errors),
        }
        usage = [row["response"]["body"].get("usage") or {} for row in output]
        prompt = sum(u.get("prompt_tokens", 0) for u in usage)
        completion = sum(u.get("completion_tokens", 0) for u in usage)
        info["usage"] = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        }


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _error_line(call_id: int, custom_id: str, status: int, message: str) -> dict[str, Any]:
    return {
        "id": f"batch_req-{call_id}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": status, "message": message},
    }


def _read_lines(data: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The requests of a batch input file, and its problems (OpenAI ``BatchError`` dicts)."""
    lines: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, text in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            problems.append({"code": "invalid_json_line", "line": number, "message": "not JSON"})
            continue
        custom_id = line.get("custom_id") if isinstance(line, dict) else None
        problem = None
        if not isinstance(line, dict) or not isinstance(custom_id, str) or not custom_id:
            problem = ("missing_custom_id", "each line needs a custom_id")
        elif custom_id in seen:
            problem = ("duplicate_custom_id", f"custom_id {custom_id!r} appears twice")
        elif line.get("url") != endpoint:
            problem = ("mismatched_endpoint", f"url {line.get('url')!r} is not {endpoint!r}")
        elif not isinstance(line.get("body"), dict):
            problem = ("invalid_request", "body must be a JSON object")
        if problem is not None:
            problems.append({"code": problem[0], "line": number, "message": problem[1]})
            continue
        assert isinstance(custom_id, str)
        seen.add(custom_id)
        lines.append(line)
    if not lines and not problems:
        problems.append({"code": "empty_file", "line": None, "message": "the file has no requests"})
    return lines, problems
