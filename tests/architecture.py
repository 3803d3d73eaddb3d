"""The project's layers and table owners, as data shared by the static and the runtime checks.

A package may import from its own layer's package or from lower layers only. Each table is
written by one owner (a module, or a package for the ledger) and by nothing else.
"""

from __future__ import annotations

# Lowest first. Packages on one line are peers: neither may import the other.
LAYERS: list[set[str]] = [
    {"errors", "clock", "csvsafe", "addresses", "tracing", "heap"},
    {"settings"},
    {"logs"},
    {"plans"},
    {"control"},
    {"content", "ratelimit", "journal", "sending", "emulator"},
    {"management"},
    {"store"},
    {"audit"},
    {"ledger"},
    {"suppression", "tokens"},
    {"domains"},
    {"lists"},
    {"campaigns"},
    {"feedback"},
    {"relay"},
    # The composition root: the one module that builds stores (warmup/wiring.py).
    {"wiring"},
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
    "api_tokens": "warmup.tokens",
    "relay_users": "warmup.relay.users",
    "relay_messages": "warmup.relay.intake",
    "feedback_watermarks": "warmup.feedback.pull",
    "dmarc_reports": "warmup.feedback.dmarc_store",
    "dmarc_sources": "warmup.feedback.dmarc_store",
    "postmaster_days": "warmup.feedback.postmaster_store",
}

# table → the modules outside its owner's package that read it through its model: each a read
# model that needs a join across owners (docs/architecture.md, "Who reads what"). Any other
# module asks the owner, which returns typed records, never ORM rows. Shrink, never grow.
READERS: dict[str, set[str]] = {
    # The ledger keeps no domain, status or recipient fields of its own and sits below their
    # owners: its one window onto them is warmup.ledger.joins.
    "campaigns": {"warmup.ledger.joins", "warmup.lists.importer", "warmup.relay.intake"},
    "recipients": {"warmup.ledger.joins"},
    "sending_domains": {
        "warmup.ledger.joins",
        "warmup.campaigns.report",
        "warmup.campaigns.store",
    },
    # A campaign's report, retry, A/B test and pruning read its own rows of the ledger.
    "send_ledger": {
        "warmup.campaigns.ab_test",
        "warmup.campaigns.prune",
        "warmup.campaigns.report",
        "warmup.campaigns.retry",
        "warmup.campaigns.store",
        "warmup.lists.importer",
        "warmup.relay.intake",
    },
    "contact_lists": {
        "warmup.campaigns.ab_test",
        "warmup.campaigns.report",
        "warmup.campaigns.retry",
        "warmup.campaigns.store",
    },
    "engagement_events": {"warmup.campaigns.ab_test", "warmup.campaigns.report"},
    # An import drops addresses suppressed now (one read of the whole list).
    "suppressions": {"warmup.lists.importer"},
}


# The one module under api/ and commands/ that may speak SQL: the owner of api_tokens.
SQL_ALLOWED_IN_ENTRY_POINTS = {"warmup.tokens"}


def owns(module: str, table: str) -> bool:
    owner = OWNERS[table]
    return module == owner or module.startswith(owner + ".")


def owner_package(table: str) -> str:
    """``warmup.domains`` for ``warmup.domains.store``: reads are free within the package."""
    return ".".join(OWNERS[table].split(".")[:2])


def may_read(module: str, table: str) -> bool:
    package = owner_package(table)
    return module == package or module.startswith(package + ".") or module in READERS.get(table, ())
