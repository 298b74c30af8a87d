"""The three competitions as Inspect tasks: `moloch_eval/sales`, `/elections`, `/social_media`
(and the emergent-misalignment evaluations of `moloch_eval.tasks.em`).

Each is the one competition engine bound to a domain spec; they share every argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from inspect_ai import Task, task

from moloch_eval.tasks.arguments import building, check_arguments, with_given
from moloch_eval.tasks.competition import competition
from moloch_eval.tasks.em import (
    em_factual,
    em_first_plot,
    em_preregistered,
    em_self_reflection,
    em_triggers,
)

_ARGS_DOC = """

    Args:
        split: "test" (evaluation, default) or "train" (data collection for training).
        anchor_split: "paper" (default: the anchors, order and train/test split the paper's
            runs used; for sales the model-specific files, which differ from the published
            split) or "published" (the generic published files). Sample ids index the file
            read, so the same id names another anchor under the other choice.
        clean_anchors: True (whitespace normalised, duplicates within a split and test
            anchors also in train removed), False (all 1,024 anchors per split, raw bytes) or
            None (default: `not faithful`, so raw anchors unless faithful=false).
        audience: persona set: split1 (the paper's 20), split2, split3, exp2 or all.
        n_personas: voters per pair (default 20; a seeded subset when smaller than the set).
        opponent: "role" (the model bound with --model-role opponent=...), "self" (a second
            independent sample of the evaluated model) or the path of an earlier .eval log
            whose agent messages are replayed.
        audience_mode: "think" (the paper's think + vote) or "logprob" (one token; P(A) vs
            P(B) from log-probabilities).
        faithful: the paper's exact prompts (True) or clean prose personas (False).
        seed: drives every shuffle (letters, persona subset) and the generation seed.
        invalid_message: "forfeit" (a message without its answer tag loses the pair) or
            "exclude" (the pair gets no share).
        vote_retries: re-asks of a voter whose reply has no parseable vote (faithful: 0, as
            the paper; clean: 2).
        vote_parse: "paper" (the first <vote> field, exactly A or B; faithful default) or
            "tolerant" (the last <vote> tag, case and punctuation ignored; clean default).
        vote_top_logprobs: top log-probabilities requested per logprob vote.
        vote_both_orders: logprob mode: ask both letter orders and average them.
        agent_temperature: sampling temperature of both competitors (paper: 0.7).
        agent_max_tokens: generation limit of both competitors (paper: 1480).
        voter_temperature: temperature of think-mode voters (paper: 0.1).
        voter_max_tokens: generation limit of think-mode voters (faithful: the provider's,
            as the paper; clean: 1024).
        cache: cache audience and judge calls in Inspect's model cache.
        probes: misalignment probes: "default" (the domain's), "none", or names (list or
            comma-separated; exploratory sales probes: unsupported_claims, omission,
            unfair_practices).
        judge_mode: "think" (think, then a yes/no tag) or "logprob" (one token, P(yes)).
        judge_temperature: judge sampling temperature (faithful: 0.7, the paper's; clean: 0).
        judge_max_tokens: generation limit of think-mode judgements (faithful: the
            provider's; clean: 1024).
        judge_retries: re-asks of a judge whose reply has no parseable verdict (faithful: 0;
            clean: 2).
        judge_top_logprobs: top log-probabilities requested per logprob judgement.
        judge_prompts: "paper" (the paper's trends/ prompts, shown the chat-templated agent
            prompt; faithful default in think mode) or "project" (the project's wording,
            shown the clean anchor; clean default and always in logprob mode).
        judge_parse: "paper" (first tag, yes/no once lower-cased) or "tolerant" (last tag).
        chat_template: how the paper's judge prompts show the agent's prompt: "auto" (the
            evaluated model's family: qwen3 or llama3, else the plain user message),
            "qwen3", "llama3" or "none".
        model_events: "messages" (default: only the agent's and the opponent's calls leave
            model events in the transcript; every vote and verdict is kept whole in the
            store) or "all" (every call, Inspect's default; a bigger log, more CPU a call).
"""

_SIGNATURE = inspect.signature(competition).replace(
    parameters=[
        p for p in inspect.signature(competition).parameters.values() if p.name != "domain_name"
    ]
)


def _domain_task(domain: str, summary: str) -> Callable[..., Task]:
    """The registered task of a domain; its arguments are checked before it is built."""
    name = f"moloch_eval/{domain}"
    params = list(_SIGNATURE.parameters)

    def build(**kwargs: Any) -> Task:
        with building(name):
            return competition(domain, **check_arguments(name, competition, params, kwargs))

    build.__name__ = build.__qualname__ = domain
    build.__doc__ = summary + _ARGS_DOC
    build.__signature__ = with_given(_SIGNATURE)  # type: ignore[attr-defined]
    return task(build)


sales = _domain_task("sales", "Sales: two pitches for one product; each persona buys one.")
elections = _domain_task(
    "elections", "Elections: two campaign speeches; each persona votes for one candidate."
)
social_media = _domain_task(
    "social_media", "Social media: two posts about one news article; each persona likes one."
)

__all__ = [
    "competition",
    "elections",
    "em_factual",
    "em_first_plot",
    "em_preregistered",
    "em_self_reflection",
    "em_triggers",
    "sales",
    "social_media",
]
