"""Docker layer: pure argv builders (argv.py) and the CLI runner that maps docker's errors (engine.py)."""
