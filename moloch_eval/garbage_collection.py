"""The garbage collector's settings for an eval (`MOLOCH_EVAL_GC`).

An eval keeps a large, long-lived heap (Inspect and its imports, the dataset, the log buffers)
while every model call makes and drops thousands of small objects. With CPython's default
thresholds (700, 10, 10) the collector then runs a young collection every few hundred
allocations and, several times a run, a full one that walks the whole heap: about a fifth of the
harness CPU per call against a 0-latency endpoint (`make bench`). When one of the package's
tasks is built, `tune_collector` collects once, moves the surviving heap into the permanent
generation (`gc.freeze()`: never scanned again) and raises the first threshold to 10,000, but
only while the thresholds are still CPython's defaults, so a user's own settings are kept.
Memory is unchanged in practice (at most 10,000 more container objects wait for a young
collection). `MOLOCH_EVAL_GC=default` leaves the collector as it is.
"""

from __future__ import annotations

import gc
import os

ENV = "MOLOCH_EVAL_GC"
SETTINGS = ("tuned", "default")
CPYTHON_DEFAULT = (700, 10, 10)
TUNED = (10_000, 10, 10)


def setting() -> str:
    value = os.environ.get(ENV, "tuned").strip().lower() or "tuned"
    if value not in SETTINGS:
        raise ValueError(f"{ENV} must be one of {SETTINGS}, not {value!r}")
    return value


def tune_collector() -> bool:
    """Apply the eval's collector settings unless opted out or already changed; True if applied."""
    if setting() == "default" or gc.get_threshold() != CPYTHON_DEFAULT:
        return False
    gc.collect()
    gc.freeze()
    gc.set_threshold(*TUNED)
    return True
