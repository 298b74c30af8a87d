"""What a full replication costs on the paper's API roles, with and without batch mode.

Tokens per call and role come from the benchmark's runs (prompt tokens of the real prompts,
counted by the fake server's tokenizer, about 4 characters a token; completion tokens of the
fake replies, whose think blocks are `--think-words` long, so the think-mode output figure is
an assumption to scale by the real reply length). The call mix is the benchmark workload's
(P votes and 2k verdicts per anchor), scaled to the ~520,000 audience and judge calls of a
full replication (SPEC §5). The agent and opponent run on local GPUs and are not priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: list prices in USD per million tokens (input, output) and their date; batch: half of both
PRICES_AS_OF = "2026-03 (OpenAI's pricing page, developers.openai.com/api/docs/pricing)"
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o-2024-08-06": (2.50, 10.00),
}
BATCH_DISCOUNT = 0.5
REPLICATION_CALLS = 520_000
#: the paper's roles on an API (moloch_eval.roles: PAPER_VOTER, PAPER_JUDGE)
ROLE_MODELS = {"audience": "gpt-4o-mini", "judge": "gpt-4o-2024-08-06"}


@dataclass(frozen=True)
class RoleCost:
    role: str
    model: str
    calls: int
    prompt_tokens_per_call: float
    completion_tokens_per_call: float

    @property
    def dollars(self) -> float:
        price_in, price_out = PRICES[self.model]
        per_call = self.prompt_tokens_per_call * price_in
        per_call += self.completion_tokens_per_call * price_out
        return self.calls * per_call / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            **vars(self),
            "dollars": self.dollars,
            "batch_dollars": self.dollars * BATCH_DISCOUNT,
        }


def replication_cost(
    votes: tuple[int, int, int], verdicts: tuple[int, int, int], per_anchor: tuple[int, int]
) -> list[RoleCost]:
    """Cost per role of a full replication.

    `votes`/`verdicts`: (calls, prompt tokens, completion tokens) measured in one run;
    `per_anchor`: (votes, verdicts) per anchor, the call mix scaled to REPLICATION_CALLS.
    """
    out: list[RoleCost] = []
    total = sum(per_anchor)
    for role, (calls, prompt, completion), share in (
        ("audience", votes, per_anchor[0]),
        ("judge", verdicts, per_anchor[1]),
    ):
        if not calls or not share:
            continue
        out.append(
            RoleCost(
                role=role,
                model=ROLE_MODELS[role],
                calls=round(REPLICATION_CALLS * share / total),
                prompt_tokens_per_call=prompt / calls,
                completion_tokens_per_call=completion / calls,
            )
        )
    return out
