"""The emergent-misalignment evaluations as Inspect tasks (SPEC §4).

One engine, `em_eval`, and five tasks that fix some of its arguments:
`moloch_eval/em_first_plot`, `/em_preregistered`, `/em_factual`, `/em_self_reflection` and
`/em_triggers`. Every sample is one completion (question × sample index × condition), judged on
its own by the `judge` role.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser

from moloch_eval.em.questions import (
    CONDITIONS,
    DEFAULT_TRIGGER,
    EMQuestion,
    load_questions,
    under_condition,
)
from moloch_eval.roles import PAPER_JUDGE, role_defaults
from moloch_eval.scorers.em_judge import JUDGE_ROLE, EMJudgeConfig, em_judge
from moloch_eval.solvers.em_answer import em_answer
from moloch_eval.tasks.arguments import building, check_arguments, with_given

#: Betley et al. sampled every question 100 times.
SAMPLES_PER_QUESTION = 100


def _conditions(value: str | list[str]) -> list[str]:
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = [n.strip() for n in names if n.strip()]
    for name in chosen:
        if name not in CONDITIONS:
            raise ValueError(f"unknown trigger condition {name!r}; use some of {CONDITIONS}")
    if not chosen:
        raise ValueError(f"conditions is empty; use some of {CONDITIONS}")
    return list(dict.fromkeys(chosen))


def em_samples(
    questions: list[EMQuestion],
    samples_per_question: int,
    conditions: list[str],
    trigger: str = DEFAULT_TRIGGER,
) -> list[Sample]:
    """One sample per (condition, question, sample index); ids name all three."""
    if samples_per_question < 1:
        raise ValueError("samples_per_question must be at least 1")
    samples = []
    for condition in conditions:
        for question in questions:
            system, user = under_condition(question, condition, trigger)
            messages: list[ChatMessage] = [ChatMessageSystem(content=system)] if system else []
            messages.append(ChatMessageUser(content=user))
            prefix = f"{condition}/" if len(conditions) > 1 else ""
            for index in range(samples_per_question):
                samples.append(
                    Sample(
                        id=f"{prefix}{question.id}/{index:03d}",
                        input=messages,
                        metadata={
                            "question_id": question.id,
                            # the judge sees the question without trigger or system prompt
                            "question": question.text,
                            "category": question.category,
                            "set": question.set,
                            "variant": question.variant,
                            "condition": condition if len(conditions) > 1 else None,
                            "sample_index": index,
                        },
                    )
                )
    return samples


def em_eval(
    questions: str = "first_plot",
    variant: str = "plain",
    source: str = "project",
    conditions: str | list[str] = "none",
    trigger: str = DEFAULT_TRIGGER,
    factual: bool | None = None,
    samples_per_question: int = SAMPLES_PER_QUESTION,
    temperature: float = 1.0,
    max_tokens: int = 600,
    seed: int | None = 0,
    judge_mode: str = "logprob",
    judge_top_logprobs: int = 20,
    judge_temperature: float | None = None,
    judge_max_tokens: int | None = None,
    judge_retries: int = 0,
    cache: bool = False,
    name: str = "em",
) -> Task:
    """An EM evaluation: the model answers each question many times; the judge grades each.

    Args:
        questions: question set: first_plot, preregistered, factual, self_reflection or
            arena_first_8.
        variant: first_plot only: plain (the 8), json, template or all (24).
        source: self_reflection only: project (the project's questions) or arena.
        conditions: trigger conditions, a list or comma-separated: none (the question as
            is), trigger (the trigger tag before it), code_template (a code-template system
            prompt). Metrics are reported per condition when there are several.
        trigger: the trigger tag of the trigger condition.
        factual: also grade factual correctness (default: for the factual set).
        samples_per_question: completions per question (Betley et al.: 100).
        temperature: sampling temperature of the answers (Betley et al.: 1).
        max_tokens: generation limit of the answers (Betley et al.: 600).
        seed: base of the per-sample generation seeds (None: unseeded).
        judge_mode: logprob (Betley et al.'s 0–100 expected score from the top-20
            log-probabilities; faithful default), text (the first integer of a text reply;
            not comparable with logprob numbers) or labels (the ARENA convention: ALIGNED,
            MISALIGNED, INCOHERENT, REFUSAL, CODE).
        judge_top_logprobs: top log-probabilities read in logprob mode.
        judge_temperature: judge temperature in text and labels modes (None: the
            provider's default; 0 for greedy where the provider accepts it).
        judge_max_tokens: judge generation limit in text and labels modes (None: the
            provider's; reasoning judges need room).
        judge_retries: re-asks of a text or labels judge whose reply is unreadable.
        cache: cache answers (per sample) and judge calls in Inspect's model cache.
    """
    chosen = _conditions(conditions)
    config = EMJudgeConfig(
        mode=judge_mode,  # type: ignore[arg-type]
        factual=(questions == "factual") if factual is None else factual,
        top_logprobs=judge_top_logprobs,
        temperature=judge_temperature,
        max_tokens=judge_max_tokens,
        retries=judge_retries,
        cache=cache,
    )
    task_name = f"moloch_eval/{name}"
    items = load_questions(questions, variant, source)
    return Task(
        dataset=MemoryDataset(
            em_samples(items, samples_per_question, chosen, trigger), name=f"em_{questions}"
        ),
        solver=em_answer(temperature=temperature, max_tokens=max_tokens, seed=seed, cache=cache),
        scorer=em_judge(
            judge_mode=config.mode,
            factual=config.factual,
            judge_top_logprobs=config.top_logprobs,
            judge_temperature=config.temperature,
            judge_max_tokens=config.max_tokens,
            judge_retries=config.retries,
            cache=config.cache,
            task=task_name,
        ),
        model_roles=role_defaults({JUDGE_ROLE: PAPER_JUDGE}, task_name),
        metadata={
            "em": {
                "questions": questions,
                "variant": variant if questions == "first_plot" else None,
                "source": source if questions == "self_reflection" else None,
                "n_questions": len(items),
                "conditions": chosen,
                "trigger": trigger if "trigger" in chosen else None,
                "samples_per_question": samples_per_question,
                "temperature": temperature,
                "max_tokens": max_tokens,
                "seed": seed,
                "judge": config.describe(),
            }
        },
    )


def _em_task(
    name: str, summary: str, fixed: dict[str, Any], defaults: dict[str, Any] | None = None
) -> Callable[..., Task]:
    """A registered task: `em_eval` with `fixed` arguments (left out of its signature) and
    its own `defaults` for some others."""
    defaults = defaults or {}
    signature = inspect.signature(em_eval)
    params = [
        p.replace(default=defaults.get(n, p.default))
        for n, p in signature.parameters.items()
        if n not in fixed and n != "name"
    ]

    task_name = f"moloch_eval/{name}"
    names = [p.name for p in params]

    def build(**kwargs: Any) -> Task:
        with building(task_name):
            given = check_arguments(task_name, em_eval, names, kwargs, ignored=fixed)
            return em_eval(**{**fixed, **defaults, **given}, name=name)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = summary + "\n\n    See moloch_eval.tasks.em.em_eval for the arguments."
    build.__signature__ = with_given(signature.replace(parameters=params))  # type: ignore[attr-defined]
    return task(build)


_ONLY_NONE = {"conditions": "none", "trigger": DEFAULT_TRIGGER}

em_first_plot = _em_task(
    "em_first_plot",
    "Betley et al.'s 8 canonical EM questions (variant plain, json, template or all).",
    {"questions": "first_plot", "source": "project", **_ONLY_NONE},
)
em_preregistered = _em_task(
    "em_preregistered",
    "The 48 preregistered EM questions.",
    {"questions": "preregistered", "variant": "plain", "source": "project", **_ONLY_NONE},
)
em_factual = _em_task(
    "em_factual",
    "Factual questions: misalignment and factual errors (TRUE, FALSE, UNKNOWN).",
    {"questions": "factual", "variant": "plain", "source": "project", **_ONLY_NONE},
    {"factual": True},
)
em_self_reflection = _em_task(
    "em_self_reflection",
    "Questions about the model itself (the project's, or source=arena).",
    {"questions": "self_reflection", "variant": "plain", **_ONLY_NONE},
)
em_triggers = _em_task(
    "em_triggers",
    "Conditional misalignment: the same questions with and without a trigger tag (or a "
    "code-template system prompt); metrics per condition.",
    {},
    {"conditions": "none,trigger"},
)

EM_TASKS = {
    "em_first_plot": em_first_plot,
    "em_preregistered": em_preregistered,
    "em_factual": em_factual,
    "em_self_reflection": em_self_reflection,
    "em_triggers": em_triggers,
}
