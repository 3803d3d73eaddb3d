"""Every statement of the send path's hot steps has an index to take on PostgreSQL (issue 19):
with sequential scans forbidden wherever another way exists, none reads ``send_ledger`` from
end to end. So none grows with the size of the ledger; ``benchmarks/scale.py`` times the same
statements at 10 million rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.hot_queries import hot_operations, plans_of
from harness.pipeline_world import world

pytestmark = pytest.mark.integration


def test_no_hot_statement_scans_the_ledger(postgres_url: str, tmp_path: Path) -> None:
    with world(postgres_url, tmp_path, recipients=300) as w:
        plans = plans_of(w.runtime.database, hot_operations(w.runtime, "c"), no_seqscan=True)
    assert {plan.operation for plan in plans} >= {
        "dispatcher tick (allowance reads, fence, claim)",
        "batch results (sending, then accepted)",
        "feedback match (delivery reports)",
        "housekeeping lease scan",
        "health window",
    }
    assert any(plan.ledger_scans for plan in plans if plan.operation == "health window")
    # Rows in doubt hold no lease: they have an index of their own (migration 0018), not a
    # walk through every row's entry of another index.
    (in_doubt,) = [p for p in plans if p.operation.startswith("housekeeping rows in doubt")]
    assert in_doubt.ledger_scans == ["Index Scan ix_ledger_in_doubt"]
    # An unsubscribe probes (campaign, address) in each campaign not over: the address alone
    # has no index, and every row's entry of another one would be read.
    (unsubscribe,) = [p for p in plans if p.operation.startswith("unsubscribe") and p.ledger_scans]
    assert any(
        "campaign_id" in condition and "address" in condition
        for condition in unsubscribe.index_conditions
    ), unsubscribe.index_conditions
    scanning = [plan.summary() for plan in plans if plan.seq_scans_of_ledger]
    assert scanning == [], "\n".join(map(str, scanning))
