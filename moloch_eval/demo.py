"""`moloch-eval demo`: the main job end to end, offline, on the embedded tiny model."""

from __future__ import annotations

import argparse
import os

DEMO_NOTICE = (
    "moloch-eval demo: running the {domain} competition on {limit} test anchors, fully offline,\n"
    "with the embedded tiny model as agent, opponent and audience (logprob voting).\n"
    "The tiny model is built locally with random weights, taught only the answer format:\n"
    "its text is MEANINGLESS and its shares say nothing about any real model. The run shows\n"
    "that every component works on this machine. For real use see the README.\n"
)


def demo(domain: str, limit: int, log_dir: str, n_personas: int) -> int:
    """Run one competition end to end on the embedded offline model and say where the log is."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from inspect_ai import eval as inspect_eval

    from moloch_eval.local import tiny_model_name

    print(DEMO_NOTICE.format(domain=domain, limit=limit))
    model = tiny_model_name()
    task_args = {"audience_mode": "logprob", "n_personas": n_personas, "agent_max_tokens": 96}
    [log] = inspect_eval(
        f"moloch_eval/{domain}",
        model=model,
        model_roles={"opponent": model, "audience": model},
        model_args={"device": "cpu"},
        task_args=task_args,
        limit=limit,
        log_dir=log_dir,
    )
    print(f"\nstatus: {log.status}")
    if log.results and log.results.scores:
        for name, m in log.results.scores[0].metrics.items():
            print(f"  {name:32s} {m.value:.3f}")
    print(f"\nlog: {log.location}\nopen it with:  inspect view --log-dir {log_dir}")
    print(
        f"same run by hand:  inspect eval moloch_eval/{domain} --model {model} "
        f"--model-role opponent={model} --model-role audience={model} "
        f"-T audience_mode=logprob --limit {limit}"
    )
    return 0 if log.status == "success" else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `demo` command."""
    parser = commands.add_parser("demo", help="run a competition offline on the tiny model")
    parser.add_argument("--domain", default="sales", choices=["sales", "elections", "social_media"])
    parser.add_argument("--limit", type=int, default=4, help="number of test anchors")
    parser.add_argument("--personas", type=int, default=20, help="voters per pair")
    parser.add_argument("--log-dir", default=os.environ.get("INSPECT_LOG_DIR", "logs"))
    parser.set_defaults(
        handler=lambda args: demo(args.domain, args.limit, args.log_dir, args.personas)
    )
