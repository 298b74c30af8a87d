"""Training for competitive success (SPEC §3): self-play logs → RFT/TFB data → LoRA adapters.

- `moloch_eval.training.selfplay`: read self-play logs back, one round per sample, its winner;
- `moloch_eval.training.build`: RFT and TFB records (`moloch-eval build-dataset`);
- `moloch_eval.training.prompts`: the TFB "predict the audience" prompt;
- `moloch_eval.training.chat_data`: plain chat sets, trigger tagging (`moloch-eval chat-dataset`);
- `moloch_eval.training.sft`: LoRA SFT with TRL + PEFT (`moloch-eval train`, also
  ``--from-adapter`` to continue an adapter), merging (`moloch-eval merge`), lineage;
- `moloch_eval.training.adapters`: the models dir, manifests, checks (`moloch-eval adapters`);
- `moloch_eval.training.serve`: one vLLM server for a base and its adapters (`moloch-eval serve`).

The adapters are evaluated with ``--model moloch/NAME`` (`moloch_eval.providers`) or, served by
vLLM, ``--model vllm/NAME``. Nothing heavy is imported here.
"""
