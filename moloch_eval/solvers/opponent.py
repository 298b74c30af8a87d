"""The opponent's message: a bound model role, the evaluated model again, or a replayed log."""

from __future__ import annotations

from pathlib import Path

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


def load_replay(log_path: str | Path, domain: DomainSpec, split: str) -> dict[str, MessageRecord]:
    """The evaluated model's messages of an earlier run, by sample id, marked as replayed."""
    path = Path(str(log_path).removeprefix("file://"))
    if not path.exists():
        raise ReplayError(
            f"opponent log {path} does not exist; pass -T opponent=role|self or the path of an "
            "earlier .eval log of the same domain and split."
        )
    log = read_eval_log(str(path))
    if log.status != "success" and not log.samples:
        raise ReplayError(f"opponent log {path} has no samples (status: {log.status}).")
    records: dict[str, MessageRecord] = {}
    for sample in log.samples or []:
        meta = sample.metadata or {}
        if meta.get("domain") != domain.name or meta.get("split") != split:
            raise ReplayError(
                f"opponent log {path} holds {meta.get('domain')}/{meta.get('split')} samples; "
                f"this run is {domain.name}/{split}. Replay a log of the same domain and split."
            )
        if sample.epoch != 1:
            continue
        agent = sample.store_as(Competition).agent
        if agent is not None:
            records[str(sample.id)] = agent.model_copy(update={"source": "replayed"})
    if not records:
        raise ReplayError(f"opponent log {path} holds no agent messages to replay.")
    return records


@solver
def opponent_message(
    domain: DomainSpec,
    mode: str,
    config: GenerateConfig | None = None,
    replay: dict[str, MessageRecord] | None = None,
    cache: bool = False,
) -> Solver:
    """Record the opponent's message for this anchor.

    mode "role": the model bound to the `opponent` role; "self": a second independent sample
    of the evaluated model (the paper's data collection); "replay": the message stored in an
    earlier log for the same sample id (no model call). With `cache`, generated messages are
    kept in Inspect's cache (scoped to the opponent side) and replayed by a re-run.
    """
    generate_config = config or GenerateConfig()
    policy = message_cache("opponent", cache)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        competition = state.store_as(Competition)
        if mode == "replay":
            assert replay is not None
            record = replay.get(str(state.sample_id))
            if record is None:
                raise ReplayError(
                    f"sample {state.sample_id} is not in the replayed opponent log; evaluate "
                    "the same anchors the log holds (e.g. the same --limit or --sample-id)."
                )
            competition.opponent = record
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
