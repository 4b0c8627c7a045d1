"""Control-flow errors of the jobs side."""


class JobError(Exception):
    """A job refused its input or could not do its work; the message is for people."""
