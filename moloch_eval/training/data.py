"""The training file a run reads: validated prompt-completion records (`load_training_data`),
and how many of them `max_length` cuts (`sequence_lengths`, `truncation_report`).

The data are the conversational prompt-completion records of `moloch_eval.training.build`
(or chat records ``{"messages": [...]}``, whose last assistant message becomes the
completion, and question/answer pairs: `moloch_eval.training.chat_data`). No heavy imports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import sha256_file
from moloch_eval.training.jsonl import read_jsonl, summary_path
from moloch_eval.training.progress import progress


class TrainingDataError(ValueError):
    """A data file that cannot be trained on; the message says what to do."""


@dataclass(frozen=True)
class TrainingData:
    """Validated records and what they say about themselves."""

    path: Path
    records: list[dict[str, Any]]
    method: str | None
    domain: str | None
    sha256: str
    summary: dict[str, Any] | None


_RECORD_FORMATS = (
    "Records must be {'prompt': [messages], 'completion': [assistant message]}, "
    "{'messages': [...]} or {'question': ..., 'answer': ...} (build them with moloch-eval "
    "build-dataset or moloch-eval chat-dataset)."
)


def _as_prompt_completion(record: dict[str, Any], line: int, path: Path) -> dict[str, Any]:
    def bad(why: str) -> TrainingDataError:
        return TrainingDataError(f"{path}:{line}: {why}. {_RECORD_FORMATS}")

    prompt, completion = record.get("prompt"), record.get("completion")
    if not isinstance(prompt, list) or not prompt:
        raise bad("no 'prompt' messages")
    if not isinstance(completion, list) or len(completion) != 1:
        raise bad("'completion' must be a list with one assistant message")
    for message in (*prompt, *completion):
        if not (isinstance(message, dict) and "role" in message and "content" in message):
            raise bad("every message needs a 'role' and a 'content'")
        if not isinstance(message["content"], str):
            raise bad("every message's 'content' must be a string")
    if completion[0]["role"] != "assistant" or not completion[0]["content"].strip():
        raise bad("the completion must be a non-empty assistant message")
    return {
        "prompt": [{"role": str(m["role"]), "content": m["content"]} for m in prompt],
        "completion": [{"role": "assistant", "content": completion[0]["content"]}],
    }


def _chat_record(messages: list[dict[str, str]]) -> dict[str, Any]:
    """A validated conversation as a prompt-completion record (the last message completes)."""
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def load_training_data(path: str | Path) -> TrainingData:
    """Read and validate a training file: JSONL of prompt-completion records (build-dataset),
    of ``{"messages": [...]}`` or of ``{"question", "answer"}`` records, or one JSON list of
    messages or question/answer records (e.g. the ARENA AI-optimism set).

    A bad record is a TrainingDataError naming its file and line (or list item).
    """
    from moloch_eval.training.chat_data import ChatDataError, as_messages, is_json_list

    file = Path(path)
    if not file.is_file():
        raise TrainingDataError(
            f"{file} does not exist; build it with moloch-eval build-dataset --method rft LOG... "
            f"-o {file} (or moloch-eval chat-dataset SOURCE -o {file})"
        )
    records: list[dict[str, Any]] = []
    methods: set[str] = set()
    domains: set[str] = set()
    if is_json_list(file):  # one JSON list: question/answer pairs or messages records
        from moloch_eval.training.chat_data import read_chat_records

        try:
            chats = read_chat_records(file)
        except ChatDataError as ex:
            raise TrainingDataError(str(ex)) from ex
        return TrainingData(
            path=file.resolve(),
            records=[_chat_record(m) for m in chats],
            method=None,
            domain=None,
            sha256=sha256_file(file),
            summary=None,
        )
    lines = read_jsonl(
        file,
        lambda number, ex: TrainingDataError(
            f"{file}:{number}: not JSON ({ex}). One record per line. {_RECORD_FORMATS}"
        ),
    )
    for number, raw in lines:
        if isinstance(raw, dict) and ("prompt" in raw or "completion" in raw):
            records.append(_as_prompt_completion(raw, number, file))
        else:
            try:
                records.append(_chat_record(as_messages(raw, f"{file}:{number}")))
            except ChatDataError as ex:
                raise TrainingDataError(str(ex)) from ex
        meta = raw.get("meta") or {}
        if not isinstance(meta, dict):
            meta = {}
        if meta.get("method"):
            methods.add(str(meta["method"]))
        if meta.get("domain"):
            domains.add(str(meta["domain"]))
    if not records:
        raise TrainingDataError(
            f"{file} holds no records; nothing to train on. Build a training set with "
            f"moloch-eval build-dataset --method rft LOG... -o {file} (or moloch-eval "
            f"chat-dataset SOURCE -o {file}), or give another --data file."
        )
    summary = None
    side = summary_path(file)
    if side.is_file():
        try:
            summary = json.loads(side.read_text(encoding="utf-8"))
        except ValueError:
            summary = None
    return TrainingData(
        path=file.resolve(),
        records=records,
        method=methods.pop() if len(methods) == 1 else ("mixed" if methods else None),
        domain=domains.pop() if len(domains) == 1 else ("mixed" if domains else None),
        sha256=sha256_file(file),
        summary=summary,
    )


def sequence_lengths(records: list[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Token count of every record as TRL tokenizes it (prompt + completion, chat template)."""
    lengths = []
    for record in progress(
        records, desc="measuring lengths", unit="record", disable=len(records) < 500, leave=False
    ):
        encoded = tokenizer.apply_chat_template(
            record["prompt"] + record["completion"], tokenize=True, return_dict=True
        )
        lengths.append(len(encoded["input_ids"]))
    return lengths


def truncation_report(lengths: list[int], max_length: int) -> dict[str, Any]:
    """How many records exceed `max_length` (their end, with the tagged message, is cut)."""
    truncated = sum(n > max_length for n in lengths)
    return {
        "max_length": max_length,
        "records": len(lengths),
        "truncated": truncated,
        "rate": truncated / len(lengths) if lengths else 0.0,
        "longest": max(lengths) if lengths else 0,
        "mean_length": sum(lengths) / len(lengths) if lengths else 0.0,
    }
