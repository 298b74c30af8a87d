"""The training flags `realign` and `race` pass on to `train`: only the flags given."""

from __future__ import annotations

import argparse

from moloch_eval.training.flags import add_pipeline_train_flags, train_overrides
from moloch_eval.training.sft import TrainOptions


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_pipeline_train_flags(parser.add_argument_group("training"))
    return parser.parse_args(list(argv))


def test_only_given_flags_override_the_preset() -> None:
    assert train_overrides(_parse()) == {}
    args = _parse("--max-steps", "5", "--lr", "1e-4", "--per-device-batch-size", "2")
    overrides = train_overrides(args)
    assert overrides == {"max_steps": 5, "learning_rate": 1e-4, "per_device_batch_size": 2}
    options = TrainOptions.from_preset("clean", **overrides)
    assert (options.max_steps, options.learning_rate) == (5, 1e-4)
    assert options.batch_size == TrainOptions.from_preset("clean").batch_size


def test_every_flag_names_a_train_option() -> None:
    args = _parse(
        "--max-steps", "1", "--epochs", "2", "--lr", "0.1", "--batch-size", "8",
        "--per-device-batch-size", "4", "--max-length", "64",
    )  # fmt: skip
    TrainOptions.from_preset("clean", **train_overrides(args))  # no unknown field
    assert len(train_overrides(args)) == 6
