"""One vLLM server for a base model and all its adapters (``moloch-eval serve``).

The server runs ``vllm serve BASE --enable-lora --lora-modules NAME=PATH ...``: the base is
served under its own name and every adapter under its adapter name, so that, with
``VLLM_BASE_URL`` and ``VLLM_API_KEY`` set as printed, ``inspect eval moloch_eval/sales --model
vllm/NAME`` evaluates the adapter and ``--model vllm/BASE`` (or ``--model-role
opponent=vllm/BASE``) the base, on the same server and GPU.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from moloch_eval.training.adapters import (
    Adapter,
    AdapterError,
    list_adapters,
    verify_adapter,
)

#: LoRA ranks vLLM accepts for --max-lora-rank.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServePlan:
    """What `moloch-eval serve` will run, and the environment that reaches it."""

    base: str
    adapters: list[Adapter]
    command: list[str]
    env: dict[str, str]


def max_lora_rank(ranks: Sequence[int]) -> int:
    """The smallest rank vLLM accepts that covers every adapter."""
    top = max(ranks, default=16)
    for allowed in VLLM_LORA_RANKS:
        if allowed >= top:
            return allowed
    raise AdapterError(f"LoRA rank {top} exceeds what vLLM serves ({VLLM_LORA_RANKS[-1]}).")


def choose_adapters(
    base: str | None, names: Sequence[str] = (), root: str | None = None
) -> tuple[str, list[Adapter]]:
    """The base to serve and its adapters (all of them, or those named)."""
    entries = list_adapters(root)
    usable = [e.adapter for e in entries if e.adapter is not None and e.problem is None]
    if names:
        by_name = {a.name: a for a in usable}
        missing = [n for n in names if n not in by_name]
        if missing:
            broken = {e.name: e.problem for e in entries if e.problem}
            why = "; ".join(f"{n}: {broken.get(n, 'not found')}" for n in missing)
            raise AdapterError(
                f"Cannot serve {', '.join(missing)} ({why}). See moloch-eval adapters."
            )
        usable = [by_name[n] for n in names]
    bases = sorted({a.base_model for a in usable})
    if base is None:
        if not bases:
            raise AdapterError(
                "No adapters to serve; train one with moloch-eval train (see moloch-eval adapters)."
            )
        if len(bases) > 1:
            raise AdapterError(
                f"The adapters have several base models ({', '.join(bases)}); one vLLM server "
                "serves one base: pass --base MODEL."
            )
        base = bases[0]
    chosen = [a for a in usable if a.base_model == base]
    if not chosen:
        raise AdapterError(
            f"No adapter was trained on {base!r} (bases with adapters: "
            f"{', '.join(bases) or 'none'})."
        )
    for adapter in chosen:
        verify_adapter(adapter, check_hash=False)
    return base, chosen


def serve_command(
    base: str,
    adapters: Sequence[Adapter],
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str,
    extra: Sequence[str] = (),
) -> list[str]:
    """The `vllm serve` command line for `base` and its adapters."""
    command = ["vllm", "serve", base, "--host", host, "--port", str(port), "--api-key", api_key]
    if adapters:
        command += [
            "--enable-lora",
            "--max-lora-rank",
            str(max_lora_rank([a.rank for a in adapters])),
            "--max-loras",
            str(len(adapters)),
            "--lora-modules",
            *(f"{a.name}={a.path}" for a in adapters),
        ]
    return command + list(extra)


def client_env(host: str, port: int, api_key: str) -> dict[str, str]:
    """What Inspect's vllm provider needs to reach the server."""
    reach = "localhost" if host in ("0.0.0.0", "::", "") else host
    return {"VLLM_BASE_URL": f"http://{reach}:{port}/v1", "VLLM_API_KEY": api_key}


def plan_serve(
    base: str | None = None,
    names: Sequence[str] = (),
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    api_key: str | None = None,
    extra: Sequence[str] = (),
    root: str | None = None,
) -> ServePlan:
    """Choose the adapters and build the command and the client environment."""
    base, adapters = choose_adapters(base, names, root)
    key = api_key or os.environ.get("VLLM_API_KEY") or secrets.token_urlsafe(18)
    command = serve_command(base, adapters, host=host, port=port, api_key=key, extra=extra)
    return ServePlan(base, adapters, command, client_env(host, port, key))
