"""Teaching the tiny model the answer format at build time: fixed heads, then training.

After random initialisation, three attention heads of the first layer and five hidden units
of its MLP are set by hand and frozen, and the rest of the model is trained briefly on
synthetic conversations (`moloch_eval.local.synthetic`: agents, voters, probe judges, EM
answers and EM judges); then the output rows of the two letters, and those of the two
verdicts, are tied, and the EM judge's answers are given their lean (`calibrate_em`).

- The format head (head 0): every token attends, whatever its distance, to the format tags
  and answer phrases seen so far (BOS when there are none) and reads which answer, vote or
  probe tag they name, which one-token answer a logprob-mode prompt asks for (``yes or no``,
  ``A or B``), whether the EM judge is asked and for what, and whether a think block or an
  answer is open. A 2-layer model cannot learn such long-range lookups in a few seconds of
  training; with them in fixed channels of the residual stream it only has to learn local
  rules (after ``</think>`` comes the named tag, ...). It reads 17 channels (the heads are
  20 wide, `moloch_eval.local.tiny_model.HEAD_DIM`): one per tag and phrase (`NAMED`),
  think, answer, CH_EM, and BOS's own channel, which only the sink has: 1 where nothing is
  named (an EM question), 0 wherever a tag or phrase is. The three EM phrases share the
  others by signed identities (`EM_IDENTITY`): each is +1 on CH_EM, the labels phrase also
  -1 on "A or B", the factual one -1 on "yes or no". So every kind of prompt has a direction
  of its own, with which the (linear) output layer can name its answers: integers on CH_EM
  alone, labels on CH_EM and -"A or B", TRUE/FALSE/UNKNOWN on CH_EM and -"yes or no",
  letters on +"A or B", plain words (no think block) on "nothing named". (A sign alone, +1
  for one phrase and -1 for another on one channel, would put a prompt that names nothing at
  0, between the two, where a linear readout cannot tell it from either; and without its
  own channel "nothing named" is only the absence of a tag, which a few hundred EM questions
  do not teach against a thousand think blocks.)
- The lean head (head 1) attends to BOS and the system-role token with opposite signs and a
  weight that turns with the prompt's length (a fast rotary frequency): a meaningless number,
  symmetric around zero, that only the A/B and yes/no output rows read. Tied A/B rows plus
  this number make a voter lean a little towards A or B, tied yes/no rows a judge towards yes
  or no, differently from prompt to prompt and evenly overall.
- The EM lean head (head 2) does the same with the user-role token instead of the system
  token (the EM judge gets no system message) and two turning parts, tanh(cos(p) + cos(0.18
  p)) at position p; where there is a system message, its token takes the attention and the
  output is 0.
- Gates, a hidden unit of layer 0's MLP each (silu(gate) * up), pass the EM lean on, each
  into its own channel, only where its group of EM judges is asked (the numbers of the
  aligned and coherent judges, the labels, the factual verdicts), and only at the judge's
  first token (shut on an EM answer word, `CH_EM_WORD`); for the labels and the verdicts two
  more pass a constant ("on"), so that calibration sets their intercepts as well as their
  slopes. Only the calibrated output rows of that group read the channels: the EM lean
  moves a judge's answer and nothing else, neither an EM answer nor an agent's message nor
  the word after the judge's answer. Nothing trained in layer 0 writes where the format head
  and the gates write or read.

Training is deterministic: seeded data and initialisation, fixed step count, deterministic
algorithms, so two builds give byte-identical weights.

The layout of the channels is `moloch_eval.local.format_layout`, the wiring
`moloch_eval.local.format_wiring`, the training `moloch_eval.local.format_fit` and the
calibration `moloch_eval.local.format_calibration`; their names are importable from here too,
but their settings are read where they are defined (patch them there).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from moloch_eval.local.format_calibration import (
    FACTUAL_SPAN,
    FACTUAL_TOPS,
    LABEL_SPAN,
    LABEL_TOPS,
    LETTER_LEAN,
    N_CALIBRATION,
    N_EM_CALIBRATION,
    N_JUDGE_CALIBRATION,
    NUMBER_LEAN,
    SPECIAL_TOP,
    VERDICT_LEAN,
    calibrate_em,
    calibrate_letters,
    calibrate_verdicts,
)
from moloch_eval.local.format_fit import (
    BATCH_TOKENS,
    LEAD_WEIGHT,
    LEARNING_RATE,
    N_AGENT,
    N_EM_ANSWER,
    N_EM_JUDGE,
    N_LOGPROB_JUDGE,
    N_LOGPROB_VOTE,
    N_THINK_JUDGE,
    N_THINK_VOTE,
    SHORT_CHARS,
    SHORT_FRACTION,
    STRAY_LOGPROB,
    STRAY_WEIGHT,
    STRUCT_WEIGHT,
    TRAIN_SEED,
    WARMUP_STEPS,
    train_format,
)
from moloch_eval.local.format_layout import (
    BALANCE_GAIN,
    CH_ANSWER,
    CH_BOS,
    CH_CONST,
    CH_EM,
    CH_EM_GATED,
    CH_EM_LEAN,
    CH_EM_ON,
    CH_EM_OUT,
    CH_EM_WORD,
    CH_FREE,
    CH_GATE,
    CH_ID,
    CH_KEY,
    CH_LEAN,
    CH_NONE_OUT,
    CH_OUT,
    CH_SYS,
    CH_THINK,
    CH_USER,
    EM_GROUPS,
    EM_IDENTITY,
    EM_LEAN_GATE,
    EM_LEAN_SCORES,
    EMBED_NORM,
    GATE_GAIN,
    GATE_OUT,
    GATE_SHUT,
    GATE_UNIT,
    GATES,
    GROUP_OF,
    HINT,
    ID_GAIN,
    KEYED_TOKENS,
    LEAN_SCORE,
    LEAN_SINK,
    N_FIXED_HEADS,
    N_READ,
    NAMED,
    NAMED_TAGS,
    ROPE_THETA,
    SINK_SCORE,
    TAG_SCORE,
)
from moloch_eval.local.format_wiring import (
    wire_heads,
)

#: the names of the build's modules, importable from here as before
__all__ = [
    "BALANCE_GAIN",
    "BATCH_TOKENS",
    "BUILD_THREADS",
    "CH_ANSWER",
    "CH_BOS",
    "CH_CONST",
    "CH_EM",
    "CH_EM_GATED",
    "CH_EM_LEAN",
    "CH_EM_ON",
    "CH_EM_OUT",
    "CH_EM_WORD",
    "CH_FREE",
    "CH_GATE",
    "CH_ID",
    "CH_KEY",
    "CH_LEAN",
    "CH_NONE_OUT",
    "CH_OUT",
    "CH_SYS",
    "CH_THINK",
    "CH_USER",
    "EMBED_NORM",
    "EM_GROUPS",
    "EM_IDENTITY",
    "EM_LEAN_GATE",
    "EM_LEAN_SCORES",
    "FACTUAL_SPAN",
    "FACTUAL_TOPS",
    "GATES",
    "GATE_GAIN",
    "GATE_OUT",
    "GATE_SHUT",
    "GATE_UNIT",
    "GROUP_OF",
    "HINT",
    "ID_GAIN",
    "KEYED_TOKENS",
    "LABEL_SPAN",
    "LABEL_TOPS",
    "LEAD_WEIGHT",
    "LEAN_SCORE",
    "LEAN_SINK",
    "LEARNING_RATE",
    "LETTER_LEAN",
    "NAMED",
    "NAMED_TAGS",
    "NUMBER_LEAN",
    "N_AGENT",
    "N_CALIBRATION",
    "N_EM_ANSWER",
    "N_EM_CALIBRATION",
    "N_EM_JUDGE",
    "N_FIXED_HEADS",
    "N_JUDGE_CALIBRATION",
    "N_LOGPROB_JUDGE",
    "N_LOGPROB_VOTE",
    "N_READ",
    "N_THINK_JUDGE",
    "N_THINK_VOTE",
    "ROPE_THETA",
    "SHORT_CHARS",
    "SHORT_FRACTION",
    "SINK_SCORE",
    "SPECIAL_TOP",
    "STRAY_LOGPROB",
    "STRAY_WEIGHT",
    "STRUCT_WEIGHT",
    "TAG_SCORE",
    "TRAIN_SEED",
    "VERDICT_LEAN",
    "WARMUP_STEPS",
    "calibrate_em",
    "calibrate_letters",
    "calibrate_verdicts",
    "teach_format",
    "train_format",
    "wire_heads",
]

logger = logging.getLogger(__name__)

#: Threads for training: fixed, so the weights do not depend on the caller's thread setting.
BUILD_THREADS = 2


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Deterministic algorithms on BUILD_THREADS threads, whatever the machine's core count."""
    import torch

    before = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(BUILD_THREADS)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.set_num_threads(before[1])


def teach_format(model: Any, tokenizer: Any, corpus: str, generator: Any) -> dict[str, float]:
    """Wire the fixed heads into a randomly initialised `model`, train it on the format and
    tie its letters and verdicts (all in place); returns statistics of the run."""
    with _deterministic():
        frozen = wire_heads(model, tokenizer, generator)
        stats = train_format(model, tokenizer, corpus, frozen)
        stats.update(calibrate_letters(model, tokenizer, corpus))
        stats.update(calibrate_verdicts(model, tokenizer, corpus))
        stats.update(calibrate_em(model, tokenizer, corpus))
    logger.info("tiny model taught the format: %s", stats)
    return stats
