"""The process's tracer, when MATCHGRAPH_OTEL_ENABLED is on, and the one way code opens a span.

Tracing is optional and must cost nothing when off. So nothing here imports
OpenTelemetry at run time: the API's lifespan (api/tracing.py) builds the SDK's
provider and `install`s a tracer only when the setting is on, and removes it
at shutdown. Without one, `span()` hands back a shared null context (a global
read per call), the schema carries none of the span extensions
(graph/operation_spans.py), and neither the SDK nor the exporter is imported.

One tracer per process, as OpenTelemetry's own global provider is: the spans of
the cost estimate (graph/cost/analysis.py) and of each loader batch
(graph/loaders.py) are opened deep in code that sees no application object.
They find their parent (the operation's span, or its execute span) through
OpenTelemetry's context, which lives in a context variable like the
operation's scope (graph/context.py).

Spans are per step, never per field: Strawberry's OpenTelemetryExtension opens
one for every resolved field through an async `resolve` hook, which also makes
every field awaitable: a 5000-card page resolves 60,000 fields.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

_tracer: Tracer | None = None
_OFF: AbstractContextManager[None] = contextlib.nullcontext()

LOADER_BATCH = "matchgraph.loader.batch"


def install(tracer: Tracer | None) -> Tracer | None:
    """Make `tracer` the process's (None: tracing off); returns the one it replaces."""
    global _tracer
    previous, _tracer = _tracer, tracer
    return previous


def active() -> Tracer | None:
    """The installed tracer, or None when tracing is off."""
    return _tracer


def span(
    name: str, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[Span | None]:
    """A span that is current (the parent of spans opened inside it) until the block
    ends, recording an exception that escapes it; None (and no work) when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return _OFF
    return tracer.start_as_current_span(name, attributes=attributes)


def loader_batch(loader: str, size: int) -> AbstractContextManager[Span | None]:
    """The span of one DataLoader batch: the loader's name and how many keys it looks up."""
    if _tracer is None:
        return _OFF
    return span(
        LOADER_BATCH, {"matchgraph.loader.name": loader, "matchgraph.loader.batch_size": size}
    )
