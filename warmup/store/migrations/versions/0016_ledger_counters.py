"""ledger_counts, domain_sends, domain_outcomes: counters kept by triggers on send_ledger

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29

Expand only: new tables, triggers on send_ledger, two indexes. The counters are filled from the
ledger in the same transaction that creates the triggers (on PostgreSQL the trigger's lock holds
writers back until then), so they agree with it from the first moment; processes of the
previous release write the ledger as before and the triggers count for them.

PostgreSQL: statement-level triggers read the statement's transition tables and append one
delta per (campaign, state, outcome) and per (domain, quarter hour): insert-only, so concurrent
workers never wait on a counter row; ``warmup.ledger.counters.fold`` moves deltas into the
totals. SQLite (one writer at a time): row-level triggers update the totals directly.

On a large ledger the two new indexes take a while to build, with writes held: run the upgrade
in a quiet moment (README.md, "Upgrades that rebuild ledger indexes").
"""

# ruff: noqa: S608 - the SQL below is built from this module's constants only, no input.
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BUCKET = 900  # seconds: a quarter hour (every time zone's midnight falls on one)

# Per row: its campaign, state, outcome ('' for none) and ACS calls; its domain and quarter
# hour if accepted. Rows leaving count -1, rows arriving +1.
PG_FUNCTIONS = {
    "INSERT": ("new_rows", None),
    "UPDATE": ("new_rows", "old_rows"),
    "DELETE": (None, "old_rows"),
}


# Rows of a pruned campaign leave the ledger for its archive but stay counted (warmup db
# prune sets campaigns.pruned_at in the transaction that deletes them).
KEPT = "WHERE campaign_id NOT IN (SELECT id FROM campaigns WHERE pruned_at IS NOT NULL)"


def _pg_function(event: str) -> str:
    arriving, leaving = PG_FUNCTIONS[event]
    if event == "DELETE":
        leaving = f"(SELECT * FROM old_rows {KEPT}) AS kept"
    counts = []
    sends = []
    if arriving:
        counts.append(
            f"SELECT campaign_id, state, coalesce(outcome, '') AS outcome, 1 AS n, attempts AS a "
            f"FROM {arriving}"
        )
        sends.append(
            f"SELECT campaign_id, accepted_at, outcome_at, provider, outcome, 1 AS n "
            f"FROM {arriving}"
        )
    if leaving:
        counts.append(
            f"SELECT campaign_id, state, coalesce(outcome, '') AS outcome, -1 AS n, "
            f"-attempts AS a FROM {leaving}"
        )
        sends.append(
            f"SELECT campaign_id, accepted_at, outcome_at, provider, outcome, -1 AS n "
            f"FROM {leaving}"
        )
    referencing = " ".join(
        [f"NEW TABLE AS {arriving}"] * bool(arriving) + ["OLD TABLE AS old_rows"] * bool(leaving)
    )
    return f"""
CREATE FUNCTION warmup_count_ledger_{event.lower()}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_count_deltas (campaign_id, state, outcome, row_count, attempts)
  SELECT campaign_id, state, outcome, sum(n), sum(a)
  FROM ({" UNION ALL ".join(counts)}) AS moved
  GROUP BY campaign_id, state, outcome
  HAVING sum(n) <> 0 OR sum(a) <> 0;
  INSERT INTO domain_send_deltas (domain_id, bucket, accepted)
  SELECT c.domain_id, floor(extract(epoch FROM moved.accepted_at) / {BUCKET})::bigint * {BUCKET},
         sum(moved.n)
  FROM ({" UNION ALL ".join(sends)}) AS moved
  JOIN campaigns AS c ON c.id = moved.campaign_id
  WHERE moved.accepted_at IS NOT NULL
  GROUP BY 1, 2
  HAVING sum(moved.n) <> 0;
  INSERT INTO domain_outcome_deltas (domain_id, bucket, provider, outcome, row_count)
  SELECT c.domain_id, floor(extract(epoch FROM moved.outcome_at) / {BUCKET})::bigint * {BUCKET},
         moved.provider, moved.outcome, sum(moved.n)
  FROM ({" UNION ALL ".join(sends)}) AS moved
  JOIN campaigns AS c ON c.id = moved.campaign_id
  WHERE moved.outcome_at IS NOT NULL AND moved.outcome IS NOT NULL
  GROUP BY 1, 2, 3, 4
  HAVING sum(moved.n) <> 0;
  RETURN NULL;
END $$;
CREATE TRIGGER warmup_count_ledger_{event.lower()} AFTER {event} ON send_ledger
  REFERENCING {referencing}
  FOR EACH STATEMENT EXECUTE FUNCTION warmup_count_ledger_{event.lower()}();
"""


