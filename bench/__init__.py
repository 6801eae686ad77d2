"""mgexec's benchmark suite: `python -m bench` measures command latency, throughput and overhead, and writes BENCHMARKS.md."""
