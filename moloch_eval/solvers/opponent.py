"""The opponent's message: a bound model role, the evaluated model again, or a replayed log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.log import read_eval_log
from inspect_ai.model import GenerateConfig, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from moloch_eval.domains import DomainSpec
from moloch_eval.records import Competition, MessageRecord
from moloch_eval.roles import role_model
from moloch_eval.solvers.messages import message_cache, message_record

OPPONENT_ROLE = "opponent"


class ReplayError(ValueError):
    """A log that cannot serve as a replayed opponent."""


@dataclass(frozen=True)
class Replayed:
    """One replayed message and the anchor it was written for (as the log recorded them)."""

    record: MessageRecord
    #: the sample's anchor fields in the log (None: the log did not record them)
    anchor: dict[str, Any] | None
    #: the anchor options of the log's run (None: a log from before these options existed)
    anchor_split: str | None = None
    clean_anchors: bool | None = None


def _anchor_options(anchor_split: Any, clean_anchors: Any) -> str:
    if anchor_split is None and clean_anchors is None:
        return (
            "options not recorded: a log from before anchor_split existed, which read the "
            "published files with elections cleaned, i.e. anchor_split=published and, for "
            "elections, clean_anchors=True"
        )
    return f"anchor_split={anchor_split}, clean_anchors={clean_anchors}"


def check_replayed_anchor(
    sample_id: object, replayed: Replayed, metadata: dict[str, Any] | None
) -> None:
    """Refuse a replayed message written for another anchor than the current sample's."""
    meta = metadata or {}
    if replayed.anchor is None or replayed.anchor == meta.get("anchor"):
        return
    logged = _anchor_options(replayed.anchor_split, replayed.clean_anchors)
    current = _anchor_options(meta.get("anchor_split"), meta.get("clean_anchors"))
    raise ReplayError(
        f"sample {sample_id}: the replayed opponent log holds a message written for another "
        f"anchor under the same id (log: {logged}; this run: {current}). "
        "Sample ids index the anchor file read, so run with the log's -T anchor_split=... and "
        "-T clean_anchors=... (and faithful=...), or replay a log made with this run's options."
    )


def load_replay(log_path: str | Path, domain: DomainSpec, split: str) -> dict[str, Replayed]:
    """The evaluated model's messages of an earlier run, by sample id, marked as replayed.

    Each keeps the anchor it was written for, so the solver can refuse a sample whose id now
    names another anchor (other `anchor_split` or `clean_anchors`).
    """
    path = Path(str(log_path).removeprefix("file://"))
    if not path.exists():
        raise ReplayError(
            f"opponent log {path} does not exist; pass -T opponent=role|self or the path of an "
            "earlier .eval log of the same domain and split."
        )
    try:
        log = read_eval_log(str(path))
    except Exception as ex:
        first = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        raise ReplayError(
            f"opponent log {path} cannot be read as an Inspect log ({first}); pass -T "
            "opponent=role|self or the path of an earlier .eval log of the same domain and split."
        ) from ex
    if log.status != "success" and not log.samples:
        raise ReplayError(f"opponent log {path} has no samples (status: {log.status}).")
    records: dict[str, Replayed] = {}
    for sample in log.samples or []:
        meta = sample.metadata or {}
        if "domain" not in meta:
            raise ReplayError(
                f"opponent log {path} is not a moloch_eval competition log (task "
                f"{log.eval.task}); replay an earlier .eval log of moloch_eval/{domain.name} "
                f"(-T split={split}), or pass -T opponent=role|self."
            )
        if meta.get("domain") != domain.name or meta.get("split") != split:
            raise ReplayError(
                f"opponent log {path} holds {meta.get('domain')}/{meta.get('split')} samples; "
                f"this run is {domain.name}/{split}. Replay a log of the same domain and split."
            )
        if sample.epoch != 1:
            continue
        agent = sample.store_as(Competition).agent
        if agent is not None:
            anchor = meta.get("anchor")
            records[str(sample.id)] = Replayed(
                record=agent.model_copy(update={"source": "replayed"}),
                anchor=dict(anchor) if isinstance(anchor, dict) else None,
                anchor_split=meta.get("anchor_split"),
                clean_anchors=meta.get("clean_anchors"),
            )
    if not records:
        raise ReplayError(f"opponent log {path} holds no agent messages to replay.")
    return records


@solver
def opponent_message(
    domain: DomainSpec,
    mode: str,
    config: GenerateConfig | None = None,
    replay: dict[str, Replayed] | None = None,
    cache: bool = False,
) -> Solver:
    """Record the opponent's message for this anchor.

    mode "role": the model bound to the `opponent` role; "self": a second independent sample
    of the evaluated model (the paper's data collection); "replay": the message stored in an
    earlier log for the same sample id and anchor (no model call). With `cache`, generated
    messages are kept in Inspect's cache (scoped to the opponent side) and replayed by a re-run.
    """
    generate_config = config or GenerateConfig()
    policy = message_cache("opponent", cache)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        competition = state.store_as(Competition)
        if mode == "replay":
            assert replay is not None
            replayed = replay.get(str(state.sample_id))
            if replayed is None:
                raise ReplayError(
                    f"sample {state.sample_id} is not in the replayed opponent log; evaluate "
                    "the same anchors the log holds (e.g. the same --limit or --sample-id)."
                )
            check_replayed_anchor(state.sample_id, replayed, state.metadata)
            competition.opponent = replayed.record
            return state
        if mode == "role":
            model = role_model(OPPONENT_ROLE, None, f"moloch_eval/{domain.name}")
        else:
            model = get_model()
        prompt = state.input if isinstance(state.input, list) else state.input_text
        if policy is None:
            output = await model.generate(prompt, config=generate_config)
        else:
            output = await model.generate(prompt, config=generate_config, cache=policy)
        competition.opponent = message_record(output, domain.answer_tag)
        return state

    return solve
