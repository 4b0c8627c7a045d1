"""Cost-based rate limits: a budget of cost units per minute per API key (or client address).

- `limiter`: the budget itself, GCRA in Redis (one Lua round trip), shared by replicas.
- `extension`: the schema extension that charges each operation its estimated cost
  before it executes, and refuses it with RATE_LIMITED when the budget is spent.

The HTTP side (429, `Retry-After`, the RateLimit headers, which client address
to believe) is the API's: api/rate_limit.py.
"""
