"""One-click unsubscribe: signed tokens and the headers Gmail and Yahoo require of bulk mail.

Every message carries ``List-Unsubscribe: <https://…/u/TOKEN>`` (plus ``<mailto:…>`` when
configured) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058). The token
names the campaign and the address and is signed with HMAC-SHA256, so nobody can unsubscribe
someone else by guessing a URL; it holds no secret and needs no database lookup to check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from warmup.errors import ContentError


class InvalidToken(ContentError):
    """An unsubscribe token that is malformed or not signed by us."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Unsubscriber:
    secret: bytes
    public_url: str
    mailto: str | None = None

    def _signature(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()[:20]

    def token(self, campaign_id: int, address: str) -> str:
        payload = f"{campaign_id}:{address}".encode()
        return f"{_b64(payload)}.{_b64(self._signature(payload))}"

    def verify(self, token: str) -> tuple[int, str]:
        """(campaign id, address) of a genuine token, else :class:`InvalidToken`."""
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
            raise InvalidToken("unsubscribe token not signed by this service")
        campaign, _, address = payload.decode("utf-8", "replace").partition(":")
        if not campaign.isdigit() or "@" not in address:
            raise InvalidToken("malformed unsubscribe token")
        return int(campaign), address

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
        return cls(secret=real.secret, public_url=real.public_url, mailto=real.mailto)
