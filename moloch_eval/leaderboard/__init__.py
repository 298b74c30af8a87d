"""Leaderboard of tuned versus base models from competition logs, with the paper's figures.

- `collect`: a log folder → the leaderboard (bases, the newest log per kind, comparability),
  and what was skipped and why; one log → one row is `read`, the records `rows`, a row's
  method `method`, what every log header says `logs`;
- `stats`: row statistics recomputed from the per-sample scores with the project's own
  functions (`mean_stderr`, `paired_rates`), so they equal the run metrics of the logs;
- `table`: rows as a pandas DataFrame, Markdown, CSV and a terminal print;
- `figures`: the paper's Figure 2 and Figure 4 as PNG files (matplotlib, headless);
- `html`: one self-contained page with the tables and the figures;
- `em`: EM logs as rows (`em_rows`), with their tables (`em_table`) and chart (`em_figures`);
- `report`: all of the above in one call; `sweep`: the recipe that fills a log folder;
- `cli`: the `moloch-eval leaderboard` and `moloch-eval sweep` commands.

What lives here and what it may import: README.md. Only the sweep runs evals; the rest reads
logs. Importing this package is light; the modules import Inspect, pandas and matplotlib
themselves.
"""
