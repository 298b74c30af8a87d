"""Leaderboard of tuned versus base models from competition logs, with the paper's figures.

- `collect`: read a log folder (headers first, samples only of complete logs) into rows, and
  list what was skipped and why;
- `stats`: row statistics recomputed from the per-sample scores with the project's own
  functions (`mean_stderr`, `paired_rates`), so they equal the run metrics of the logs;
- `table`: rows as a pandas DataFrame, Markdown, CSV and a terminal print;
- `figures`: the paper's Figure 2 and Figure 4 as PNG files (matplotlib, headless);
- `html`: one self-contained page with the tables and the figures;
- `report`: all of the above in one call; `sweep`: the recipe that fills a log folder;
- `cli`: the `moloch-eval leaderboard` and `moloch-eval sweep` commands.

Nothing here calls a model or re-runs an eval. Importing this package is light; the modules
import Inspect, pandas and matplotlib themselves.
"""
