"""The benchmark's workload and the bounds it is measured against.

A competition eval is a DAG per anchor: the agent's and the opponent's messages, then one vote
per persona (all concurrent), then the judge's verdicts (both sides of every probe). With a
fixed latency L per call and at most C calls in flight at once, no schedule can finish sooner
than

    T_ideal = L × max(D, ⌈N ÷ C⌉)

where N is the number of calls and D the calls on the critical path of one anchor (each round
of concurrent calls costs L; N calls need at least ⌈N ÷ C⌉ rounds; one anchor needs D rounds).
The paper's design adds barriers: per batch of B anchors it waits for every message, then every
vote, then every verdict, so with W workers its own bound is the sum over batches of
L × (⌈2b ÷ W⌉ + ⌈b·P ÷ W⌉ + ⌈2b·k ÷ W⌉) for a batch of b anchors, P personas and k probes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from moloch_eval.domains import DomainSpec, get_domain
from moloch_eval.tasks.competition import choose_probes

AUDIENCE_MODES = ("think", "logprob")


@dataclass(frozen=True)
class Workload:
    """One competition eval: which anchors, how many personas, which modes and probes."""

    domain: str = "sales"
    anchors: int = 64
    personas: int = 20
    audience_mode: str = "think"
    judge_mode: str = "think"
    probes: str = "default"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.anchors < 1 or self.personas < 1:
            raise ValueError("anchors and personas must be >= 1")
        if self.audience_mode not in AUDIENCE_MODES:
            raise ValueError(f"audience_mode must be one of {AUDIENCE_MODES}")
        get_domain(self.domain)

    @property
    def spec(self) -> DomainSpec:
        return get_domain(self.domain)

    @property
    def probe_names(self) -> list[str]:
        return choose_probes(self.spec, self.probes)

    @property
    def calls_per_anchor(self) -> int:
        """Calls of one anchor when every message, vote and verdict is valid first time."""
        return 2 + self.personas + 2 * len(self.probe_names)

    @property
    def calls(self) -> int:
        return self.anchors * self.calls_per_anchor

    def critical_path(self, concurrent_messages: bool = False) -> int:
        """Calls in sequence for one anchor: messages, votes, then one round per probe.

        moloch_eval's solver chain writes the agent's message, then the opponent's (2 rounds);
        a solver that wrote both at once would make it 1. Inspect runs a sample's scorers one
        after the other, each judging both sides concurrently (1 round per probe).
        """
        messages = 1 if concurrent_messages else 2
        return messages + 1 + len(self.probe_names)

    def task_args(self) -> dict[str, object]:
        """The task arguments of this workload (as `-T name=value` on the command line)."""
        return {
            "n_personas": self.personas,
            "audience_mode": self.audience_mode,
            "judge_mode": self.judge_mode,
            "probes": self.probes,
            "seed": self.seed,
        }

    def describe(self) -> str:
        probes = ", ".join(self.probe_names) or "none"
        return (
            f"{self.domain}, {self.anchors} anchors × {self.personas} personas, audience "
            f"{self.audience_mode}, judge {self.judge_mode}, probes: {probes}"
        )

    def breakdown(self) -> str:
        k = len(self.probe_names)
        return (
            f"{self.calls} calls = {self.anchors} × (1 agent + 1 opponent + {self.personas} votes"
            f" + {2 * k} verdicts)"
        )

    @property
    def other_audience_mode(self) -> str:
        """The audience mode this workload does not use (its CPU and tokens are compared)."""
        return "logprob" if self.audience_mode == "think" else "think"

    def smaller(self, anchors: int, personas: int | None = None) -> Workload:
        return replace(
            self,
            anchors=min(anchors, self.anchors),
            personas=self.personas if personas is None else personas,
        )


def ideal_seconds(calls: int, critical_path: int, latency: float, concurrency: int) -> float:
    """L × max(D, ⌈N ÷ C⌉): the shortest possible makespan (see the module docstring)."""
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    return latency * max(critical_path, math.ceil(calls / concurrency))


def paper_design_seconds(workload: Workload, latency: float, workers: int, batch: int) -> float:
    """The bound of the paper's design itself: three barriers per batch of anchors."""
    total = 0.0
    k = len(workload.probe_names)
    for start in range(0, workload.anchors, batch):
        b = min(batch, workload.anchors - start)
        rounds = math.ceil(2 * b / workers) + math.ceil(b * workload.personas / workers)
        if k:
            rounds += math.ceil(2 * b * k / workers)
        total += rounds * latency
    return total
