"""Experiments that measured the numbers in docs/benchmarks.md; each runs as `python -m benchmarks.NAME`."""
