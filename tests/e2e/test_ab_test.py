"""An A/B campaign on the real send path: the emulator gives one subject more opens and clicks,
its engagement events reach the running API's webhook, and once the test's wait has passed the
reconciler picks that variant and the rest of the list goes out with it."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import AbTest, World, exactly_once, world
from tests.e2e.test_feedback_loop import api_server, step
from warmup.campaigns.report import CampaignReport, campaign_report
from warmup.domains.store import DomainStore
from warmup.emulator.config import EngagementRule
from warmup.store.models import LedgerRow
from warmup.views.campaigns import ABTestOut, ab_test_view
from warmup.wiring import Stores

pytestmark = pytest.mark.integration
RECIPIENTS = 400


@pytest.mark.timeout(180)
def test_the_variant_people_engage_with_carries_the_rest_of_the_list(
    database_url: str, tmp_path: Path
) -> None:
    with (
        world(
            database_url,
            tmp_path,
            recipients=RECIPIENTS,
            ab_test=AbTest(
                subjects=["Big news, {{ name }}"], fraction=0.5, wait=timedelta(seconds=2)
            ),
            seed=5,
            event_delay_seconds=0.02,
            engagement_rules=[
                EngagementRule(subject="^Big news", open_rate=0.6, click_rate=0.5),
                EngagementRule(subject="^Hi", open_rate=0.3, click_rate=0.1),
            ],
        ) as w,
        api_server(w.database) as webhook,
    ):
        w.emulator.reconfigure(webhook_url=webhook)
        with w.database.session() as session:
            states = dict(
                session.execute(
                    select(LedgerRow.state, func.count()).group_by(LedgerRow.state)
                ).all()
            )
        assert states == {"pending": 200, "waiting": 200}  # half tests, half waits
        deadline = time.monotonic() + 120
        while (
            campaign_report(
                w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
            ).status.value
            != "completed"
        ):
            assert time.monotonic() < deadline, "the campaign did not complete"
            step(w)
            w.runtime.reconcile()
            time.sleep(0.05)

        with w.database.session() as session:
            by_variant = dict(
                session.execute(
                    select(LedgerRow.variant, func.count())
                    .where(LedgerRow.state == "accepted")
                    .group_by(LedgerRow.variant)
                ).all()
            )
        assert by_variant == {"A": 100, "B": 300}  # the test split evenly, then the winner
        exactly_once(w.emulator.stats(), RECIPIENTS)
        view = ab_view(w)
        assert view.winner == "B"
        assert view.reason is not None
        assert view.reason.startswith("variant B wins on clicks")
        a, b = view.variants
        assert b.click_rate > a.click_rate
        # The test's numbers, not the remainder's: each variant's sent count is its test share.
        assert (a.sent, b.sent) == (100, 100)


def report(w: World) -> CampaignReport:
    return campaign_report(
        w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
    )


def ab_view(w: World) -> ABTestOut:
    view = ab_test_view(Stores(w.database), report(w).campaign_id)
    assert view is not None
    return view
