"""Analytics over the pinned snapshot set: value of a match, calibration, backtests.

Numpy over whole columns, computed once per data version and argument set and
shared by requests (cache.py). The schema types are in graph/analytics_types.py
(and `MatchValue` in graph/matches.py, beside the other fields of a match).
"""
