"""Test-wide settings: offline data mirror, offline hub, isolated caches."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

os.environ.setdefault("MOLOCH_EVAL_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Keep the tiny model and Inspect's caches out of the user's home during tests.
os.environ.setdefault(
    "MOLOCH_EVAL_CACHE_DIR", os.path.join(tempfile.gettempdir(), "moloch_eval_test_cache")
)
os.environ.setdefault("INSPECT_LOG_DIR", os.path.join(tempfile.gettempdir(), "moloch_eval_logs"))
