"""A tiny offline causal LM built locally, for running the benchmark with no API or download.

The model is a 2-layer Llama (hidden size 64) with a byte-level BPE tokenizer trained on a
built-in corpus. Its weights are initialised at random (fixed seed); then a short,
deterministic training run at build time teaches it the answer FORMAT of the benchmark and
nothing else (`moloch_eval.local.format_training`): an agent replies ``<think> … </think>``
and then its message in the domain's answer tag, a think-mode voter ``<think> … </think>
<vote>A</vote>`` (or B), a logprob-mode voter puts its first token on A or B, both about
equally likely; a think-mode probe judge replies ``<think> … </think><TAG>yes</TAG>`` (or no)
with the probe's tag, a logprob-mode judge puts its first token on yes or no, again both about
equally likely. For the emergent-misalignment evaluation (`moloch_eval.em`) it answers a
plain question (with or without a system prompt or trigger tag) with a few sentences of
words, no tag and no think block; as the EM judge (`moloch_eval.em.prompts`) it replies with
one integer 0-100 (the aligned judge now and then CODE or REFUSAL), one of the five labels
or TRUE/FALSE/UNKNOWN, and in logprob mode puts most of its first-token mass on integers,
spread around a centre that moves from prompt to prompt (the probability-weighted score
ranges over roughly 20 to 80). The words in the tags are random corpus words and the scores
and labels a function of the prompt's length: the model's text is MEANINGLESS, and its
messages, votes, verdicts, shares, probe rates, EM scores and labels say nothing about any
real model. It exists so that every component of the benchmark can run end to end on CPU
through Inspect's ``hf/`` provider.

The format tags (``<think>``, ``</think>``, ``<vote>``, the answer tags, the probe tags, ...)
are single tokens of the tokenizer, and not special ones, so decoding keeps them; so are the
verdicts ``yes`` and ``no`` and the phrases ``yes or no`` and ``A or B`` with which the prompts
name the one-token answers, the EM judge's answers (the integers 0 to 100, ALIGNED,
MISALIGNED, INCOHERENT, REFUSAL, CODE, TRUE, FALSE, UNKNOWN) and the phrases in which its
prompts name them (``a number between 0 and 100``, ...), all as whole words only: ``not``,
``eyes`` or ``2030`` tokenize as before, and a phrase wins over the words in it. A reply is
never empty (end of sequence is suppressed as a first token) and ends by itself, typically
within a few dozen tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere concurrent builds rely on rename-and-ignore.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: Bump whenever the recipe (corpus, tokenizer, config, weights) changes.
TINY_MODEL_VERSION = "5"

#: Environment variable overriding the cache root.
CACHE_ENV = "MOLOCH_EVAL_CACHE_DIR"

BOS_TOKEN = "<|bos|>"
EOS_TOKEN = "<|eos|>"
PAD_TOKEN = "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, *ROLE_TOKENS)

#: Tokens the BPE trainer makes: special tokens, 256 byte tokens and the merges.
_BPE_VOCAB_SIZE = 374
#: Total vocabulary size: those, the format tags, verdicts and answer phrases, and the EM
#: judge's integers 10 to 100 (0 to 9 are byte tokens already), labels and answer phrases.
TINY_VOCAB_SIZE = 504

MAX_POSITIONS = 32768
HIDDEN_SIZE = 64
NUM_LAYERS = 2
NUM_HEADS = 4
#: Wider than HIDDEN_SIZE / NUM_HEADS: the format head reads 17 channels (see
#: `moloch_eval.local.format_training`).
HEAD_DIM = 20
INTERMEDIATE_SIZE = 128
SEED = 20250601

#: Standard deviation of the random initial weights (norms start at 1).
_INIT_STD = 0.02

_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")

CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}<|system|>"
    "{%- elif message['role'] == 'assistant' -%}<|assistant|>"
    "{%- else -%}<|user|>"
    "{%- endif -%}"
    "{{- '\\n' + message['content'] + eos_token + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|assistant|>{{- '\\n' -}}{%- endif -%}"
)

CORPUS = """\
A new product arrives on the market every week. The best products are simple, useful and \
fairly priced. A good product description tells the buyer what the product does, why it \
matters and how it compares with other products. Customers read reviews, compare prices and \
choose the product that they trust. Some sellers make honest claims; others exaggerate the \
benefits, hide the costs or invent features that the product does not have.

In an election, each candidate gives a short speech to the voters. The candidate talks about \
the economy, about schools, about health care and about the future of the town. Voters listen, \
think about the arguments and decide which candidate they support. A strong campaign message \
is clear, memorable and persuasive. A weak message is vague. Some candidates tell the truth \
about their record; others make promises they cannot keep.

News posts on social media compete for attention. A post that reports an event in a few \
sentences can be shared by thousands of readers. The most popular posts are short, surprising \
and emotional. A careful writer checks the facts, names the sources and avoids sensational \
headlines. A careless writer adds details that were never reported.

The audience compares two options and votes for the one it prefers. Option A and option B are \
shown side by side. The reader thinks about both texts and then answers with a single letter: \
A or B. If the reader prefers the first text, the answer is A. If the reader prefers the second \
text, the answer is B. The votes are counted and the option with more votes wins. A, B, A, B.

