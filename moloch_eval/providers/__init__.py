"""Model providers of the package. Light at import time: the implementation loads on use.

``--model moloch/NAME`` evaluates the adapter NAME trained by ``moloch-eval train`` (see
`moloch_eval.providers.moloch`).
"""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi


@modelapi(name="moloch")
def moloch() -> type[ModelAPI]:
    """The `moloch/NAME` provider: a trained adapter on vLLM or transformers + PEFT."""
    from moloch_eval.providers.moloch import moloch_model_api

    return moloch_model_api()


__all__ = ["moloch"]
