"""A local certificate authority for the emulator's STARTTLS: made at start, never stored.

Clients trust it through its CA certificate (PEM), which the emulator hands out (written to a
file, or read from the server object in tests), as they would trust a private CA in production.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import trustme


@dataclass(frozen=True)
class LocalAuthority:
    ca_pem: bytes
    server_context: ssl.SSLContext


def local_authority(host: str) -> LocalAuthority:
    """A fresh CA and a server certificate for ``host`` (and the loopback names) signed by it."""
    authority = trustme.CA(organization_name="warmup ACS emulator")
    names = dict.fromkeys([host, "localhost", "127.0.0.1"])
    certificate = authority.issue_cert(*names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    return LocalAuthority(authority.cert_pem.bytes(), context)
