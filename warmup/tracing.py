"""Optional OpenTelemetry traces: a send batch, each ACS send, each webhook call.

With the ``otel`` extra installed and ``WARMUP_OTEL_ENDPOINT`` set, spans are exported over
OTLP/HTTP. Without the extra, or with it but no tracer provider set (no endpoint, no
OpenTelemetry distro), every :func:`span` is skipped: tracing costs nothing unless asked for.
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


def _tracer() -> Any:
    """The tracer of the process's tracer provider, or ``None`` while no real provider is set
    (ours from :func:`configure_tracing`, or one an OpenTelemetry distro installed)."""
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        # Even the API's no-op span costs: a span object, a context attached and detached per
        # send, about 3 % of a send worker's CPU at full rate (benchmarks/README.md).
        return None
    return provider.get_tracer(SERVICE)


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[Any]:
    """A span named ``name`` around the block (``None`` when nothing traces)."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
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
