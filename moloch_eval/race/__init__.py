"""The race (`moloch-eval race`): k rounds of collect → train → evaluate.

The paper trains once; its title is about a race, in which each round's winners become the
next round's opponents. Round r self-plays model r−1 (round 1: the base) on the train anchors,
builds an RFT/TFB training set from the audience's winners (optionally gated by probes),
trains adapter r (from the base, or continuing adapter r−1), and evaluates adapter r on the
test anchors against the base's replayed messages and against round r−1's, with the probes.
The per-round table and figure show whether the share and the misalignment keep rising.

- `moloch_eval.race.config`: `RaceConfig` (what a race is) and its checks;
- `moloch_eval.race.loop`: `Race`, the steps, resumable through `moloch_eval.pipeline_state`;
- `moloch_eval.race.report`: the per-round table and figure (md, csv, png, html);
- `moloch_eval.race.cli`: the `race` command.
"""
