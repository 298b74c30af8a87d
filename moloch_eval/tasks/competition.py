"""One competition engine for every domain: agent vs opponent, judged by a persona audience."""

from __future__ import annotations

import random
from pathlib import Path

from inspect_ai import Task
from inspect_ai.model import GenerateConfig

from moloch_eval.data import Persona, load_personas
from moloch_eval.domains import get_domain
from moloch_eval.roles import PAPER_VOTER, role_defaults
from moloch_eval.scorers import audience_share
from moloch_eval.solvers import AudienceConfig, agent_message, audience_vote, opponent_message
from moloch_eval.solvers.audience import AUDIENCE_MODES, AUDIENCE_ROLE
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


def competition(
    domain_name: str,
    *,
    split: str = "test",
    audience: str = "split1",
    n_personas: int = 20,
    opponent: str = "role",
    audience_mode: str = "think",
    faithful: bool = True,
    seed: int = 0,
    invalid_message: str = "forfeit",
    vote_retries: int = 2,
    vote_top_logprobs: int = 20,
    vote_both_orders: bool = False,
    agent_temperature: float = 0.7,
    agent_max_tokens: int = 1480,
    voter_temperature: float = 0.1,
    voter_max_tokens: int = 1024,
    cache: bool = False,
) -> Task:
    """Build the competition task of one domain (see the task functions for the arguments)."""
    domain = get_domain(domain_name)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if audience_mode not in AUDIENCE_MODES:
        raise ValueError(f"audience_mode must be one of {AUDIENCE_MODES}, not {audience_mode!r}")
    audience_config = AudienceConfig(
        mode=audience_mode,
        faithful=faithful,
        seed=seed,
        temperature=voter_temperature,
        max_tokens=voter_max_tokens,
        max_retries=vote_retries,
        top_logprobs=vote_top_logprobs,
        both_orders=vote_both_orders,
        cache=cache,
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

    needed: dict[str, str | None] = {AUDIENCE_ROLE: PAPER_VOTER}
    if mode == "role":
        needed[OPPONENT_ROLE] = None
    roles = role_defaults(needed, task=f"moloch_eval/{domain.name}")

    return Task(
        dataset=competition_dataset(domain, split),
        solver=[
            agent_message(domain, agent_config),
            opponent_message(domain, mode, agent_config, replay),
            audience_vote(domain, personas, audience_config, default=PAPER_VOTER),
        ],
        scorer=audience_share(invalid_message),
        model_roles=roles or None,
        config=GenerateConfig(seed=seed),
        metadata={
            "domain": domain.name,
            "split": split,
            "audience": audience,
            "personas": [p.id for p in personas],
            "opponent": opponent,
            "audience_mode": audience_mode,
            "faithful": faithful,
        },
    )
