"""Aggregate reports as warmup keeps them (warmup/feedback/dmarc_reports.py): every form a
receiver sends, ACS's sources told from others, and the day a report covers whatever the
machine's time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from harness.dmarc_reports import Row, aggregate_xml, gzipped, report_mail, zipped
from warmup.errors import ContentError
from warmup.feedback.dmarc_reports import parse_report

DAY = date(2026, 12, 1)
XML = aggregate_xml("google.com", "g-1", "mail.example.com", DAY, [
    Row("40.92.1.2", 100, spf=True, dkim=True),
    Row("40.92.1.3", 4, spf=False, dkim=False),  # ACS's signature, failing
    Row("203.0.113.9", 7, spf=False, dkim=False, selector=None),
    Row("198.51.100.4", 3, spf=False, dkim=True, selector="s2048"),  # a forwarder
])  # fmt: skip


@pytest.fixture
def far_east() -> Iterator[None]:
    """The machine's local time 9 hours ahead of UTC, as parsedmarc reads dates in it."""
    before = time.tzname
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Asia/Tokyo")
        time.tzset()
        yield
    time.tzset()
    assert time.tzname == before


@pytest.mark.parametrize(
    "data",
    [XML, gzipped(XML), zipped(XML, "r.xml"), report_mail(XML, "google.com", "x.test", "g-1")],
    ids=["xml", "gzip", "zip", "mail"],
)
def test_every_form_gives_the_same_report(data: bytes) -> None:
    report = parse_report(data)
    assert report is not None
    assert (report.org_name, report.report_id, report.domain) == (
        "google.com",
        "g-1",
        "mail.example.com",
    )
    assert report.policy == "none"
    assert [(s.messages, s.aligned, s.acs) for s in report.sources] == [
        (100, True, True), (4, False, True), (7, False, False), (3, True, False),
    ]  # fmt: skip


def test_the_day_and_times_are_utc_whatever_the_machine_zone(far_east: None) -> None:
    report = parse_report(XML)
    assert report is not None
    assert report.begin_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert report.day == DAY


def test_a_file_that_is_not_a_report_is_named() -> None:
    with pytest.raises(ContentError, match=r"notes\.txt: not a DMARC report"):
        parse_report(b"hello", "notes.txt")
