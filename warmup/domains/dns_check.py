"""Read a domain's SPF, DMARC and MX records from DNS (``warmup acs domain check``).

checkdmarc does the reading and the parsing: it follows SPF's includes and redirects and counts
their lookups as RFC 7208 counts them, finds the DMARC record that applies (the domain's or its
organisational domain's) and parses its tags. It is given a dnspython resolver, so the check
asks the nameservers ops name (``WARMUP_DNS_NAMESERVERS``, ``--nameserver``), or the system's.
What the records mean is :mod:`warmup.control.dns_posture`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import dns.exception
import dns.nameserver
import dns.resolver

from warmup.control.dns_posture import ACS_SPF_INCLUDE, DnsPosture
from warmup.errors import ConfigError

DEFAULT_TIMEOUT = 5.0


class DnsUnreachableError(ConfigError):
    """No nameserver answered: nothing is known of the domain's records, and nothing is kept."""


def resolver_for(
    nameservers: Sequence[str], timeout: float = DEFAULT_TIMEOUT
) -> dns.resolver.Resolver:
    """A resolver asking these nameservers (``IP`` or ``IP:PORT``; ``[IPv6]:PORT``), or the
    system's when none is named."""
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = [_nameserver(entry) for entry in nameservers]
    resolver.lifetime = timeout
    resolver.timeout = min(1.0, timeout)
    return resolver


def _nameserver(entry: str) -> dns.nameserver.Nameserver:
    text = entry.strip()
    host, port = text, 53
    if text.startswith("["):  # [IPv6]:PORT
        host, _, rest = text[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif text.count(":") == 1:  # IPv4:PORT (a bare IPv6 address has several colons)
        host, _, number = text.partition(":")
        port = int(number)
    return dns.nameserver.Do53Nameserver(host, port)


def read_posture(domain: str, resolver: dns.resolver.Resolver, at: datetime) -> DnsPosture:
    """The domain's records as its nameservers give them now. Raises
    :class:`DnsUnreachableError` when no nameserver answers."""
    # checkdmarc is imported here: it pulls in httpx, pyleri and the public suffix list, which
    # no other command needs (CLI start-up time).
    import checkdmarc.dmarc
    import checkdmarc.spf
    import checkdmarc.utils

    _reachable(domain, resolver)
    # checkdmarc keeps answers in a module-wide cache for minutes: a check run after a DNS fix
    # must see the fix.
    checkdmarc.utils.DNS_CACHE.clear()
    timeout = float(resolver.lifetime)
    spf = checkdmarc.spf.check_spf(domain, resolver=resolver, timeout=timeout, retries=0)
    dmarc: dict[str, Any] = dict(
        checkdmarc.dmarc.check_dmarc(domain, resolver=resolver, timeout=timeout, retries=0)
    )
    try:
        mx = checkdmarc.utils.get_mx_record_set(
            domain, resolver=resolver, timeout=timeout, retries=0
        )
    except checkdmarc.utils.DNSException:  # NXDOMAIN: no MX, as no SPF and no DMARC
        mx = {"hosts": []}
    tags: dict[str, Any] = dmarc.get("tags") or {}
    return DnsPosture(
        domain=domain,
        checked_at=at,
        spf_record=spf.get("record"),
        spf_lookups=spf.get("dns_lookups"),
        spf_error=spf.get("error"),
        spf_includes_acs=ACS_SPF_INCLUDE in _included(spf.get("parsed")),
        dmarc_record=dmarc.get("record"),
        dmarc_location=dmarc.get("location"),
        dmarc_policy=_tag(tags, "p"),
        dmarc_rua=tuple(_addresses(tags.get("rua"))),
        dmarc_error=dmarc.get("error") if dmarc.get("record") else None,
        mx_hosts=tuple(str(host["hostname"]) for host in mx.get("hosts", [])),
    )


def _reachable(domain: str, resolver: dns.resolver.Resolver) -> None:
    """Ask for the domain's SOA first: a timeout must not read as "no SPF, no DMARC"."""
    try:
        resolver.resolve(domain, "SOA", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return  # the records' absence is then the finding
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        servers = ", ".join(str(n) for n in resolver.nameservers) or "the system's resolvers"
        raise DnsUnreachableError(f"DNS did not answer for {domain} ({servers}): {exc}") from exc


def _included(parsed: Any) -> set[str]:
    """Every domain an SPF record includes or redirects to, however deep."""
    found: set[str] = set()
    if not isinstance(parsed, dict):
        return found
    for mechanism in parsed.get("mechanisms") or []:
        if mechanism.get("mechanism") == "include":
            found.add(str(mechanism.get("value", "")).lower())
            found |= _included(mechanism.get("parsed"))
    redirect = parsed.get("redirect")
    if isinstance(redirect, dict):
        found.add(str(redirect.get("domain", "")).lower())
        found |= _included(redirect.get("parsed"))
    return found


def _tag(tags: dict[str, Any], name: str) -> str | None:
    value = (tags.get(name) or {}).get("value")
    return None if value is None else str(value).lower()


def _addresses(tag: Any) -> list[str]:
    """The ``rua`` tag's addresses, as URIs (``mailto:dmarc@example.com``)."""
    if not isinstance(tag, dict):
        return []
    found = []
    for entry in tag.get("value") or []:
        if isinstance(entry, dict):
            scheme, address = entry.get("scheme", "mailto"), entry.get("address", "")
            found.append(f"{scheme}:{address}")
        else:
            found.append(str(entry))
    return found
