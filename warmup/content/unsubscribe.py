"""One-click unsubscribe: signed tokens and the headers Gmail and Yahoo require of bulk mail.

Every message carries ``List-Unsubscribe: <https://…/u/TOKEN>`` (plus ``<mailto:…>`` when
configured) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058). The token
names the campaign and the address, encrypted and authenticated (AES-256-GCM, a key derived
from the unsubscribe secret with HKDF): nobody can unsubscribe someone else by guessing a URL,
the address is not readable in links, access logs or browser histories, and no database
lookup is needed to check it. The nonce is derived from the content, so a message's links are
one token. Tokens of the earlier form (the address in base64, HMAC-signed) in mail already
sent keep working, and so do tokens made with an earlier secret while it is still listed
(``earlier``): a secret is rotated without breaking the links in mail people still keep.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from warmup.errors import ContentError

_CONTEXT = b"warmup unsubscribe token v2"
NONCE_BYTES = 12
TAG_BYTES = 16


class InvalidToken(ContentError):
    """An unsubscribe token that is malformed or not signed by us."""


class _NotOurs(InvalidToken):
    """Well formed, but not made with this secret: another secret may have made it."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parts(payload: bytes) -> tuple[int, str]:
    campaign, _, address = payload.decode("utf-8", "replace").partition(":")
    if not campaign.isdigit() or "@" not in address:
        raise InvalidToken("malformed unsubscribe token")
    return int(campaign), address


@dataclass(frozen=True)
class Unsubscriber:
    secret: bytes  # makes the tokens, and checks them
    public_url: str
    mailto: str | None = None
    earlier: tuple[bytes, ...] = ()  # secrets being retired: they check tokens, never make them

    def _signature(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()[:20]

    @functools.cached_property
    def _keys(self) -> tuple[AESGCM, bytes]:
        """The cipher and the nonce key, derived once from the secret."""
        derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_CONTEXT).derive(
            self.secret
        )
        return AESGCM(derived[:32]), derived[32:]

    def token(self, campaign_id: int, address: str) -> str:
        payload = f"{campaign_id}:{address}".encode()
        cipher, nonce_key = self._keys
        # Derived from the content (SIV-like): the same link in a message's body and headers,
        # and a nonce repeated only with the very same plaintext.
        nonce = hmac.new(nonce_key, payload, hashlib.sha256).digest()[:NONCE_BYTES]
        return _b64(nonce + cipher.encrypt(nonce, payload, _CONTEXT))

    def verify(self, token: str) -> tuple[int, str]:
        """(campaign id, address) of a genuine token, else :class:`InvalidToken`.

        A token is checked with the current secret, then with each earlier one.
        """
        try:
            return self._verify_one(token)
        except _NotOurs:
            for secret in self.earlier:
                with contextlib.suppress(_NotOurs):
                    return Unsubscriber(secret, self.public_url)._verify_one(token)
            raise

    def _verify_one(self, token: str) -> tuple[int, str]:
        if "." in token:
            return self._verify_signed(token)
        try:
            sealed = _unb64(token)
        except ValueError:
            raise InvalidToken("malformed unsubscribe token") from None
        if _b64(sealed) != token or len(sealed) <= NONCE_BYTES + TAG_BYTES:
            raise InvalidToken("malformed unsubscribe token")
        cipher, _ = self._keys
        try:
            payload = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _CONTEXT)
        except InvalidTag:
            raise _NotOurs("unsubscribe token not made by this service") from None
        return _parts(payload)

    def _verify_signed(self, token: str) -> tuple[int, str]:
        """A token of the earlier form: the payload in base64, HMAC-signed."""
        try:
            encoded, signature = token.split(".")
            payload = _unb64(encoded)
            given = _unb64(signature)
        except ValueError:
            raise InvalidToken("malformed unsubscribe token") from None
        # One spelling per token: base64's spare bits would let "…x" and "…A" mean the same.
        if _b64(payload) != encoded or _b64(given) != signature:
            raise InvalidToken("malformed unsubscribe token")
        if not hmac.compare_digest(given, self._signature(payload)):
            raise _NotOurs("unsubscribe token not signed by this service")
        return _parts(payload)

    def url(self, campaign_id: int, address: str) -> str:
        return f"{self.public_url.rstrip('/')}/u/{self.token(campaign_id, address)}"

    def headers(self, campaign_id: int, address: str) -> dict[str, str]:
        targets = [f"<{self.url(campaign_id, address)}>"]
        if self.mailto:
            subject = quote(f"unsubscribe {self.token(campaign_id, address)}")
            targets.append(f"<mailto:{self.mailto}?subject={subject}>")
        return {
            "List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }


PREVIEW_TOKEN = "preview"  # noqa: S105  # every link in a preview: it unsubscribes nobody


@dataclass(frozen=True)
class PreviewLinks(Unsubscriber):
    """The links a preview shows: the real message's shape, but inert. A preview is open to
    every role; a working signed link would let anyone who can read unsubscribe any member."""

    def token(self, campaign_id: int, address: str) -> str:
        return PREVIEW_TOKEN

    @classmethod
    def like(cls, real: Unsubscriber) -> PreviewLinks:
        return cls(real.secret, real.public_url, real.mailto, real.earlier)
