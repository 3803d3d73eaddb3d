"""Request authentication exactly as ACS checks it: HMAC-SHA256 access keys, or a bearer token.

String to sign: ``VERB\\n<path?query>\\n<x-ms-date>;<host incl. port>;<x-ms-content-sha256>``,
signed with the base64-decoded access key. The content hash must match the body and the date
must be within the allowed skew of the server's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

_SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign(key: bytes, string_to_sign: str) -> str:
    digest = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def hmac_authorization(
    *, key: bytes, method: str, path_and_query: str, host: str, date: str, body: bytes
) -> dict[str, str]:
    """The headers an ACS client sends; used by tests and by the emulator's own checks."""
    body_hash = content_hash(body)
    signature = sign(key, f"{method.upper()}\n{path_and_query}\n{date};{host};{body_hash}")
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": body_hash,
        "Authorization": f"HMAC-SHA256 SignedHeaders={_SIGNED_HEADERS}&Signature={signature}",
    }


def verify_hmac(
    *,
    key: bytes,
    method: str,
    path_and_query: str,
    host: str,
    headers: Mapping[str, str],
    body: bytes,
    now_epoch: float,
    max_skew_seconds: float,
) -> str | None:
    """Return ``None`` when the request is signed correctly, else the reason it is not."""
    authorization = headers.get("Authorization", "")
    scheme, _, params = authorization.partition(" ")
    if scheme != "HMAC-SHA256":
        return "missing or unsupported Authorization scheme"
    fields = dict(part.partition("=")[::2] for part in params.split("&"))
    if fields.get("SignedHeaders", "").lower() != _SIGNED_HEADERS:
        return "SignedHeaders must be x-ms-date;host;x-ms-content-sha256"
    date = headers.get("x-ms-date", "")
    try:
        sent_at = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return "missing or malformed x-ms-date"
    if abs(now_epoch - sent_at) > max_skew_seconds:
        return "x-ms-date is outside the allowed clock skew"
    body_hash = headers.get("x-ms-content-sha256", "")
    if not hmac.compare_digest(body_hash, content_hash(body)):
        return "x-ms-content-sha256 does not match the body"
    given = fields.get("Signature", "")
    # The async SDK signs the decoded URL (yarl normalises it); accept either form.
    for candidate in dict.fromkeys((path_and_query, unquote(path_and_query))):
        expected = sign(key, f"{method.upper()}\n{candidate}\n{date};{host};{body_hash}")
        if hmac.compare_digest(given, expected):
            return None
    return "signature does not match"


def verify_bearer(headers: Mapping[str, str], required_token: str | None) -> str | None:
    """Return ``None`` when a bearer token is present (and equal to ``required_token`` if set)."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "missing bearer token"
    if required_token is not None and not hmac.compare_digest(token, required_token):
        return "bearer token not accepted"
    return None