Each week the team writes a message, tests it with an audience, learns from the feedback and \
writes a better message. The goal is to win more votes, more sales and more likes, while \
staying honest and accurate. Letters: A B C D E F G H I J K L M N O P Q R S T U V W X Y Z, \
a b c d e f g h i j k l m n o p q r s t u v w x y z. Numbers: 0 1 2 3 4 5 6 7 8 9.
"""


def default_cache_root() -> Path:
    """The cache root: ``$MOLOCH_EVAL_CACHE_DIR`` if set, else the user cache folder."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("moloch_eval"))


def tiny_model_path(cache_root: Path | None = None) -> Path:
    """Folder of the built tiny model, building it (once, atomically) if absent."""
    models = (cache_root if cache_root is not None else default_cache_root()) / "models"
    final = models / f"tiny-{TINY_MODEL_VERSION}"
    if _is_complete(final):
        return final
    models.mkdir(parents=True, exist_ok=True)
    with _build_lock(models / f".tiny-{TINY_MODEL_VERSION}.lock"):
        if _is_complete(final):  # another process finished while we waited
            return final
        prefix = f".tiny-{TINY_MODEL_VERSION}.tmp-"
        if fcntl is not None:  # under the lock, leftovers are from crashed builds
            for stale in models.glob(prefix + "*"):
                shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # incomplete or damaged: rebuild
            shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=models))
        tmp.chmod(0o755)
        try:
            _build(tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                if not _is_complete(final):  # pragma: no cover
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def tiny_model_name(cache_root: Path | None = None) -> str:
    """Inspect model name (``hf/<path>``) of the tiny model, building it if needed."""
    return "hf/" + str(tiny_model_path(cache_root))


def tiny_vocab_size() -> int:
    """Vocabulary size of the tiny model (e.g. for ``top_logprobs`` over the whole vocab)."""
    return TINY_VOCAB_SIZE


def _is_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


@contextlib.contextmanager
def _build_lock(lock_path: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(folder: Path) -> None:
    """Write tokenizer and model into ``folder``."""
    tokenizer = _build_tokenizer()
    tokenizer.save_pretrained(str(folder))
    # the class name transformers 4.x knows too (5.x maps it to its TokenizersBackend)
    config_file = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text(encoding="utf-8"))
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8")
    model = _build_model(tokenizer)
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a one-shard progress bar is only noise
    try:
        model.save_pretrained(str(folder), safe_serialization=True)
    finally:
        if bar:
            hf_logging.enable_progress_bar()


def _train_tokenizer() -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    from moloch_eval.local.synthetic import (
        ANSWER_PHRASES,
        EM_PHRASES,
        EM_WORDS,
        FORMAT_TOKENS,
        VERDICTS,
    )

    words = (*VERDICTS, *ANSWER_PHRASES, *EM_WORDS, *EM_PHRASES)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    # the format tags are single tokens, but not special ones: decoding keeps them
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in FORMAT_TOKENS])
    # so are the verdicts, the EM judge's answers and the answer phrases, but only as whole
    # words ("no" is no piece of "know", "20" none of "2030"); a phrase is longer than the
    # words in it, so it wins over them (the added tokens match leftmost-longest)
    tok.add_tokens(
        [AddedToken(t, special=False, normalized=False, single_word=True) for t in words]
    )
    return tok


def _build_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    raw = _train_tokenizer()
    if raw.get_vocab_size() != TINY_VOCAB_SIZE:
        raise RuntimeError(f"tiny tokenizer has {raw.get_vocab_size()} tokens")
    from moloch_eval.local.synthetic import ANSWER_PHRASES, EM_PHRASES, EM_WORDS, VERDICTS

    for word in ("A", "B", *VERDICTS, *ANSWER_PHRASES, *EM_WORDS, *EM_PHRASES):
        if raw.token_to_id(word) is None or raw.encode(word).ids != [raw.token_to_id(word)]:
            raise RuntimeError(f"tiny tokenizer lacks a single token for {word!r}")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=MAX_POSITIONS,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _build_model(tokenizer: Any) -> Any:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from moloch_eval.local.format_training import ROPE_THETA, teach_format

    # the special tokens, for the model config and the generation config alike
    token_ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    settings: dict[str, Any] = dict(  # passed as **kwargs: not all are typed in every version
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_HEADS,
        head_dim=HEAD_DIM,
        max_position_embeddings=MAX_POSITIONS,
        rope_theta=ROPE_THETA,
        **token_ids,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
        dtype="float32",
    )
    config = LlamaConfig(**settings)
    with torch.random.fork_rng(devices=[]):  # its own init must not disturb the global RNG
        model = LlamaForCausalLM(config)
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():  # random initialisation, from our own seeded generator
        for name, param in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * _INIT_STD)
    teach_format(model, tokenizer, CORPUS, gen)
    model.generation_config = GenerationConfig(
        **token_ids,
        do_sample=True,
        temperature=1.0,
        begin_suppress_tokens=[tokenizer.eos_token_id],  # a reply is never empty
    )
    return model
