"""Which mailbox-provider group a recipient belongs to, for per-provider caps."""

from __future__ import annotations

from warmup.plans.model import ProviderGroup

_BY_NAME = {
    **dict.fromkeys(("gmail", "googlemail"), ProviderGroup.GMAIL),
    **dict.fromkeys(("outlook", "hotmail", "live", "msn", "windowslive"), ProviderGroup.MICROSOFT),
    **dict.fromkeys(("yahoo", "ymail", "rocketmail", "aol", "aim"), ProviderGroup.YAHOO),
}
# Second-level labels under which providers register country domains (hotmail.co.uk, yahoo.com.br).
_COUNTRY_SECOND_LEVELS = frozenset({"co", "com"})


def provider_group(address_or_domain: str) -> ProviderGroup:
    """The group of ``someone@hotmail.co.uk`` or ``hotmail.co.uk`` (MICROSOFT); OTHER if unknown."""
    domain = address_or_domain.rpartition("@")[2].strip().lower().rstrip(".")
    labels = domain.split(".")
    is_provider_shaped = len(labels) == 2 or (
        len(labels) == 3 and labels[1] in _COUNTRY_SECOND_LEVELS
    )
    if is_provider_shaped:
        return _BY_NAME.get(labels[0], ProviderGroup.OTHER)
    return ProviderGroup.OTHER
