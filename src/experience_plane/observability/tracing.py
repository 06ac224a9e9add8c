"""OpenTelemetry spans for requests and Runtime calls, when tracing is configured.
Off unless asked for (`EXPERIENCE_TRACING=true`, or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT`/`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set): then the optional
`otel` extra (`pip install 'experience-plane[otel]'`) is imported, and spans are exported over
OTLP/HTTP, configured by the standard `OTEL_*` variables (endpoint, headers, service name,
sampler). Without it nothing of OpenTelemetry is imported.
The W3C trace context of `observability.tracecontext` stays the source of truth: a request span
continues the incoming `traceparent`, and a Runtime call span is a child of the request's, so
the `traceparent` the Runtime receives names the span that called it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from experience_plane.observability.tracecontext import TraceContext

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

__all__ = ["SpanKind", "Tracing", "TracingUnavailable", "tracing_requested"]

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SERVICE_NAME = "experience-plane"


class TracingUnavailable(ValueError):
    """Tracing was asked for but the `otel` extra is not installed."""


class SpanKind(StrEnum):
    """The two kinds of span the service records."""

    SERVER = "server"
    CLIENT = "client"


def tracing_requested(setting: bool | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether to trace: the setting when given, else whether an OTLP endpoint is configured."""
    if setting is not None:
        return setting
    return any(environ.get(name) for name in _ENDPOINT_VARIABLES)


class RecordingSpan:
    """A started span: its trace context (to propagate) and a way to describe how it ended."""

    def __init__(self, span: Span, context: TraceContext) -> None:
        self._span = span
        self.context = context

    def rename(self, name: str) -> None:
        """Name the span once its route is known (routing happens inside the span)."""
        self._span.update_name(name)

    def set(self, key: str, value: str | int | float | bool) -> None:
        """Add an attribute (OpenTelemetry semantic convention names)."""
        self._span.set_attribute(key, value)

    def fail(self, description: str) -> None:
        """Mark the span as failed."""
        from opentelemetry.trace import Status, StatusCode

        self._span.set_status(Status(StatusCode.ERROR, description))


class Tracing:
    """Starts spans on an OpenTelemetry `TracerProvider` (see the module docstring).

    Build it with `Tracing.configure()` (OTLP exporter) or pass a provider (tests give one with
    an in-memory exporter); `shutdown()` flushes what is still buffered.
    """

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("experience_plane")

    @classmethod
    def configure(cls) -> Tracing:
        """A provider exporting over OTLP/HTTP as the `OTEL_*` variables say. Raises
        `TracingUnavailable` when the `otel` extra is missing."""
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as exc:
            raise TracingUnavailable(
                "Tracing is configured but OpenTelemetry is not installed: "
                "pip install 'experience-plane[otel]'"
            ) from exc
        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES still win: Resource.create merges them.
        resource = Resource.create({"service.name": SERVICE_NAME})
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider)

    @contextmanager
    def span(
        self,
        name: str,
        kind: SpanKind,
        parent: TraceContext | None,
        attributes: Mapping[str, str | int | float | bool] | None = None,
    ) -> Iterator[RecordingSpan]:
        """Record a span named `name` under `parent` (a new trace when None) while the block
        runs; an exception escaping the block is recorded on it."""
        from opentelemetry import trace

        otel_kind = trace.SpanKind.SERVER if kind is SpanKind.SERVER else trace.SpanKind.CLIENT
        with self._tracer.start_as_current_span(
            name,
            context=_context_of(parent),
            kind=otel_kind,
            attributes=dict(attributes or {}),
        ) as span:
            ids = span.get_span_context()
            context = TraceContext(
                trace.format_trace_id(ids.trace_id),
                trace.format_span_id(ids.span_id),
                int(ids.trace_flags),
            )
            yield RecordingSpan(span, context)

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        self.provider.shutdown()


def _context_of(parent: TraceContext | None) -> Any:
    """The OpenTelemetry context whose current span is `parent` (None: a new trace)."""
    if parent is None:
        return None
    from opentelemetry import trace

    span_context = trace.SpanContext(
        trace_id=int(parent.trace_id, 16),
        span_id=int(parent.span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(parent.flags),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))