def _sqlite_count(row: str, sign: str) -> str:
    return f"""
  INSERT INTO ledger_counts (campaign_id, state, outcome, row_count, attempts)
  VALUES ({row}.campaign_id, {row}.state, coalesce({row}.outcome, ''), {sign}1,
          {sign}{row}.attempts)
  ON CONFLICT (campaign_id, state, outcome) DO UPDATE
  SET row_count = row_count + excluded.row_count, attempts = attempts + excluded.attempts;"""


def _sqlite_send(row: str, sign: str) -> str:
    # The WHERE also settles SQLite's INSERT … SELECT … ON CONFLICT parsing ambiguity.
    return f"""
  INSERT INTO domain_sends (domain_id, bucket, accepted)
  SELECT domain_id, (CAST(strftime('%s', {row}.accepted_at) AS INTEGER) / {BUCKET}) * {BUCKET},
         {sign}1
  FROM campaigns WHERE id = {row}.campaign_id AND {row}.accepted_at IS NOT NULL
  ON CONFLICT (domain_id, bucket) DO UPDATE SET accepted = accepted + excluded.accepted;"""


def _sqlite_outcome(row: str, sign: str) -> str:
    return f"""
  INSERT INTO domain_outcomes (domain_id, bucket, provider, outcome, row_count)
  SELECT domain_id, (CAST(strftime('%s', {row}.outcome_at) AS INTEGER) / {BUCKET}) * {BUCKET},
         {row}.provider, {row}.outcome, {sign}1
  FROM campaigns
  WHERE id = {row}.campaign_id AND {row}.outcome_at IS NOT NULL AND {row}.outcome IS NOT NULL
  ON CONFLICT (domain_id, bucket, provider, outcome) DO UPDATE
  SET row_count = row_count + excluded.row_count;"""


SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER warmup_count_ledger_insert AFTER INSERT ON send_ledger BEGIN
{_sqlite_count("NEW", "")}{_sqlite_send("NEW", "")}{_sqlite_outcome("NEW", "")}
END""",
    f"""CREATE TRIGGER warmup_count_ledger_delete AFTER DELETE ON send_ledger
WHEN NOT EXISTS (SELECT 1 FROM campaigns WHERE id = OLD.campaign_id AND pruned_at IS NOT NULL)
BEGIN
{_sqlite_count("OLD", "-")}{_sqlite_send("OLD", "-")}{_sqlite_outcome("OLD", "-")}
END""",
    # Most updates move a lease or a timestamp only: those leave the counters alone.
    f"""CREATE TRIGGER warmup_count_ledger_update AFTER UPDATE ON send_ledger
WHEN OLD.state IS NOT NEW.state OR OLD.outcome IS NOT NEW.outcome
  OR OLD.attempts IS NOT NEW.attempts OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
{_sqlite_count("OLD", "-")}{_sqlite_count("NEW", "")}
END""",
    f"""CREATE TRIGGER warmup_count_sends_update AFTER UPDATE ON send_ledger
WHEN OLD.accepted_at IS NOT NEW.accepted_at OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
{_sqlite_send("OLD", "-")}{_sqlite_send("NEW", "")}
END""",
    f"""CREATE TRIGGER warmup_count_outcomes_update AFTER UPDATE ON send_ledger
