"""Errors of the task contract."""


class QueueUnavailable(Exception):
    """Redis (the queue) cannot be reached."""
