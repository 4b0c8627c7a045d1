"""Domain exceptions raised by the sources layer."""


class SourceError(Exception):
    """Base of every error the sources layer raises on purpose."""


class ObjectNotFound(SourceError):
    """The object does not exist (a file the pipeline has not produced yet)."""


class InvalidKey(SourceError):
    """A bucket or key that would escape the storage root, or names no known bucket."""


class InvalidSource(SourceError):
    """A source file exists but cannot be used: unreadable or missing required columns."""


class DatabaseUnavailable(SourceError):
    """The live-score database cannot be reached or did not answer in time."""
