"""Scenarios of BENCH.md: cards, page, batches, memory."""
