"""The ``moloch/NAME`` model provider: an adapter trained by ``moloch-eval train``, by name.

``--model moloch/NAME`` looks the adapter up under the models dir (``models/`` or
``$MOLOCH_EVAL_MODELS_DIR``; a path to an adapter folder works too), checks it (files present,
weights matching the manifest's SHA-256, base as expected) and runs it on one of two backends:

- ``vllm``: Inspect's vLLM provider with LoRA, as ``vllm/BASE:ADAPTER``. With a running server
  (``VLLM_BASE_URL``, e.g. from ``moloch-eval serve``) the adapter is addressed by its served
  name; otherwise Inspect starts ``vllm serve BASE --enable-lora`` and loads the adapter folder.
- ``hf``: Inspect's transformers provider on the local device (CPU, CUDA or MPS), the base
  model with the adapter attached by PEFT (merged into the weights by default; ``-M
  merge=false`` keeps it separate). Log-probabilities work as with ``hf/`` models.

The backend is ``-M backend=vllm|hf``, else ``$MOLOCH_EVAL_BACKEND``, else automatic: vLLM when
``VLLM_BASE_URL`` is set or vllm is installed, otherwise transformers. Other model args:
``base=MODEL`` (refuse to run unless the adapter was trained on MODEL), ``models_dir=DIR``;
the rest go to the backend provider (e.g. ``device``, ``batch_size`` for hf). Remote code is
never trusted unless ``-M trust_remote_code=true`` is passed.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, cast

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import GenerateConfig, ModelAPI

from moloch_eval.providers.adapter_check import checked_adapter
from moloch_eval.training.adapters import AdapterError

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "checked_adapter",  # lives in adapter_check (the backends import it from there)
    "choose_backend",
    "create_moloch_model",
    "moloch_model_api",
]

BACKEND_ENV = "MOLOCH_EVAL_BACKEND"
BACKENDS = ("auto", "vllm", "hf")


def choose_backend(requested: str | None, base_url: str | None = None) -> str:
    """The backend to use: as asked, else vLLM when a server or vllm is there, else hf."""
    choice = (requested or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if choice not in BACKENDS:
        raise AdapterError(
            f"Unknown backend {choice!r} for moloch/ models; use -M backend=vllm or "
            f"-M backend=hf (or {BACKEND_ENV}=...)."
        )
    if choice != "auto":
        return choice
    if base_url or os.environ.get("VLLM_BASE_URL"):
        return "vllm"
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def create_moloch_model(
    model_name: str,
    base_url: str | None = None,
    api_key: str | None = None,
    config: GenerateConfig | None = None,
    **model_args: Any,
) -> ModelAPI:
    """Build the ModelAPI of ``moloch/<model_name>`` on the chosen backend."""
    backend = choose_backend(model_args.pop("backend", None), base_url)
    if backend == "vllm":
        from moloch_eval.providers._vllm import MolochVLLMAPI

        return MolochVLLMAPI(
            model_name,
            base_url=base_url,
            api_key=api_key,
            config=config or GenerateConfig(),
            **model_args,
        )
    try:
        from moloch_eval.providers._hf import MolochHFAPI
    except ImportError as ex:
        raise PrerequisiteError(
            f"moloch/{model_name} on the transformers backend needs torch, transformers and "
            f"peft ({ex}); install them with pip install 'moloch_eval[train]', or serve the "
            "adapter with vLLM (moloch-eval serve) and set VLLM_BASE_URL."
        ) from ex
    return MolochHFAPI(
        model_name,
        base_url=base_url,
        api_key=api_key,
        config=config or GenerateConfig(),
        **model_args,
    )


def moloch_model_api() -> type[ModelAPI]:
    """What the registered provider returns: a factory that picks the backend per model."""
    return cast(type[ModelAPI], create_moloch_model)
