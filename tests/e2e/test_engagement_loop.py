"""The engagement loop end to end: a campaign sends, opens and clicks come back through the
webhook and through a pull of the engagement log (kept once), and the next campaign on the same
list starts with the recipients who clicked, then those who opened, then the rest."""

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import draft, world
from tests.e2e.test_feedback_loop import api_server, step
from tests.integration.test_feedback_pull import WORKSPACE, query_settings
from warmup.campaigns.report import campaign_report
from warmup.domains.store import DomainStore
from warmup.emulator.config import EngagementRule
from warmup.feedback.intake import FeedbackStore
from warmup.feedback.pull import ENGAGEMENT, LogPull
from warmup.management.logs import LogsQuery
from warmup.store.models import Campaign, EngagementEvent, LedgerRow
from warmup.wiring import Stores

pytestmark = pytest.mark.integration


@pytest.mark.timeout(180)
def test_the_next_campaign_starts_with_who_clicked_then_who_opened(
    database_url: str, tmp_path: Path
) -> None:
    with (
        world(
            database_url,
            tmp_path,
            recipients=200,
            seed=7,
            # Opens and clicks reach the webhook after the worker has recorded the send. One
            # that comes first finds no ledger row and its points are lost (a known gap,
            # docs/azure.md "The engagement loop"); this test is about the ranking.
            event_delay_seconds=1.5,
            engagement_rules=[EngagementRule(subject="^Hi", open_rate=0.5, click_rate=0.4)],
            arm_port=0,
        ) as w,
        api_server(w.database) as webhook,
    ):
        w.emulator.reconfigure(webhook_url=webhook)
        deadline = time.monotonic() + 120
        while campaign_report(
            w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
        ).status.value != ("completed"):
            assert time.monotonic() < deadline, "the campaign did not complete"
            step(w)
            w.runtime.reconcile()
        made = sum(w.emulator.stats()["engagements"].values())
        assert made > 0
        with w.database.session() as session:
            while session.scalar(select(func.count()).select_from(EngagementEvent)) < made:
                assert time.monotonic() < deadline, "the engagement events did not all arrive"
                time.sleep(0.1)
            kinds: dict[str, set[str]] = {}
            for address, kind in session.execute(
                select(EngagementEvent.recipient, EngagementEvent.engagement)
            ):
                kinds.setdefault(address, set()).add(kind)
        # The same opens and clicks, pulled from the engagement log: already known, kept once.
        query = LogsQuery(query_settings(w.emulator, tmp_path), WORKSPACE)
        try:
            pulled = LogPull(w.database, FeedbackStore(w.database)).run(
                WORKSPACE,
                query,
                datetime.now(UTC),
                table=ENGAGEMENT,
                since=datetime.now(UTC) - timedelta(hours=1),
                lag=timedelta(0),
            )
        finally:
            query.close()
        assert pulled.rows == made
        assert pulled.ingest.duplicates == made
        now = datetime.now(UTC)
        draft(w.database, "c2", "Hi again", "Hello again", at=now)
        Stores(w.database).campaigns.start("c2", actor="t", at=now)
        with w.database.session() as session:
            order = list(
                session.scalars(
                    select(LedgerRow.address)
                    .join(Campaign, Campaign.id == LedgerRow.campaign_id)
                    .where(Campaign.name == "c2")
                    .order_by(LedgerRow.rank)
                )
            )

    def level(address: str) -> int:
        found = kinds.get(address, set())
        return 2 if "click" in found else 1 if "view" in found else 0

    levels = [level(address) for address in order]
    assert levels == sorted(levels, reverse=True), "clicked, then opened, then the rest"
    assert {2, 1, 0} <= set(levels)  # all three kinds of recipient are there
