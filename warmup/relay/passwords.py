"""Relay passwords: made at random, shown once, stored as scrypt hashes (pure).

scrypt (RFC 7914, in the standard library) is memory-hard: a stolen table of hashes is costly
to guess at. A stored hash names its parameters, so they can be raised later without breaking
the passwords already issued.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

# 2**14 × 8 × 128 B = 16 MB and some 50 ms a check: the relay verifies a user once per
# connection (and remembers a success briefly), not once per message.
N, R, P = 2**14, 8, 1
PASSWORD_BYTES = 24


def new_password() -> str:
    """A random password (32 URL-safe characters): devices take it as typed."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p, dklen=32
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


@functools.cache
def _stand_in() -> str:
    """A hash no password matches, made once: checked against for a name that is no user."""
    return hash_password(new_password())


def verify_nobody(password: str) -> None:
    """Take as long as :func:`verify_password` does, to refuse a name that is no user's: an
    unknown user's refusal then takes the same time as a wrong password's."""
    verify_password(password, _stand_in())
