"""The task contract: what the API (through the schema) and the worker share about jobs.

Queue, channel and key names (`names`), the JSON serializer of jobs and results
(`serializer`), task states read from arq's keys (`state`), the process's one
pub/sub subscription (`pubsub`), task events on it (`events`), live-score changes
announced by writers (`livescore_events`) and fanned out to subscribers by the API
(`livescore_feed`), worker heartbeats (`workers`), the typed records jobs
produce (`results`) and the client that enqueues and follows tasks (`client`).
What of arq goes beyond its documented API is named in `arq_internals` only.
Part of the shared base: it imports nothing of the schema, the worker or the API.
"""
