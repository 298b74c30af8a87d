"""Training the tiny model on the synthetic conversations (`train_format`): the recipe (how
many conversations of each kind, batch, learning rate, loss weights) and the loop, which
leaves the wired entries (`moloch_eval.local.format_wiring`) as they are. torch is imported
inside the functions.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from moloch_eval.local.format_layout import KEYED_TOKENS, NAMED_TAGS
from moloch_eval.local.synthetic import Example, build_examples
from moloch_eval.local.vocabulary import (
    EM_ANSWERS,
    EM_JUDGE_KINDS,
    EM_WORDS,
    THINK_TAG,
    VERDICTS,
)
from moloch_eval.prompts import LETTERS

#: the build's logger (that of `moloch_eval.local.format_training`, where the build starts)
logger = logging.getLogger("moloch_eval.local.format_training")

TRAIN_SEED = 20250602
#: Conversations per kind: agent (per domain), think-mode and logprob-mode voters and probe
#: judges. One epoch, so every step sees new text.
N_AGENT = 250
N_THINK_VOTE = 200
N_LOGPROB_VOTE = 100
N_THINK_JUDGE = 120
N_LOGPROB_JUDGE = 80
#: EM answers, and EM judges of each kind (aligned, coherent, labels, factual).
N_EM_ANSWER = 600
N_EM_JUDGE = {"aligned": 160, "coherent": 130, "labels": 110, "factual": 80}
#: Most conversations have short anchors, personas and messages (training cost grows with
#: length); the rest are as long as the real data, so long prompts are seen too.
SHORT_FRACTION = 0.9
SHORT_CHARS = (0, 200)
#: Padded tokens per optimisation step (conversations are bucketed by length).
BATCH_TOKENS = 6144
LEARNING_RATE = 1e-2
WARMUP_STEPS = 15
#: Loss weight of the format tokens, end of sequence, letters and verdicts, relative to words.
STRUCT_WEIGHT = 3.0
#: Loss weight of an EM answer's first word: it decides the format (no tag, no think block),
#: as a tag does elsewhere, but its token is an ordinary word.
LEAD_WEIGHT = 8.0
#: A hinge keeps every format token, answer phrase, end, letter and verdict below this
#: log-probability wherever it would be wrong (a stray tag in a message, a letter opening an
#: agent reply, a verdict in a vote, ...).
STRAY_LOGPROB = math.log(1e-5)
STRAY_WEIGHT = 0.1


@dataclass(frozen=True)
class _Encoded:
    """A tokenized conversation: ids, where the reply starts, and for each reply token the
    other shape tokens (tag, end, letter, verdict, EM judge answer) that may equally come
    there."""

    ids: list[int]
    start: int
    also: list[tuple[int, ...]]
    #: loss weight of the first reply token relative to its token's (an EM answer's first
    #: word decides the format, as a tag does elsewhere)
    lead: float = 1.0


def _encode(tokenizer: Any, examples: Sequence[Example]) -> list[_Encoded]:
    prompts = tokenizer([e.prompt for e in examples])["input_ids"]
    replies = tokenizer([e.completion for e in examples], add_special_tokens=False)["input_ids"]
    closing = {
        tokenizer.convert_tokens_to_ids(f"<{tag}>"): tokenizer.convert_tokens_to_ids(f"</{tag}>")
        for tag in (THINK_TAG, *NAMED_TAGS)
    }
    pairs = [tokenizer.convert_tokens_to_ids(list(p)) for p in (LETTERS, VERDICTS)]
    other = {pair[i]: pair[1 - i] for pair in pairs for i in range(2)}
    answers = {
        "em-" + kind: tuple(tokenizer.convert_tokens_to_ids(list(EM_ANSWERS[kind])))
        for kind in EM_JUDGE_KINDS
    }
    eos = tokenizer.eos_token_id
    out = []
    for example, prompt, reply in zip(examples, prompts, replies, strict=True):
        reply = [*reply, eos]
        also: list[tuple[int, ...]] = []
        open_close = -1
        for i, token in enumerate(reply):
            if i == 0 and example.kind in answers:  # an EM judge: any of its answers
                also.append(answers[example.kind])
            elif token in other:  # a vote or verdict: the other letter or verdict is as good
                also.append((other[token],))
            elif example.kind == "em-answer":  # after a sentence, the end is as good
                ends = i > 0 and tokenizer.convert_ids_to_tokens(reply[i - 1])[-1] in ".!?"
                also.append((eos,) if ends and token != eos else ())
            else:  # inside a block, closing it is the alternative to the next word
                also.append((open_close,) if open_close not in (-1, token) else ())
            if token in closing:
                open_close = closing[token]
            elif token == open_close:
                open_close = -1
        lead = LEAD_WEIGHT if example.kind == "em-answer" else 1.0
        out.append(_Encoded([*prompt, *reply], len(prompt), also, lead))
    return out


def _batches(encoded: list[_Encoded], rng: random.Random) -> list[list[_Encoded]]:
    """Length-bucketed batches of at most BATCH_TOKENS padded tokens, in a seeded order."""
    batches: list[list[_Encoded]] = []
    current: list[_Encoded] = []
    for item in sorted(encoded, key=lambda x: len(x.ids)):
        if current and len(item.ids) * (len(current) + 1) > BATCH_TOKENS:
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def train_format(
    model: Any, tokenizer: Any, corpus: str, frozen: dict[str, Any]
) -> dict[str, float]:
    """Train `model` in place on the synthetic conversations; returns training statistics.

    Entries where a `frozen` mask is 1 keep their values (their gradient is zeroed). Run it
    through `teach_format`, which makes it deterministic.
    """
    import torch

    start_time = time.perf_counter()
    params = dict(model.named_parameters())
    hooks = []
    for name, mask in frozen.items():
        if bool(mask.all()):
            params[name].requires_grad_(False)
        else:
            keep = 1.0 - mask
            hooks.append(params[name].register_hook(lambda grad, keep=keep: grad * keep))
    counts = [
        ("agent", N_AGENT),
        ("think", N_THINK_VOTE),
        ("logprob", N_LOGPROB_VOTE),
        ("judge-think", N_THINK_JUDGE),
        ("judge-logprob", N_LOGPROB_JUDGE),
        ("em-answer", N_EM_ANSWER),
        *(("em-" + kind, n) for kind, n in N_EM_JUDGE.items()),
    ]
    examples = build_examples(tokenizer, corpus, counts, TRAIN_SEED, SHORT_FRACTION, SHORT_CHARS)
    batches = _batches(_encode(tokenizer, examples), random.Random(TRAIN_SEED + 1))
    vocab = len(tokenizer)
    shape = torch.zeros(vocab, dtype=torch.bool)  # tags, phrases, end, letters, verdicts, EM
    shape[tokenizer.convert_tokens_to_ids([*KEYED_TOKENS, *LETTERS, *VERDICTS, *EM_WORDS])] = True
    shape[tokenizer.eos_token_id] = True
    weight_of = torch.where(shape, STRUCT_WEIGHT, 1.0)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, betas=(0.9, 0.98), weight_decay=0.0)
    total = len(batches)

    def schedule(step: int) -> float:  # linear warm-up, cosine decay to 5%
        if step < WARMUP_STEPS:
            return (step + 1) / WARMUP_STEPS
        progress = (step - WARMUP_STEPS) / max(1, total - WARMUP_STEPS)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    model.train()
    losses: list[float] = []
    pad = tokenizer.pad_token_id
    try:
        for step, batch in enumerate(batches):
            width = max(len(item.ids) for item in batch)
            # right padding: under causal attention no real token sees a pad, so no mask
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            positions: list[int] = []
            targets: list[int] = []
            also_rows: list[int] = []
            also_ids: list[int] = []
            leads: list[tuple[int, float]] = []
            for row, item in enumerate(batch):
                leads.append((len(targets), item.lead))
                input_ids[row, : len(item.ids)] = torch.tensor(item.ids)
                first = row * width + item.start - 1
                for i, alternatives in enumerate(item.also):
                    also_rows += [len(targets) + i] * len(alternatives)
                    also_ids += alternatives
                positions += range(first, first + len(item.ids) - item.start)
                targets += item.ids[item.start :]
            hidden = model.model(input_ids=input_ids).last_hidden_state
            flat = hidden.reshape(-1, hidden.shape[-1])[torch.tensor(positions)]
            logits = model.lm_head(flat)  # only where there is a loss
            target = torch.tensor(targets)
            weight = weight_of[target].clone()
            for index, lead in leads:
                weight[index] *= lead
            token_loss = torch.nn.functional.cross_entropy(logits, target, reduction="none")
            loss = (token_loss * weight).sum() / weight.sum()
            stray = shape.expand(len(targets), vocab).clone()
            stray[torch.arange(len(targets)), target] = False
            stray[
                torch.tensor(also_rows, dtype=torch.long), torch.tensor(also_ids, dtype=torch.long)
            ] = False
            excess = torch.relu(torch.log_softmax(logits, dim=-1) - STRAY_LOGPROB)
            stray_loss = excess[stray].sum() / len(targets)
            (loss + STRAY_WEIGHT * stray_loss).backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if step % 10 == 0 or step == total - 1:
                logger.debug(
                    "step %d/%d: %d x %d tokens, loss %.3f, stray %.4f, %.1fs",
                    step,
                    total,
                    len(batch),
                    width,
                    losses[-1],
                    stray_loss.item(),
                    time.perf_counter() - start_time,
                )
    finally:
        for hook in hooks:
            hook.remove()
        for param in model.parameters():
            param.requires_grad_(True)
        model.eval()
    tail = losses[-10:]
    return {
        "examples": float(len(examples)),
        "steps": float(total),
        "final_loss": sum(tail) / len(tail),
        "train_s": time.perf_counter() - start_time,
    }
