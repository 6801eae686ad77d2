"""mgexec: a code-execution runtime for LLM agents (local guard rails or per-agent Docker containers)."""

__version__ = "0.1.0"
