"""casenotes: reads case notes on arrival and scores them against a client's plan and a rubric."""

__version__ = "0.1.0"
