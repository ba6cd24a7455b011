"""Benchmarks run by `make bench` (not by `make test`); `test_smoke.py` keeps them runnable."""
