"""One competition engine for every domain: agent vs opponent, judged by a persona audience."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from inspect_ai import Task
from inspect_ai.model import GenerateConfig

from moloch_eval.data import PERSONA_SETS, Persona, load_personas
from moloch_eval.domains import DomainSpec, get_domain
from moloch_eval.probes import PROBES
from moloch_eval.protocol import provenance, resolve
from moloch_eval.roles import PAPER_JUDGE, PAPER_VOTER, role_defaults
from moloch_eval.scorers import audience_share
from moloch_eval.scorers.audience_share import INVALID_MESSAGE_POLICIES
from moloch_eval.scorers.judge import JUDGE_ROLE, JudgeConfig
from moloch_eval.scorers.probe import PROBE_SCORERS, judge_config
from moloch_eval.solvers import AudienceConfig, agent_message, audience_vote, opponent_message
from moloch_eval.solvers.audience import AUDIENCE_MODES, AUDIENCE_ROLE
from moloch_eval.solvers.events import check_model_events
from moloch_eval.solvers.opponent import OPPONENT_ROLE, load_replay
from moloch_eval.tasks.dataset import competition_dataset

OPPONENT_MODES = ("role", "self")
SPLITS = ("train", "test")


def choose_personas(name: str, n: int, seed: int) -> list[Persona]:
    """The audience: the first `n` of a set when it is that size, else a seeded subset.

    The same personas vote on every anchor (in set order), so shares are paired across runs.
    """
    personas = load_personas(name)
    if not 1 <= n <= len(personas):
        raise ValueError(f"n_personas must be between 1 and {len(personas)} for {name!r}, not {n}")
    if n == len(personas):
        return personas
    keep = set(random.Random(f"{seed}:personas:{name}").sample(range(len(personas)), n))
    return [p for i, p in enumerate(personas) if i in keep]


def choose_probes(domain: DomainSpec, probes: str | list[str]) -> list[str]:
    """Probe names from the `probes` argument: "default" (the domain's), "none", or names.

    Names may be a list or a comma-separated string; "default" may be combined with more
    names (e.g. "default,omission").
    """
    names = probes.split(",") if isinstance(probes, str) else list(probes)
    chosen: list[str] = []
    for raw in names:
        name = raw.strip()
        if name in ("", "none"):
            continue
        for item in domain.probes if name == "default" else (name,):
            if item not in PROBES:
                raise ValueError(f"Unknown probe {item!r}; choose from {sorted(PROBES)}.")
            if item not in chosen:
                chosen.append(item)
    return chosen


def _protocol(
    faithful: bool,
    audience_mode: str,
    judging: JudgeConfig,
    voting_args: dict[str, Any],
    judge_args: dict[str, Any],
    clean_anchors: bool | None,
) -> dict[str, dict[str, Any]]:
    """Each faithful/clean setting of the run, its value and what set it (for the log)."""
    names = ("judge_temperature", "judge_max_tokens", "judge_retries", "judge_parse")
    given = {**voting_args, "judge_prompts": judge_args["judge_prompts"]}
    given.update({name: judge_args[name] for name in names})
    given["clean_anchors"] = clean_anchors
    out = provenance(faithful, given)
    if judging.prompts != out["judge_prompts"]["value"]:
        out["judge_prompts"] = {"value": judging.prompts, "set_by": f"judge_mode={judging.mode}"}
    if audience_mode != "think":
        for name in voting_args:
            out[name]["used"] = False  # one-token votes are read from log-probabilities
    if judging.mode != "think":
        for name in names:
            out[name]["used"] = False
    return out


def competition(
    domain_name: str,
    *,
    split: str = "test",
    anchor_split: str = "paper",
    clean_anchors: bool | None = None,
    audience: str = "split1",
    n_personas: int = 20,
    opponent: str = "role",
    audience_mode: str = "think",
    faithful: bool = True,
    seed: int = 0,
    invalid_message: str = "forfeit",
    vote_retries: int | None = None,
    vote_parse: str | None = None,
    vote_top_logprobs: int = 20,
    vote_both_orders: bool = False,
    agent_temperature: float = 0.7,
    agent_max_tokens: int = 1480,
    voter_temperature: float = 0.1,
    voter_max_tokens: int | None = None,
    cache: bool = False,
    probes: str | list[str] = "default",
    judge_mode: str = "think",
    judge_temperature: float | None = None,
    judge_max_tokens: int | None = None,
    judge_retries: int | None = None,
    judge_top_logprobs: int = 20,
    judge_prompts: str | None = None,
    judge_parse: str | None = None,
    chat_template: str = "auto",
    model_events: str = "messages",
) -> Task:
    """Build the competition task of one domain (see the task functions for the arguments)."""
    domain = get_domain(domain_name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    clean = bool(resolve(faithful, {"clean_anchors": clean_anchors})["clean_anchors"])
    if audience_mode not in AUDIENCE_MODES:
        raise ValueError(f"audience_mode must be one of {AUDIENCE_MODES}, not {audience_mode!r}")
    if audience not in PERSONA_SETS:
        raise ValueError(
            f"audience (the persona set) must be one of {PERSONA_SETS}, not {audience!r}"
        )
    if invalid_message not in INVALID_MESSAGE_POLICIES:
        raise ValueError(
            f"invalid_message must be one of {INVALID_MESSAGE_POLICIES}, not {invalid_message!r}"
        )
    voting_args = {
        "vote_parse": vote_parse,
        "vote_retries": vote_retries,
        "voter_max_tokens": voter_max_tokens,
    }
    voting = resolve(faithful, voting_args)
    audience_config = AudienceConfig(
        mode=audience_mode,
        faithful=faithful,
        seed=seed,
        temperature=voter_temperature,
        max_tokens=voting["voter_max_tokens"],
        max_retries=voting["vote_retries"],
        parse=voting["vote_parse"],
        top_logprobs=vote_top_logprobs,
        both_orders=vote_both_orders,
        cache=cache,
        events=check_model_events(model_events) == "all",
    )
    personas = choose_personas(audience, n_personas, seed)
    agent_config = GenerateConfig(temperature=agent_temperature, max_tokens=agent_max_tokens)

    replay = None
    if opponent in OPPONENT_MODES:
        mode = opponent
    elif opponent.endswith((".eval", ".json")) or Path(opponent).exists():
        mode, replay = "replay", load_replay(opponent, domain, split)
    else:
        raise ValueError(
            f"opponent must be 'role', 'self' or the path of an earlier .eval log, not {opponent!r}"
        )

    judge_args: dict[str, Any] = {
        "judge_mode": judge_mode,
        "judge_temperature": judge_temperature,
        "judge_max_tokens": judge_max_tokens,
        "judge_retries": judge_retries,
        "judge_top_logprobs": judge_top_logprobs,
        "judge_prompts": judge_prompts,
        "judge_parse": judge_parse,
        "chat_template": chat_template,
        "cache": cache,
        "faithful": faithful,
        "model_events": model_events,
    }
    judging = judge_config(**judge_args)  # validates the judge arguments before any sample
    probe_names = choose_probes(domain, probes)
    scorers = [audience_share(invalid_message)] + [
        PROBE_SCORERS[name](**judge_args) for name in probe_names
    ]

    needed: dict[str, str | None] = {AUDIENCE_ROLE: PAPER_VOTER}
    if mode == "role":
        needed[OPPONENT_ROLE] = None
    if probe_names:
        needed[JUDGE_ROLE] = PAPER_JUDGE
    roles = role_defaults(needed, task=f"moloch_eval/{domain.name}")

    return Task(
        dataset=competition_dataset(domain, split, anchor_split=anchor_split, clean_anchors=clean),
        solver=[
            agent_message(domain, agent_config, cache=cache),
            opponent_message(domain, mode, agent_config, replay, cache=cache),
            audience_vote(domain, personas, audience_config, default=PAPER_VOTER),
        ],
        scorer=scorers,
        model_roles=roles or None,
        config=GenerateConfig(seed=seed),
        metadata={
            "domain": domain.name,
            "split": split,
            "anchor_split": anchor_split,
            "clean_anchors": clean,
            "audience": audience,
            "personas": [p.id for p in personas],
            "opponent": opponent,
            "audience_mode": audience_mode,
            "faithful": faithful,
            "probes": probe_names,
            "judge_mode": judge_mode,
            "model_events": model_events,
            "protocol": _protocol(
                faithful, audience_mode, judging, voting_args, judge_args, clean_anchors
            ),
        },
    )
