"""The simulated audience: every persona votes on the pair, concurrently, on its own call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, Model, ModelOutput
from inspect_ai.solver import Generate, Solver, TaskState, solver

from moloch_eval.data import Persona
from moloch_eval.domains import DomainSpec
from moloch_eval.parsing import READERS
from moloch_eval.prompts import LETTERS, vote_system_prompt, vote_user_prompt
from moloch_eval.records import Competition, Side, VoteRecord
from moloch_eval.roles import role_model
from moloch_eval.solvers.events import calls_logged
from moloch_eval.solvers.logprobs import answer_config, first_token_mass
from moloch_eval.solvers.messages import full_generation
from moloch_eval.solvers.retry import ask_until_read, attempt_cache

AUDIENCE_ROLE = "audience"
AudienceMode = Literal["think", "logprob"]
AUDIENCE_MODES: tuple[AudienceMode, ...] = ("think", "logprob")
VoteParse = Literal["paper", "tolerant"]
VOTE_PARSES: tuple[VoteParse, ...] = ("paper", "tolerant")
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AudienceConfig:
    """How the audience votes (defaults: the paper's voter settings, SPEC §1.2).

    `parse` "paper" reads the vote as the paper did (the first `<vote>` field, exactly "A" or
    "B"); "tolerant" reads the last `<vote>` tag, ignoring case and punctuation. `max_tokens`
    None leaves the limit to the provider, as the paper did. `events` True logs every vote's
    model events in the sample's transcript (off by default: the store keeps every reply;
    see `moloch_eval.solvers.events`).
    """

    mode: AudienceMode = "think"
    faithful: bool = True
    seed: int = 0
    temperature: float = 0.1
    max_tokens: int | None = None
    max_retries: int = 0
    parse: VoteParse = "paper"
    top_logprobs: int = 20
    both_orders: bool = False
    cache: bool = False
    events: bool = False

    def __post_init__(self) -> None:
        if self.mode not in AUDIENCE_MODES:
            raise ValueError(f"audience_mode must be one of {AUDIENCE_MODES}, not {self.mode!r}")
        if self.max_retries < 0:
            raise ValueError("vote_retries must be >= 0")
        if self.parse not in VOTE_PARSES:
            raise ValueError(f"vote_parse must be one of {VOTE_PARSES}, not {self.parse!r}")


def letter_map(seed: int, sample_id: str | int | None, persona_index: int) -> dict[str, Side]:
    """The seeded A/B assignment for one (persona, sample): same seed, same letters."""
    rng = random.Random(f"{seed}:{sample_id}:{persona_index}")
    sides: list[Side] = ["agent", "opponent"]
    rng.shuffle(sides)
    return dict(zip(LETTERS, sides, strict=True))


def letter_probabilities(output: ModelOutput) -> dict[str, float]:
    """Probability mass on "A" and "B" as the first output token.

    Only the capital letters count once word markers are removed; lower-case "a" is a word,
    not a vote.
    """
    return first_token_mass(output, LETTERS)


class AudienceVoter:
    """Casts one persona's vote on one pair, with bounded retries on unparseable replies."""

    def __init__(self, domain: DomainSpec, model: Model, config: AudienceConfig) -> None:
        self.domain = domain
        self.model = model
        self.config = config
        self.generate_config = answer_config(
            config.mode == "logprob", config.top_logprobs, config.temperature, config.max_tokens
        )
        self.reader = READERS[config.parse]

    def _messages(
        self, persona: Persona, letters: dict[str, Side], texts: dict[Side, str]
    ) -> list[ChatMessage]:
        persona_text = persona.faithful() if self.config.faithful else persona.prose()
        choices = [texts[letters[letter]] for letter in LETTERS]
        return [
            ChatMessageSystem(content=vote_system_prompt(self.config.mode)),
            ChatMessageUser(
                content=vote_user_prompt(self.domain, persona_text, choices, self.config.mode)
            ),
        ]

    async def vote(
        self, sample_id: str | int | None, index: int, persona: Persona, texts: dict[Side, str]
    ) -> VoteRecord:
        letters = letter_map(self.config.seed, sample_id, index)
        record = VoteRecord(
            persona_index=index,
            persona_id=persona.id,
            letters=letters,
            mode=self.config.mode,
            parse=self.config.parse if self.config.mode == "think" else None,
        )
        if self.config.mode == "think":
            return await self._vote_think(record, persona, texts)
        return await self._vote_logprob(record, persona, texts)

    async def _vote_think(
        self, record: VoteRecord, persona: Persona, texts: dict[Side, str]
    ) -> VoteRecord:
        reader = self.reader

        # the whole reply (see `ask_until_read`): OpenAI-compatible providers move a leading
        # think block into reasoning content, which `output.completion` leaves out
        def read(reply: str, output: ModelOutput) -> bool:
            letter = reader.vote(reply)  # the thought is read from the reply (`VoteRecord`)
            if letter is None:
                return False
            record.letter = letter
            record.choice = record.letters[letter]
            record.valid = True
            return True

        record.retries += await ask_until_read(
            self.model,
            self._messages(persona, record.letters, texts),
            self.generate_config,
            self.config.max_retries + 1,
            read,
            record.replies,
            self.config.cache,
            events=self.config.events,
        )
        return record

    async def _vote_logprob(
        self, record: VoteRecord, persona: Persona, texts: dict[Side, str]
    ) -> VoteRecord:
        orders = [record.letters]
        if self.config.both_orders:
            flipped = zip(LETTERS, reversed(LETTERS), strict=True)
            orders.append({letter: record.letters[other] for letter, other in flipped})
        p_agent: list[float] = []
        masses: list[float] = []
        for letters in orders:
            with calls_logged(self.config.events) as calls:
                output = await self.model.generate(
                    self._messages(persona, letters, texts),
                    config=self.generate_config,
                    cache=attempt_cache(self.config.cache, 0),
                )
            record.retries += calls.retries
            record.replies.append(full_generation(output))
            probs = letter_probabilities(output)
            mass = sum(probs.values())
            masses.append(mass)
            if mass > 0:
                agent_letter = next(k for k, side in letters.items() if side == "agent")
                p_agent.append(probs[agent_letter] / mass)
        record.letter_mass = sum(masses) / len(masses)
        if len(p_agent) == len(orders):
            record.p_agent = sum(p_agent) / len(p_agent)
            if abs(record.p_agent - 0.5) > TIE_TOLERANCE:  # an exact tie is no vote
                record.choice = "agent" if record.p_agent > 0.5 else "opponent"
                record.letter = next(k for k, s in record.letters.items() if s == record.choice)
                record.valid = True
        return record


@solver
def audience_vote(
    domain: DomainSpec,
    personas: Sequence[Persona],
    config: AudienceConfig,
    default: str | None = None,
) -> Solver:
    """Every persona votes on (agent, opponent); nothing is cast if a message is invalid."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        competition = state.store_as(Competition)
        agent, opponent = competition.agent, competition.opponent
        if agent is None or opponent is None:
            raise RuntimeError("audience_vote needs the agent and opponent messages first")
        if not (agent.valid and opponent.valid):
            return state
        assert agent.message is not None and opponent.message is not None
        texts: dict[Side, str] = {"agent": agent.message, "opponent": opponent.message}
        model = role_model(AUDIENCE_ROLE, default, f"moloch_eval/{domain.name}")
        voter = AudienceVoter(domain, model, config)
        competition.votes = list(
            await asyncio.gather(
                *(
                    voter.vote(state.sample_id, i, persona, texts)
                    for i, persona in enumerate(personas)
                )
            )
        )
        return state

    return solve
