"""Benchmark harness of the payments service: ``uv run python -m bench``.

See docs/performance.md.
"""
