"""A/B tests: variants of a campaign's message, sent first to a test group, then the winner.

A draft gets 1 to 3 variants (B, C, D) beside its own message (A), a test fraction and a
wait. At start the test group (the first rows to send, most engaged first) takes the
variants in turn and the rest of the list waits (ledger state ``waiting``). Once every test row
has its result and the wait since the last test send has passed, the reconciler's tick picks
the winner (:mod:`warmup.control.ab_winner`: clicks, then opens, then delivery, then fewer
complaints), records why in the audit log, and releases the waiting rows with the winner.
Warm-up makes this worth more than usual: the early, small days go to the most engaged
recipients, and the variant they engage with best carries the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, distinct, func, select, update

from warmup import audit
from warmup.audit import AuditFilter, AuditLog
from warmup.campaigns.model import VARIANT_LABELS, CampaignStatus, Variant, variant_labels
from warmup.campaigns.record import CampaignRecord, campaign_record
from warmup.campaigns.store import CampaignStore
from warmup.content.hygiene import content_warnings
from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.control.ab_winner import Pick, VariantResult, pick_winner
from warmup.errors import ContentError, NotFoundError, TransitionError
from warmup.ledger import fill as ledger
from warmup.ledger.states import OPEN, LedgerState
from warmup.store.database import Database
from warmup.store.models import Campaign, ContactList, EngagementEvent, LedgerRow

DEFAULT_FRACTION = 0.2
DEFAULT_WAIT = timedelta(hours=4)
MAX_FRACTION = 0.5  # more, and there is little left for the winner
SENT_OPEN = [s.value for s in OPEN if s is not LedgerState.WAITING]


@dataclass(frozen=True)
class Decided:
    campaign: str
    pick: Pick
    released: int  # rows that waited and now go out with the winner


class CampaignABTest:
    def __init__(self, database: Database, campaigns: CampaignStore) -> None:
        self._db = database
        self._campaigns = campaigns

    def add_variant(
        self,
        name: str,
        *,
        subject: str | None,
        html: str | None,
        text: str | None,
        fraction: float | None,
        wait: timedelta | None,
        actor: str,
        at: datetime,
    ) -> tuple[Variant, list[str]]:
        """Add a variant to a draft (and set the test's fraction and wait, if given); return
        it and what to fix in it (no visible unsubscribe link…)."""
        if not (subject or html or text):
            raise ContentError("a variant changes the subject, the HTML body or the text body")
        if fraction is not None and not 0 < fraction <= MAX_FRACTION:
            raise ContentError(
                f"the test fraction is a share of the list, above 0 and at most {MAX_FRACTION}"
            )
        with self._db.session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.name == name))
            if campaign is None:
                raise NotFoundError(f"no campaign {name!r}")
            if campaign.status != CampaignStatus.DRAFT.value:
                raise TransitionError(
                    f"campaign {name} is {campaign.status}; variants are added to drafts"
                )
            existing = list(campaign.variants or [])
            if len(existing) + 1 >= len(VARIANT_LABELS):
                raise ContentError(
                    f"an A/B test has at most {len(VARIANT_LABELS)} variants, A included"
                )
            variant = Variant(VARIANT_LABELS[len(existing) + 1], subject, html, text)
            template = variant.template(
                MessageTemplate(campaign.subject, campaign.html, campaign.text)
            )
            fields = session.scalar(
                select(ContactList.fields).where(ContactList.id == campaign.list_id)
            )
            CompiledTemplate(template).check(set(fields or []))
            campaign.variants = [*existing, variant.stored()]
            campaign.test_fraction = fraction or campaign.test_fraction or DEFAULT_FRACTION
            if wait is not None:
                campaign.test_wait_seconds = int(wait.total_seconds())
            elif campaign.test_wait_seconds is None:
                campaign.test_wait_seconds = int(DEFAULT_WAIT.total_seconds())
            audit.record(
                session,
                "campaign",
                name,
                "add-variant",
                actor=actor,
                at=at,
                reason=(
                    f"variant {variant.label}; test {campaign.test_fraction:.0%} of the list, "
                    f"winner after {campaign.test_wait_seconds // 60} min"
                ),
            )
        return variant, content_warnings(template)

    def campaign(self, campaign_id: int) -> CampaignRecord:
        with self._db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError(f"no campaign {campaign_id}")
            return campaign_record(campaign)

    def decision(self, campaign: CampaignRecord) -> str | None:
        """Why the winner won, as the audit log has it (None before the pick)."""
        if campaign.winner is None:
            return None
        entries = AuditLog(self._db).oldest_first(
            AuditFilter(subject_type="campaign", subject=campaign.name, actions=("ab-winner",))
        )
        return entries[-1].reason if entries else None

    def results(self, campaign: CampaignRecord) -> list[VariantResult]:
        """Each variant's test numbers: sent, delivered, opened, clicked, complained. Once the
        winner is picked, the rows sent with it afterwards are not part of its test."""
        tested = [LedgerRow.campaign_id == campaign.id, LedgerRow.variant.is_not(None)]
        if campaign.winner_at is not None:
            tested.append(LedgerRow.accepted_at <= campaign.winner_at)
        engaged = (
            select(
                LedgerRow.variant, EngagementEvent.engagement, func.count(distinct(LedgerRow.id))
            )
            .join(
                EngagementEvent,
                and_(
                    EngagementEvent.message_id == LedgerRow.message_id,
                    EngagementEvent.recipient == LedgerRow.address,
                ),
            )
            .where(*tested)
            .group_by(LedgerRow.variant, EngagementEvent.engagement)
        )
        outcomes = (
            select(LedgerRow.variant, LedgerRow.outcome, func.count())
            .where(*tested, LedgerRow.accepted_at.is_not(None))
            .group_by(LedgerRow.variant, LedgerRow.outcome)
        )
        counts: dict[tuple[str, str], int] = {}
        sent: dict[str, int] = {}
        with self._db.session() as session:
            for variant, kind, n in session.execute(engaged):
                counts[(str(variant), kind)] = int(n)
            for variant, outcome, n in session.execute(outcomes):
                sent[str(variant)] = sent.get(str(variant), 0) + int(n)
                counts[(str(variant), f"outcome:{outcome}")] = int(n)
        return [
            VariantResult(
                label=label,
                sent=sent.get(label, 0),
                delivered=counts.get((label, "outcome:delivered"), 0),
                opens=counts.get((label, "view"), 0),
                clicks=counts.get((label, "click"), 0),
                complaints=counts.get((label, "outcome:complaint"), 0),
            )
            for label in variant_labels(campaign)
        ]

    def decide_due(self, now: datetime) -> list[Decided]:
        """Pick the winner of every running test whose results are in and whose wait has
        passed, and send the rest of its list with it."""
        with self._db.session() as session:
            testing = session.execute(
                select(Campaign.id, Campaign.name, Campaign.test_wait_seconds).where(
                    Campaign.status.in_(
                        [CampaignStatus.RUNNING.value, CampaignStatus.PAUSED.value]
                    ),
                    Campaign.variants.is_not(None),
                    Campaign.winner.is_(None),
                    Campaign.started_at.is_not(None),
                )
            ).all()
        decided: list[Decided] = []
        for campaign_id, name, wait_seconds in testing:
            with self._db.session() as session:
                in_test = select(func.count()).where(
                    LedgerRow.campaign_id == campaign_id,
                    LedgerRow.variant.is_not(None),
                    LedgerRow.state.in_(SENT_OPEN),
                )
                if session.scalar(in_test):
                    continue  # test rows still to send or to settle
                last = session.scalar(
                    select(func.max(LedgerRow.accepted_at)).where(
                        LedgerRow.campaign_id == campaign_id, LedgerRow.variant.is_not(None)
                    )
                )
            if last is not None and now < last + timedelta(seconds=wait_seconds or 0):
                continue
            done = self._decide(campaign_id, name, now)
            if done is not None:
                decided.append(done)
        return decided

    def _decide(self, campaign_id: int, name: str, now: datetime) -> Decided | None:
        pick = pick_winner(self.results(self.campaign(campaign_id)))
        with self._db.engine.begin() as connection:
            won = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.winner.is_(None))
                .values(winner=pick.winner, winner_at=now)
            )
            if won.rowcount != 1:
                return None  # another tick decided it meanwhile
            released = ledger.release_waiting(connection, campaign_id, pick.winner, now)
            audit.record(
                connection,
                "campaign",
                name,
                "ab-winner",
                actor="ab-test",
                at=now,
                reason=f"{pick.reason}; {released:,} waiting recipients get variant {pick.winner}",
            )
        return Decided(name, pick, released)
