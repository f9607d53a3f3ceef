"""Benchmarks: `python -m bench [NAME ...]` runs them and prints results; docs/benchmarks.md records them."""
