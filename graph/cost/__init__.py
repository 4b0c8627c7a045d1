"""Cost analysis before execution (IBM GraphQL cost spec): directives, estimate, hook.

`directives.py` declares `@cost` and `@listSize` (used next to the fields in the
schema modules), `estimate.py` prices an operation, `analysis.py` is the schema
extension that prices every operation before it executes.
"""
