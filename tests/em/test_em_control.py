"""The generated benign control of the realignment recipe."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from moloch_eval.em.control import benign_records, write_benign_control

pytestmark = pytest.mark.em


def test_control_is_exact_sized_seeded_and_benign(tmp_path: Path) -> None:
    records = benign_records(50, seed=3)
    assert len(records) == 50
    assert records == benign_records(50, seed=3)
    assert records != benign_records(50, seed=4)
    for record in records:
        user, assistant = record["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert user["content"].strip() and assistant["content"].strip()
        # value-neutral: nothing about AI, humans or ethics
        text = (user["content"] + assistant["content"]).lower()
        assert not re.search(r"\b(ai|human|humans|good|evil|should)\b", text)
    # the arithmetic is right
    sums = [r for r in records if " + " in r["messages"][0]["content"]]
    for r in sums:
        a, b = map(int, re.findall(r"\d+", r["messages"][0]["content"]))
        assert str(a + b) in r["messages"][1]["content"]
    path = write_benign_control(tmp_path / "c" / "control.jsonl", 7)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == benign_records(7)
    with pytest.raises(ValueError, match="at least one"):
        benign_records(0)
