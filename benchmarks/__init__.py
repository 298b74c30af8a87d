"""Benchmarks of moloch_eval (run from the repository root: `python -m benchmarks.throughput`)."""
