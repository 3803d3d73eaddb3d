"""A DNS server on 127.0.0.1 for the posture checks' tests: no test asks the internet.

Serves TXT and MX records from a dict over UDP and TCP (a long SPF answer may be truncated
over UDP, and resolvers then retry over TCP) on a free port. Names it holds no record of, and
whose subdomains it holds none of either, are NXDOMAIN; a name it knows answers an empty
NOERROR for other types.

    with DnsServer({"example.test": {"TXT": ["v=spf1 -all"], "MX": ["mx.example.test"]}}) as s:
        s.nameserver  # "127.0.0.1:PORT"
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from dnslib import MX, QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Zone = Mapping[str, Mapping[str, Sequence[str]]]


def _chunks(text: str) -> list[bytes]:
    """A TXT value as character-strings of at most 255 bytes (RFC 1035 § 3.3.14)."""
    data = text.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class _ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: Zone) -> None:
        self.zone = {name.lower().rstrip("."): records for name, records in zone.items()}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        kind = QTYPE[request.q.qtype]
        records = self.zone.get(name)
        if records is None:
            if not any(known.endswith("." + name) for known in self.zone):
                reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in records.get(kind, ()):
            if kind == "TXT":
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(_chunks(value)), ttl=60))
            elif kind == "MX":
                reply.add_answer(RR(request.q.qname, QTYPE.MX, rdata=MX(value), ttl=60))
        return reply


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DnsServer:
    def __init__(self, zone: Zone) -> None:
        self.resolver = _ZoneResolver(zone)
        self.port = _free_port()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self._servers = [
            DNSServer(self.resolver, port=self.port, address="127.0.0.1", tcp=tcp, logger=quiet)
            for tcp in (False, True)
        ]

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        for server in self._servers:
            server.start_thread()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for server in self._servers:
            server.stop()


ACS_SPF = {
    "spf.protection.outlook.com": {"TXT": ["v=spf1 ip4:40.92.0.0/15 ip4:52.100.0.0/14 -all"]}
}


def ready_zone(*domains: str) -> dict[str, dict[str, list[str]]]:
    """Records of domains fit for bulk mail through ACS: SPF including ACS's (2 lookups),
    DMARC ``p=quarantine`` with aggregate reports, and an MX."""
    zone: dict[str, dict[str, list[str]]] = {name: dict(v) for name, v in ACS_SPF.items()}
    for domain in domains:
        zone[domain] = {
            "TXT": ["v=spf1 include:spf.protection.outlook.com -all"],
            "MX": [f"inbound.{domain}"],
        }
        zone[f"_dmarc.{domain}"] = {"TXT": [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}"]}
    return zone
