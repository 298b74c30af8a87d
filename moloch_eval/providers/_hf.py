"""The transformers + PEFT backend of ``moloch/NAME`` (imports torch)."""

from __future__ import annotations

from typing import Any

from inspect_ai.model import GenerateConfig
from inspect_ai.model._providers.hf import HuggingFaceAPI

from moloch_eval.providers.adapter_check import checked_adapter
from moloch_eval.training.adapters import Adapter, AdapterError


def attach_adapter(model: Any, adapter: Adapter, merge: bool = True) -> Any:
    """The base model with the adapter's LoRA weights (merged in, or as a PeftModel)."""
    from peft import PeftModel

    try:
        peft_model = PeftModel.from_pretrained(model, str(adapter.path), is_trainable=False)
    except Exception as ex:
        raise AdapterError(
            f"Adapter {adapter.name!r} does not load onto {adapter.base_model!r} "
            f"({type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}). The folder "
            f"{adapter.path} may be damaged or from another base; retrain it with moloch-eval "
            f"train --base {adapter.base_model} ... --name {adapter.name} --overwrite."
        ) from ex
    result = peft_model.merge_and_unload() if merge else peft_model
    result.eval()
    return result


class MolochHFAPI(HuggingFaceAPI):
    """Inspect's hf provider on the adapter's base model, with the adapter attached."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **model_args: Any,
    ) -> None:
        adapter = checked_adapter(model_name, model_args)
        merge = model_args.pop("merge", True)
        merge = merge if isinstance(merge, bool) else str(merge).lower() not in ("0", "false")
        model_args["model_path"] = adapter.base_model
        own_tokenizer = (adapter.path / "tokenizer_config.json").is_file()
        model_args.setdefault(
            "tokenizer_path", str(adapter.path) if own_tokenizer else adapter.base_model
        )
        try:
            super().__init__(
                model_name=adapter.name,
                base_url=base_url,
                api_key=api_key,
                config=config or GenerateConfig(),
                **model_args,
            )
        except OSError as ex:
            raise AdapterError(
                f"The base model {adapter.base_model!r} of adapter {adapter.name!r} cannot be "
                f"loaded ({str(ex).splitlines()[0] if str(ex) else type(ex).__name__}). Make it "
                "available (download it, or set HF_HOME to where it is) and try again."
            ) from ex
        self.adapter = adapter
        self.model = attach_adapter(self.model, adapter, merge=merge)
