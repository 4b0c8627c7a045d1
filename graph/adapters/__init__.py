"""The one place per library that names its internals (Strawberry, graphql-core).

Everything else imports these names from here; `tests/test_library_adapters.py`
checks, against the installed versions, each fact an adapter relies on, so an
upgrade that changes one fails there with the adapter to look at. arq's adapter
is `graph/taskqueue/arq_internals.py` (the worker and the task contract share it).
"""
