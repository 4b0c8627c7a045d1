"""Scenarios of BENCH.md: cards, page, batches, hol, scale (memory), live, versions."""
