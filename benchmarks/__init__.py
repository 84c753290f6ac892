"""Benchmarks of the PhaLar metric: speed (beside a COCOLA-style pipeline) and memory.

Run from the repository root, e.g. `python -m benchmarks.speed --quick`; see docs/benchmarks.md.
"""
