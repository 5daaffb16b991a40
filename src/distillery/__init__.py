"""distillery: distil an expensive LLM oracle into small, fast scoring models."""

__version__ = "0.1.0"
