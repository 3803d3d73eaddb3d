"""Optional OpenTelemetry traces: a send batch, each ACS send, each webhook call.

With the ``otel`` extra installed and ``WARMUP_OTEL_ENDPOINT`` set, spans are exported over
OTLP/HTTP. Without the extra every :func:`span` is a no-op, and with it but no endpoint the
OpenTelemetry API's own no-op tracer answers: tracing costs nothing unless asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

try:
    from opentelemetry import trace
except ImportError:  # the otel extra is not installed
    trace = None  # type: ignore[assignment]

SERVICE = "warmup"
_configured = False


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[Any]:
    """A span named ``name`` around the block (``None`` without the extra)."""
    if trace is None:
        yield None
        return
    with trace.get_tracer(SERVICE).start_as_current_span(name, attributes=attributes) as current:
        yield current


def configure_tracing(endpoint: str | None, service: str = SERVICE) -> bool:
    """Export spans to ``endpoint`` (an OTLP/HTTP URL), once per process; ``False`` when there
    is nothing to do (no endpoint) or the extra is missing."""
    global _configured
    if endpoint is None or trace is None or _configured:
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True
    return True
