"""Compiled execution: table-backed selections answered from column gathers.

`binding` marks the schema fields the planner covers (next to their
definitions), `rows` implements them over the pinned snapshot set, `plan`
compiles a validated operation's root fields into plans, `run` executes a plan
and `execution` hooks it into graphql-core's executor. See the README's
"Compiled execution" section.
"""
