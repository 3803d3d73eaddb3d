"""Recipient address validation and normalisation (with ``email-validator``)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


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
    try:
        result = validate_email(text, check_deliverability=check_mx, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"
