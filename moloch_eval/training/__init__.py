"""Training for competitive success (SPEC §3): self-play logs → RFT/TFB data → LoRA adapters.

- **Lives here:** the data: self-play rounds (`selfplay`), RFT/TFB records (`build`, with TFB's
  audience thoughts in `thoughts` and prompt in `prompts`), chat sets (`chat_data`), their files
  (`jsonl`); the training: recipe presets (`recipe`), options (`options`), the training file
  (`data`), TRL's trainer (`trainer`), output and checkpoints (`checkpoints`), the run and its
  manifest (`sft`, whose names stay importable there), lineage (`lineage`), merging (`merge`);
  the adapters: models dir and manifests (`adapters`), vLLM serving (`serve`); the commands:
  flags and help (`cli`), handlers (`commands`), the flags pipelines reuse (`flags`).
- **May import:** the top-level `domains`, `prompts`, `records` and `data` (personas, lazily);
  Inspect; torch, transformers, peft, trl and datasets only inside functions.
- **Never imports** `local`, `providers`, `tasks`, `scorers`, `leaderboard`, `race` or `em`
  (they import this); nothing heavy is imported here or by `cli`/`commands` at import time.

The adapters are evaluated with ``--model moloch/NAME`` (`moloch_eval.providers`) or, served by
vLLM, ``--model vllm/NAME``.
"""