WHEN OLD.outcome_at IS NOT NEW.outcome_at OR OLD.outcome IS NOT NEW.outcome
  OR OLD.provider IS NOT NEW.provider OR OLD.campaign_id IS NOT NEW.campaign_id BEGIN
{_sqlite_outcome("OLD", "-")}{_sqlite_outcome("NEW", "")}
END""",
]

DELTAS = ("ledger_count_deltas", "domain_send_deltas", "domain_outcome_deltas")
SQLITE_BUCKET = f"(CAST(strftime('%s', l.accepted_at) AS INTEGER) / {BUCKET}) * {BUCKET}"
PG_BUCKET = f"floor(extract(epoch FROM l.accepted_at) / {BUCKET})::bigint * {BUCKET}"


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "ledger_counts",
        sa.Column("campaign_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("state", sa.String(length=20)),
        sa.Column("outcome", sa.String(length=20)),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "state", "outcome"),
    )
    op.create_table(
        "ledger_count_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "domain_sends",
        sa.Column("domain_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("bucket", sa.BigInteger()),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        # Of ``accepted``, rows since archived and deleted by warmup db prune.
        sa.Column("archived", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("domain_id", "bucket"),
    )
    op.create_table(
        "domain_send_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("domain_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "domain_outcomes",
        sa.Column("domain_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("bucket", sa.BigInteger()),
        sa.Column("provider", sa.String(length=20)),
        sa.Column("outcome", sa.String(length=20)),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("archived", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("domain_id", "bucket", "provider", "outcome"),
    )
    op.create_table(
        "domain_outcome_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("domain_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ledger_accepted_at", "send_ledger", ["accepted_at"])
    op.create_index("ix_ledger_campaign_outcome_at", "send_ledger", ["campaign_id", "outcome_at"])
    awaiting = sa.text("state = 'accepted' AND outcome IS NULL")
    op.create_index(
        "ix_ledger_awaiting_outcome",
        "send_ledger",
        ["accepted_at"],
        postgresql_where=awaiting,
        sqlite_where=awaiting,
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        for event in PG_FUNCTIONS:
            op.execute(_pg_function(event))
        # The deltas are a queue (appended, folded, deleted): vacuum them after every thousand
        # dead rows, not after a fifth of the table, so reads never wade through dead ones.
        for table in DELTAS:
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, "
                "autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0, "
                "autovacuum_analyze_threshold = 1000)"
            )
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    op.execute(
        "INSERT INTO ledger_counts (campaign_id, state, outcome, row_count, attempts) "
        "SELECT campaign_id, state, coalesce(outcome, ''), count(*), coalesce(sum(attempts), 0) "
        "FROM send_ledger GROUP BY campaign_id, state, coalesce(outcome, '')"
    )
    bucket = PG_BUCKET if postgres else SQLITE_BUCKET
    op.execute(
        "INSERT INTO domain_sends (domain_id, bucket, accepted) "
        f"SELECT c.domain_id, {bucket}, count(*) FROM send_ledger AS l "
        "JOIN campaigns AS c ON c.id = l.campaign_id WHERE l.accepted_at IS NOT NULL "
        f"GROUP BY c.domain_id, {bucket}"
    )
    outcome_bucket = bucket.replace("accepted_at", "outcome_at")
    op.execute(
        "INSERT INTO domain_outcomes (domain_id, bucket, provider, outcome, row_count) "
        f"SELECT c.domain_id, {outcome_bucket}, l.provider, l.outcome, count(*) "
        "FROM send_ledger AS l JOIN campaigns AS c ON c.id = l.campaign_id "
        "WHERE l.outcome_at IS NOT NULL AND l.outcome IS NOT NULL "
        f"GROUP BY c.domain_id, {outcome_bucket}, l.provider, l.outcome"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in PG_FUNCTIONS:
            op.execute(f"DROP TRIGGER warmup_count_ledger_{event.lower()} ON send_ledger")
            op.execute(f"DROP FUNCTION warmup_count_ledger_{event.lower()}()")
    else:
        for name in (
            "ledger_insert",
            "ledger_delete",
            "ledger_update",
            "sends_update",
            "outcomes_update",
        ):
            op.execute(f"DROP TRIGGER warmup_count_{name}")
    op.drop_index("ix_ledger_awaiting_outcome", "send_ledger")
    op.drop_index("ix_ledger_campaign_outcome_at", "send_ledger")
    op.drop_index("ix_ledger_accepted_at", "send_ledger")
    op.drop_column("campaigns", "pruned_at")
    for table in (
        "domain_outcome_deltas",
        "domain_outcomes",
        "domain_send_deltas",
        "domain_sends",
        "ledger_count_deltas",
        "ledger_counts",
    ):
        op.drop_table(table)
