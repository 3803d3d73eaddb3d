"""Issue 18's optional traces: with the otel extra, a send batch, each ACS send and each webhook
call are spans, with the numbers that say what happened."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from harness.pipeline_world import world
from tests.integration.test_webhook import client  # noqa: F401 - the fixture
from warmup.tracing import configure_tracing, span

pytestmark = pytest.mark.integration


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    # A provider of the test's own (the global one can be set only once per process).
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr("warmup.tracing.trace.get_tracer_provider", lambda: provider)
    return exporter


def test_a_batch_and_each_acs_send_are_spans(
    database_url: str, tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with world(database_url, tmp_path, recipients=30) as w:
        w.run_until_done()
    finished = spans.get_finished_spans()
    batches = [s for s in finished if s.name == "warmup.send_batch"]
    sends = [s for s in finished if s.name == "acs.send"]
    assert len(sends) == 30
    assert sum(int(b.attributes["accepted"]) for b in batches) == 30  # type: ignore[index]
    assert all(s.attributes["attempts"] == 1 for s in sends)  # type: ignore[index]
    # Each send is inside its batch's span.
    batch_ids = {b.context.span_id for b in batches}
    assert all(s.parent is not None and s.parent.span_id in batch_ids for s in sends)


def test_without_an_endpoint_nothing_is_exported() -> None:
    assert configure_tracing(None) is False


def test_without_a_tracer_provider_no_span_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    monkeypatch.setattr("warmup.tracing.trace.get_tracer", lambda *a, **k: made.append("tracer"))
    with span("acs.send", operation_id="x") as current:
        assert current is None
    assert made == []


def test_a_webhook_call_is_a_span(
    client: TestClient,  # noqa: F811 - the fixture
    spans: InMemorySpanExporter,
) -> None:
    from tests.integration.test_webhook import URL, report

    answer = client.post(URL, json=[report("a@example.org"), report("b@example.org", "bounced")])
    assert answer.status_code == 200
    (call,) = [s for s in spans.get_finished_spans() if s.name == "warmup.webhook"]
    assert call.attributes["reports"] == 2  # type: ignore[index]
    assert call.attributes["duplicates"] == 0  # type: ignore[index]
