"""simctl: a record/replay traffic simulator for OpenAI-compatible APIs."""

__version__ = "0.1.0"
