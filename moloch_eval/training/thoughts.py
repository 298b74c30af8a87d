"""TFB's audience-thought records: which voters' thoughts enter the pool (`thought_pool`, see
`moloch_eval.training.build` for the two pools) and the "predict the audience" record made
of one (`thought_record`; its prompt is `moloch_eval.training.prompts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from moloch_eval.domains import get_domain
from moloch_eval.training.prompts import TFB_SYSTEM_PROMPT, tfb_user_prompt, thought_completion
from moloch_eval.training.selfplay import Round, SelfPlayLog, SelfPlayLogError

TfbMode = Literal["faithful", "clean"]
TfbThoughts = Literal["all", "kept"]
TFB_THOUGHTS: tuple[TfbThoughts, ...] = ("all", "kept")
#: the thought pool of each TFB mode unless `tfb_thoughts` is given
DEFAULT_TFB_THOUGHTS: dict[str, TfbThoughts] = {"faithful": "all", "clean": "kept"}


def thought_pool(
    log: SelfPlayLog, item: Round, mode: TfbMode, source: TfbThoughts
) -> list[tuple[SelfPlayLog, Round, int]]:
    """The thoughts of `item`'s votes that enter the pool, as (log, round, vote index)."""
    pool = []
    for index, vote in enumerate(item.votes):
        if source == "all" and mode == "faithful":
            if not vote.thought:  # the paper's `if think`: not stripped first
                continue
        elif not (vote.thought and vote.thought.strip()):
            continue
        if mode == "clean" and not vote.valid:
            continue
        pool.append((log, item, index))
    return pool


def thought_source(item: Round, gated: bool) -> str:
    """What kind of round a thought comes from (counted in the build summary)."""
    if item.status == "winner":
        return "winner_gated_out" if gated else "winner_kept"
    return "tie" if item.status == "tie" else (item.reason or "invalid")


def count_thoughts(logs: Sequence[SelfPlayLog]) -> tuple[int, int]:
    """Votes in the logs, and those that carry a thought (non-empty)."""
    votes = [vote for log in logs for item in log.rounds for vote in item.votes]
    return len(votes), sum(1 for vote in votes if vote.thought)


def no_thoughts_error(logs: Sequence[SelfPlayLog], votes: int, thoughts: int) -> str:
    """Why a TFB set cannot be built from `logs`, and what to do."""
    paths = ", ".join(str(log.path) for log in logs)
    if thoughts == 0:
        return (
            f"TFB needs the audience's thoughts, but none of the {votes} votes in {paths} "
            "holds one (no voter reply has a <think> … </think> block). This happens when the "
            "voters do not think before voting (a model that answers with the vote alone), or "
            "when the voter's provider returned its thinking as reasoning content and the log "
            "was written by an older moloch_eval, which kept only the visible reply. Re-run the "
            "self-play eval with this version of moloch_eval and a voter that thinks "
            "(-T audience_mode=think, the paper's prompt asks for <think> … </think>), or "
            "build --method rft instead. No dataset was written."
        )
    return (
        f"TFB needs the audience's thoughts, but none of the {thoughts} thoughts in {paths} "
        "qualifies (clean mode takes valid votes' thoughts only; --tfb-thoughts kept only the "
        "rounds whose winner was kept, and ties). Try --tfb-thoughts all, or build --method "
        "rft instead. No dataset was written."
    )


def thought_record(
    log: SelfPlayLog, item: Round, index: int, mode: TfbMode, personas: dict[str, str]
) -> dict[str, Any]:
    """The audience-thought record of vote `index` of `item` (prompt of `mode`)."""
    vote = item.votes[index]
    assert item.agent is not None and item.opponent is not None and vote.thought is not None
    texts = {"agent": item.agent.message or "", "opponent": item.opponent.message or ""}
    domain = get_domain(item.domain)
    if mode == "clean":
        shown = [texts[vote.letters["A"]], texts[vote.letters["B"]]]
        persona: str | None = personas.get(vote.persona_id)
        if persona is None:
            raise SelfPlayLogError(
                f"{item.log}: voter {vote.persona_id!r} is not in the log's persona set; "
                "build the clean TFB set with the persona data the log was run with."
            )
    else:
        shown = [texts["agent"], texts["opponent"]]  # written order; letters not mapped
        persona = None
    return {
        "prompt": [
            {"role": "system", "content": TFB_SYSTEM_PROMPT},
            {"role": "user", "content": tfb_user_prompt(domain, item.anchor, shown, persona)},
        ],
        "completion": [{"role": "assistant", "content": thought_completion(vote.thought)}],
        "meta": {
            "kind": "audience_thought",
            "method": "tfb",
            "domain": item.domain,
            "model": log.model,
            "log": Path(item.log).name,
            "sample_id": item.sample_id,
            "epoch": item.epoch,
            "persona_id": vote.persona_id,
            "persona_index": vote.persona_index,
            "round_status": item.status,
            "vote_valid": vote.valid,
            "letters": dict(vote.letters) if mode == "clean" else None,
            "voter_letters": dict(vote.letters),
            "tfb_mode": mode,
        },
    }


def voter_personas(logs: Sequence[SelfPlayLog]) -> dict[str, str]:
    """The prose of every persona of the logs' audiences, by persona id."""
    from moloch_eval.data import load_personas

    prose: dict[str, str] = {}
    for name in sorted({log.audience for log in logs}):
        for persona in load_personas(name):
            prose.setdefault(persona.id, persona.prose())
    return prose
