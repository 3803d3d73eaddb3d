"""The project's layers and table owners, as data shared by the static and the runtime checks.

A package may import from its own layer's package or from lower layers only. Each table is
written by one owner (a module, or a package for the ledger) and by nothing else.
"""

from __future__ import annotations

# Lowest first. Packages on one line are peers: neither may import the other.
LAYERS: list[set[str]] = [
    {"errors", "clock", "csvsafe", "addresses", "tracing"},
    {"settings"},
    {"logs"},
    {"plans"},
    {"control"},
    {"content", "ratelimit", "journal", "sending", "emulator"},
    {"management"},
    {"store"},
    {"audit"},
    {"ledger"},
    {"suppression"},
    {"domains"},
    {"lists"},
    {"campaigns"},
    {"feedback"},
    {"relay"},
    {"pipeline"},
    {"views"},
    {"api"},
    {"commands"},
    {"cli", "probe"},
    {"__main__"},
]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}

# table → the module (or package) that alone writes it
OWNERS: dict[str, str] = {
    "sending_domains": "warmup.domains.store",
    "sender_addresses": "warmup.domains.store",
    "audit_log": "warmup.audit",
    "contact_lists": "warmup.lists.importer",
    "recipients": "warmup.lists.importer",
    "list_imports": "warmup.lists.jobs",
    "suppressions": "warmup.suppression.store",
    "campaigns": "warmup.campaigns",
    "send_ledger": "warmup.ledger",
    "delivery_events": "warmup.feedback.intake",
    "engagement_events": "warmup.feedback.intake",
    "dispatch_fences": "warmup.ledger",
    "lease_recoveries": "warmup.ledger",
    # Written by the ledger's triggers; folded by warmup.ledger.counters.
    "ledger_counts": "warmup.ledger",
    "ledger_count_deltas": "warmup.ledger",
    "domain_sends": "warmup.ledger",
    "domain_send_deltas": "warmup.ledger",
    "domain_outcomes": "warmup.ledger",
    "domain_outcome_deltas": "warmup.ledger",
    "api_tokens": "warmup.api.token_store",
    "relay_users": "warmup.relay.users",
    "relay_messages": "warmup.relay.intake",
    "feedback_watermarks": "warmup.feedback.pull",
}

# The one module under api/ and commands/ that may speak SQL: the owner of api_tokens.
SQL_ALLOWED_IN_ENTRY_POINTS = {"warmup.api.token_store"}


def owns(module: str, table: str) -> bool:
    owner = OWNERS[table]
    return module == owner or module.startswith(owner + ".")
