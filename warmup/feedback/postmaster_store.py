"""Gmail Postmaster Tools' days as kept: the owner of ``postmaster_days``.

A day is kept once, as first pulled: Google publishes a whole day at a time, and the gate
judges each day once (:mod:`warmup.control.postmaster`), so a later pull never rewrites what
a decision was taken on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import select

from warmup.control.postmaster import PostmasterDay
from warmup.plans.model import Reputation
from warmup.store.database import Database, dialect_insert
from warmup.store.models import PostmasterDayRow


def _day_of(row: PostmasterDayRow) -> PostmasterDay:
    return PostmasterDay(
        day=row.day,
        spam_ratio=row.spam_ratio,
        spam_lower=row.spam_lower,
        spam_upper=row.spam_upper,
        reputation=Reputation(row.reputation) if row.reputation else None,
        spf_ratio=row.spf_ratio,
        dkim_ratio=row.dkim_ratio,
        dmarc_ratio=row.dmarc_ratio,
        delivery_errors=tuple(
            (str(c), str(t), float(r)) for c, t, r in json.loads(row.delivery_errors or "[]")
        ),
    )


class PostmasterStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, domain: str, days: Iterable[PostmasterDay], at: datetime) -> int:
        """Keep the days not kept yet; how many were new."""
        rows = [
            {
                "domain": domain,
                "day": d.day,
                "spam_ratio": d.spam_ratio,
                "spam_lower": d.spam_lower,
                "spam_upper": d.spam_upper,
                "reputation": d.reputation.value if d.reputation else None,
                "spf_ratio": d.spf_ratio,
                "dkim_ratio": d.dkim_ratio,
                "dmarc_ratio": d.dmarc_ratio,
                "delivery_errors": json.dumps([list(e) for e in d.delivery_errors])
                if d.delivery_errors
                else None,
                "pulled_at": at,
            }
            for d in days
        ]
        if not rows:
            return 0
        with self._db.engine.begin() as connection:
            added = connection.execute(
                dialect_insert(connection)(PostmasterDayRow)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["domain", "day"])
                .returning(PostmasterDayRow.id)
            ).all()
        return len(added)

    def days(self, domain: str, since: date, until: date | None = None) -> list[PostmasterDay]:
        """The domain's kept days from ``since`` (to ``until``, both included), oldest first."""
        query = select(PostmasterDayRow).where(
            PostmasterDayRow.domain == domain, PostmasterDayRow.day >= since
        )
        if until is not None:
            query = query.where(PostmasterDayRow.day <= until)
        with self._db.session() as session:
            return [_day_of(row) for row in session.scalars(query.order_by(PostmasterDayRow.day))]

    def latest(self, domain: str) -> PostmasterDay | None:
        """The domain's newest kept day."""
        query = (
            select(PostmasterDayRow)
            .where(PostmasterDayRow.domain == domain)
            .order_by(PostmasterDayRow.day.desc())
            .limit(1)
        )
        with self._db.session() as session:
            row = session.scalars(query).first()
            return _day_of(row) if row is not None else None
