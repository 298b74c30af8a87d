"""Merging an adapter into its base (`moloch-eval merge`): a model folder to train from, with
a `MERGE_RECORD` saying what it was merged from. Heavy libraries (torch, transformers, peft)
are imported inside the function.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from moloch_eval.training.adapters import (
    ADAPTER_WEIGHTS,
    AdapterError,
    resolve_adapter,
    sha256_file,
    verify_adapter,
)
from moloch_eval.training.lineage import MERGE_RECORD, lineage_of, lineage_step


def merge_adapter(
    name_or_path: str,
    output: str | Path,
    root: str | Path | None = None,
    trust_remote_code: bool = False,
    dtype: str = "auto",
) -> Path:
    """Merge an adapter into its base (PEFT merge_and_unload) and save model and tokenizer to
    `output`, with a `MERGE_RECORD` saying what it was merged from (base, adapter, its weights'
    SHA-256, the lineage ending in a "merged" step). Returns the folder.

    `dtype`: "auto" keeps the base's own (e.g. bf16 for the paper's models), or "float32",
    "bfloat16", "float16". The folder is written whole or not at all; it must be new or empty.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype != "auto" and dtype not in dtypes:
        raise ValueError(f"dtype must be auto or one of {sorted(dtypes)}, not {dtype!r}")
    adapter = resolve_adapter(name_or_path, root)
    verify_adapter(adapter)
    out = Path(output).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AdapterError(f"{out} is not empty; choose a new folder for the merged model")
    model = AutoModelForCausalLM.from_pretrained(
        adapter.base_model,
        dtype=dtypes.get(dtype, "auto"),
        trust_remote_code=trust_remote_code,
    )
    merged = PeftModel.from_pretrained(model, str(adapter.path)).merge_and_unload()
    weights_sha256 = sha256_file(adapter.path / ADAPTER_WEIGHTS)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    merged.save_pretrained(str(partial))
    tokenizer = AutoTokenizer.from_pretrained(
        adapter.base_model, trust_remote_code=trust_remote_code
    )
    tokenizer.save_pretrained(str(partial))
    record = {
        "base_model": adapter.base_model,
        "adapter": adapter.name,
        "adapter_path": str(adapter.path),
        "adapter_sha256": weights_sha256,
        "dtype": str(merged.dtype).removeprefix("torch."),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "lineage": [
            *lineage_of(adapter),
            lineage_step("merged", str(out), adapter_sha256=weights_sha256),
        ],
    }
    (partial / MERGE_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        out.rmdir()
    os.replace(partial, out)
    return out
