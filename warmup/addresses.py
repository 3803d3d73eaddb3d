"""The one spelling of an email address (with ``email-validator``).

Every path that stores, finds, removes or matches an address goes through here: list imports,
the ledger, suppressions (CLI, API, links, delivery reports), sender addresses and webhooks. Two
spellings of one address (``Ada@Bücher.example`` and ``ada@xn--bcher-kva.example``) must meet in
the same row, or an address could be suppressed under one and sent under the other.
"""

from __future__ import annotations

MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
MAX_ADDRESS = 254  # RFC 5321's path limit less the angle brackets


class InvalidAddress(ValueError):
    """Why an address was refused, in words a marketer can act on."""


def normalise_address(raw: str, *, check_mx: bool = False) -> str:
    """``Ada.Lovelace@Example.ORG`` → ``ada.lovelace@example.org``.

    Syntax is checked by ``email-validator`` (no DNS unless ``check_mx``). The whole address is
    lower-cased: mailbox providers treat local parts case-insensitively, and one ledger row per
    address needs one spelling. Internationalised domains are stored in their ASCII (IDNA) form;
    internationalised local parts are refused, since few receiving servers accept SMTPUTF8.
    """
    text = raw.strip()
    if not text:
        raise InvalidAddress("no address")
    # Imported here: commands that only read the store (campaign list) never load it.
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(text, check_deliverability=check_mx, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    normal = f"{result.local_part.lower()}@{result.ascii_domain.lower()}"
    # RFC 5321's limits, which email-validator checks only in strict mode: servers refuse more.
    if len(result.local_part) > MAX_LOCAL_PART:
        raise InvalidAddress(
            f"the part before the @ is {len(result.local_part)} characters; at most "
            f"{MAX_LOCAL_PART} are allowed"
        )
    if len(normal) > MAX_ADDRESS:
        raise InvalidAddress(f"the address is {len(normal)} characters; at most {MAX_ADDRESS}")
    return normal


def domain_of(address: str) -> str:
    """The domain of an address in its normal form (:func:`normalise_address`)."""
    return address.rpartition("@")[2]


def sender_domain(raw: str) -> str:
    """The domain an address sends from, spelt as stored (ASCII, lower-case); raises
    :class:`InvalidAddress` if ``raw`` is not an address."""
    return domain_of(normalise_address(raw))


def domain_key(raw: str) -> str:
    """A domain name's one spelling, the one addresses on it store: trimmed, lower-case,
    without a final dot, an internationalised name in its ASCII (IDNA) form. A name that is
    not a valid domain is trimmed and lower-cased, and matches nothing stored unless it is the
    same text."""
    text = raw.strip().rstrip(".")
    try:
        return sender_domain(f"postmaster@{text}")
    except InvalidAddress:
        return text.lower()


def address_key(raw: str) -> str:
    """The spelling to look ``raw`` up by: its normal form, or (when it is not a valid address,
    as in an odd delivery report) the same trimmed and lower-cased, which matches nothing that
    :func:`normalise_address` stored unless it is the same text."""
    try:
        return normalise_address(raw)
    except InvalidAddress:
        return raw.strip().lower()
