"""The DNS posture's judgement (warmup/control/dns_posture.py) and the nameserver settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from warmup.control.dns_posture import DnsPosture, problems, warnings
from warmup.domains.dns_check import resolver_for

AT = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
READY = DnsPosture(
    domain="mail.example.com",
    checked_at=AT,
    spf_record="v=spf1 include:spf.protection.outlook.com -all",
    spf_lookups=1,
    spf_includes_acs=True,
    dmarc_record="v=DMARC1; p=quarantine; rua=mailto:d@example.com",
    dmarc_location="example.com",
    dmarc_policy="quarantine",
    dmarc_rua=("mailto:d@example.com",),
    mx_hosts=("mx.example.com",),
)


def with_(**changes: object) -> DnsPosture:
    return DnsPosture(**{**READY.__dict__, **changes})  # type: ignore[arg-type]


def test_a_ready_domain_has_neither_problems_nor_warnings() -> None:
    assert problems(READY) == []
    assert warnings(READY) == []


def test_ten_lookups_pass_and_eleven_fail() -> None:
    assert problems(with_(spf_lookups=10)) == []
    eleven = with_(spf_lookups=11, spf_error="requires 11/10 maximum DNS lookups")
    assert problems(eleven) == [
        "SPF: 11 DNS lookups, over the limit of 10 (receivers treat it as a permanent error: "
        "SPF fails)"
    ]


def test_missing_records_are_problems_and_weak_ones_warnings() -> None:
    bare = with_(spf_record=None, spf_lookups=None, spf_error="no SPF record", dmarc_record=None,
                 dmarc_policy=None, dmarc_rua=(), mx_hosts=())  # fmt: skip
    assert problems(bare) == [
        "SPF: no record (no SPF record)",
        "DMARC: no record at _dmarc.mail.example.com (Gmail and Yahoo require one of bulk senders)",
    ]
    assert warnings(bare) == [
        "no MX record: some receivers distrust a sending domain that takes no mail"
    ]
    assert warnings(with_(dmarc_policy="none", dmarc_rua=()))[0].startswith(
        "DMARC p=none with no rua"
    )
    assert warnings(with_(dmarc_policy="reject", dmarc_rua=())) == [
        "DMARC has no rua: no aggregate reports arrive"
    ]
    assert warnings(with_(spf_includes_acs=False)) == [
        "SPF does not include spf.protection.outlook.com (ACS's senders)"
    ]
    assert problems(with_(spf_error="unknown mechanism")) == ["SPF: unknown mechanism"]


def test_a_posture_survives_its_column() -> None:
    assert DnsPosture.from_column(READY.column()) == READY
    assert DnsPosture.from_column(None) is None


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["127.0.0.1:5353"], [("127.0.0.1", 5353)]),
        (["10.0.0.2"], [("10.0.0.2", 53)]),
        (["::1"], [("::1", 53)]),
        (["[::1]:5300", "192.0.2.1:53"], [("::1", 5300), ("192.0.2.1", 53)]),
    ],
)
def test_nameservers_take_an_optional_port(
    entries: list[str], expected: list[tuple[str, int]]
) -> None:
    resolver = resolver_for(entries, timeout=2)
    found = [(n.address, n.port) for n in resolver.nameservers]  # type: ignore[union-attr]
    assert found == expected
    assert resolver.lifetime == 2
