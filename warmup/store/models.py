"""The system of record's tables (SQLAlchemy 2, typed declarative).

Schema changes go through Alembic migrations in ``warmup/store/migrations``; a test checks that
the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Integer primary keys that are BIGINT on PostgreSQL and INTEGER (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UtcDateTime()}


class SendingDomain(Base):
    __tablename__ = "sending_domains"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    plan_name: Mapped[str] = mapped_column(String(200))
    # The plan as applied, so every worker decides with the same one whatever files it has.
    plan_yaml: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime | None]
    healthy_days_at_step: Mapped[int] = mapped_column(Integer, default=0)
    sending_days: Mapped[int] = mapped_column(Integer, default=0)
    idle_days: Mapped[int] = mapped_column(Integer, default=0)
    held_by: Mapped[str | None] = mapped_column(String(200))
    health_since: Mapped[datetime | None]
    # The subscription's ACS quota today; ops raise it when Microsoft does.
    acs_per_minute: Mapped[int] = mapped_column(Integer)
    acs_per_hour: Mapped[int] = mapped_column(Integer)
    # Optimistic concurrency: every write checks and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class SenderAddress(Base):
    __tablename__ = "sender_addresses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), unique=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    subject_type: Mapped[str] = mapped_column(String(40))  # domain, campaign, list, suppression
    subject: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
