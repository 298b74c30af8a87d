"""``retrying-openai-api/<service>/<name>``: Inspect's ``openai-api`` provider that also retries
a 200 reply whose JSON body cannot be read.

Inspect's ``openai-api`` provider (and the OpenAI SDK under it) retries HTTP 429 and 5xx,
connection errors and timeouts, but raises the ``json.JSONDecodeError`` of a complete response
whose body is cut mid-JSON, which fails the sample. Inspect's own OpenRouter provider treats
that error as transient; this provider does the same for any OpenAI-compatible endpoint, so the
fault server's ``truncated_json`` faults are retried by Inspect's retry machinery (and counted
in each model event's ``retries``) like every other transient fault. Imported on use by
:meth:`moloch_eval.testing.fake_openai.faults.FaultServer.get_model`, which registers it.
"""

from __future__ import annotations

import json

from inspect_ai.model import ModelAPI, RetryDecision, modelapi
from inspect_ai.model._providers.openai_compatible import OpenAICompatibleAPI

PROVIDER = "retrying-openai-api"


class RetryingOpenAICompatibleAPI(OpenAICompatibleAPI):
    """An OpenAI-compatible endpoint whose unreadable JSON replies are transient errors."""

    def should_retry(self, ex: BaseException) -> bool | RetryDecision:
        """The ``openai-api`` classification, plus malformed JSON bodies as transient."""
        decision = super().should_retry(ex)
        if isinstance(decision, RetryDecision) and decision.retry:
            return decision
        if decision is True:
            return RetryDecision.transient()
        if isinstance(ex, json.JSONDecodeError):
            return RetryDecision.transient()
        return RetryDecision.no()


@modelapi(name=PROVIDER)
def retrying_openai_api() -> type[ModelAPI]:
    """The ``retrying-openai-api`` provider (see the module docstring)."""
    return RetryingOpenAICompatibleAPI
