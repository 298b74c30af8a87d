"""A tiny offline causal LM built locally, for running the benchmark with no API or download.

The model is a 2-layer Llama with deterministic pseudo-random weights and a byte-level BPE
tokenizer trained on a built-in corpus. Its text is meaningless: it exists so that every
component of the benchmark can run end to end on CPU through Inspect's ``hf/`` provider.

Besides the random (context-dependent) part, the output layer reads two fixed channels of the
residual stream: a constant one that biases tokens by corpus frequency (stray bytes and
control tokens are never produced, "A" and "B" are as likely as the most frequent tokens, and
end of sequence comes every few dozen tokens), and a flag on newline tokens, i.e. the end of
the generation prompt, so a reply is never empty and often starts with a letter, like a vote.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere concurrent builds rely on rename-and-ignore.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: Bump whenever the recipe (corpus, tokenizer, config, weights) changes.
TINY_MODEL_VERSION = "1"

#: Environment variable overriding the cache root.
CACHE_ENV = "MOLOCH_EVAL_CACHE_DIR"

BOS_TOKEN = "<|bos|>"
EOS_TOKEN = "<|eos|>"
PAD_TOKEN = "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, *ROLE_TOKENS)

#: Total vocabulary size (special tokens + 256 byte tokens + BPE merges).
TINY_VOCAB_SIZE = 384

MAX_POSITIONS = 32768
HIDDEN_SIZE = 64
NUM_LAYERS = 2
NUM_HEADS = 4
INTERMEDIATE_SIZE = 128
SEED = 20250601

# Weight recipe. Channel 0 of the residual stream is a constant (in every token embedding,
# never written by the layers), so lm_head column 0 acts as a bias; channel 1 is set high in
# the newline embedding, so lm_head column 1 shifts the first token of a reply.
_BIAS_CHANNEL_VALUE = 1.0
_EMBED_STD = 0.12
_LAYER_STD = 0.08
_HEAD_STD = 0.1
_EOS_BOOST = 0.0
_REPLY_FLAG_VALUE = 3.0
_LETTER_SHIFT = 3.0
#: Measured channels 0 and 1 after the final norm for this recipe (checked by a test): mean of
#: channel 0 over all positions, channel 1 at newline positions.
_BIAS_CHANNEL_AFTER_NORM = 1.79
_REPLY_FLAG_AFTER_NORM = 4.35

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
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return tok


def _build_tokenizer() -> Any:
    from transformers import PreTrainedTokenizerFast

    raw = _train_tokenizer()
    if raw.get_vocab_size() != TINY_VOCAB_SIZE:
        raise RuntimeError(f"tiny tokenizer has {raw.get_vocab_size()} tokens")
    for letter in ("A", "B"):
        if raw.token_to_id(letter) is None or raw.encode(letter).ids != [raw.token_to_id(letter)]:
            raise RuntimeError(f"tiny tokenizer lacks a single token for {letter!r}")
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


def _token_bias(tokenizer: Any) -> list[float]:
    """Per-token output logit bias: unigram log-frequency, boosted letters, rare stops."""
    counts: Counter[int] = Counter()
    for line in CORPUS.splitlines():
        counts.update(tokenizer(line, add_special_tokens=False)["input_ids"])
    total = sum(counts.values())
    vocab = len(tokenizer)
    # tokens never seen in the corpus (stray bytes) are as good as never produced
    bias = [math.log(counts[i] / total) if counts[i] else -30.0 for i in range(vocab)]
    top = max(bias)
    for letter in ("A", "B"):
        bias[tokenizer.convert_tokens_to_ids(letter)] = top
    special = {tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    for i in special:
        bias[i] = -30.0
    # end of sequence: as likely as the most frequent tokens, so replies stay short
    bias[tokenizer.eos_token_id] = top + _EOS_BOOST
    return bias


def _build_model(tokenizer: Any) -> Any:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN_SIZE,
        intermediate_size=INTERMEDIATE_SIZE,
        num_hidden_layers=NUM_LAYERS,
        num_attention_heads=NUM_HEADS,
        num_key_value_heads=NUM_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    with torch.random.fork_rng(devices=[]):  # its own init must not disturb the global RNG
        model = LlamaForCausalLM(config).eval()
    gen = torch.Generator().manual_seed(SEED)
    bias = torch.tensor(_token_bias(tokenizer), dtype=torch.float32)
    # Channel 1 flags a newline (the end of the generation prompt): right after it the reply
    # never ends and often starts with a letter, like a vote.
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    reply_shift = {tokenizer.eos_token_id: -10.0}
    reply_shift.update({tokenizer.convert_tokens_to_ids(c): _LETTER_SHIFT for c in "AB"})
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if name.endswith("norm.weight"):
                param.fill_(1.0)
            elif name == "model.embed_tokens.weight":
                param.copy_(torch.randn(param.shape, generator=gen) * _EMBED_STD)
                param[:, 0] = _BIAS_CHANNEL_VALUE
                param[newline, 1] = _REPLY_FLAG_VALUE
            elif name == "lm_head.weight":
                param.copy_(torch.randn(param.shape, generator=gen) * _HEAD_STD)
                param[:, 0] = bias / _BIAS_CHANNEL_AFTER_NORM
                for token_id, shift in reply_shift.items():
                    param[token_id, 1] = shift / _REPLY_FLAG_AFTER_NORM
            else:
                param.copy_(torch.randn(param.shape, generator=gen) * _LAYER_STD)
                if name.endswith(("o_proj.weight", "down_proj.weight")):
                    param[0, :] = 0.0  # layers never write to the bias channel
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        temperature=1.0,
    )
    return model
