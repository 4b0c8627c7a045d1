"""Tracing's set-up for the API's lifespan: an SDK provider exporting over OTLP/HTTP.

Off (MATCHGRAPH_OTEL_ENABLED unset, or OTEL_SDK_DISABLED=true) nothing is
imported or installed. On, the standard OpenTelemetry environment configures
it, as in any other service:

- the exporter: OTEL_TRACES_EXPORTER (`otlp`, the default; `console`; `none`),
  and for `otlp` the OTLP/HTTP exporter's OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
  _HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE. Only the `http/protobuf`
  protocol ships (no gRPC stack in the image): another one is refused at start.
- the batch processor (OTEL_BSP_*), the sampler (OTEL_TRACES_SAMPLER[_ARG],
  default parent-based always-on) and the resource (OTEL_SERVICE_NAME,
  OTEL_RESOURCE_ATTRIBUTES; `service.name` is `matchgraph` unless they say
  otherwise).

The provider is the service's own and the global one is left alone: OpenTelemetry
lets a process set the global provider once, and an application that embeds
the API (or a test that starts several) would find it taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from graph import tracing
from graph.health import VERSION
from graph.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

PROTOCOL = "http/protobuf"


def tracing_wanted(settings: Settings) -> bool:
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return settings.otel_enabled and not disabled


@contextlib.asynccontextmanager
async def open_tracing(
    settings: Settings, *, exporter: SpanExporter | None = None
) -> AsyncIterator[TracerProvider | None]:
    """Install the process's tracer for the lifespan (`exporter` replaces the one the
    environment names: tests pass the SDK's in-memory exporter); flush and remove it after."""
    if not tracing_wanted(settings):
        yield None
        return
    provider = build_provider(exporter if exporter is not None else environment_exporter())
    previous = tracing.install(provider.get_tracer("matchgraph", VERSION))
    try:
        yield provider
    finally:
        tracing.install(previous)
        # Exports what is still queued: a blocking call of up to the exporter's timeout.
        await asyncio.to_thread(provider.shutdown)


def build_provider(exporter: SpanExporter | None) -> TracerProvider:
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    own = Resource.create({"service.name": "matchgraph", "service.version": VERSION})
    provider = TracerProvider(resource=own.merge(OTELResourceDetector().detect()))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def environment_exporter() -> SpanExporter | None:
    """The exporter OTEL_TRACES_EXPORTER names (None for `none`)."""
    kind = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if kind != "otlp":
        raise RuntimeError(f"OTEL_TRACES_EXPORTER={kind!r}: matchgraph ships otlp, console, none")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = os.environ.get(name, "").strip()
        if protocol:
            if protocol != PROTOCOL:
                raise RuntimeError(f"{name}={protocol!r}: matchgraph exports OTLP over {PROTOCOL}")
            break
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()
