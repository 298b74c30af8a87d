"""The vLLM backend of ``moloch/NAME``: Inspect's vllm provider as ``vllm/BASE:ADAPTER``."""

from __future__ import annotations

import os
from typing import Any

from inspect_ai.model import GenerateConfig
from inspect_ai.model._providers.vllm import VLLMAPI

from moloch_eval.providers.adapter_check import checked_adapter


class MolochVLLMAPI(VLLMAPI):
    """The adapter on a vLLM server with LoRA.

    With an external server (``VLLM_BASE_URL``, a ``base_url`` or a ``port``) the adapter is
    addressed by its name, as ``moloch-eval serve`` registers it (``--lora-modules
    NAME=PATH``); otherwise Inspect starts a server for the base and loads the adapter folder.
    """

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        port: int | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **server_args: Any,
    ) -> None:
        adapter = checked_adapter(model_name, server_args)
        external = bool(base_url or port or os.environ.get("VLLM_BASE_URL"))
        suffix = adapter.name if external else str(adapter.path)
        self.adapter_name = adapter.name
        super().__init__(
            f"{adapter.base_model}:{suffix}",
            base_url=base_url,
            port=port,
            api_key=api_key,
            config=config or GenerateConfig(),
            **server_args,
        )
        self.model_name = adapter.name

    def _resolve_server(self) -> None:
        super()._resolve_server()
        # the OpenAI-compatible base names the model after the base; the adapter is the model
        self.model_name = self.adapter_name
