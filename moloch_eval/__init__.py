"""moloch_eval: the Moloch's Bargain competitions as an Inspect AI benchmark."""

__version__ = "0.1.0"
