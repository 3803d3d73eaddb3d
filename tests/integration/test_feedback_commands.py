"""`warmup feedback import` (Log Analytics) and `warmup domain report`, on SQLite and PostgreSQL."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select, update

from harness.pipeline_world import DOMAIN, world
from tests.cli import cli
from warmup.feedback.log_analytics import read_rows, to_report
from warmup.store.models import LedgerRow

pytestmark = pytest.mark.integration


def test_log_analytics_export_sets_outcomes_and_the_report_reads_them(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=100) as w:
        w.run_until_done()
        with w.database.session() as session:
            sent = list(session.execute(select(LedgerRow.message_id, LedgerRow.address)))
        export = tmp_path / "ACSEmailStatusUpdateOperational.csv"
        lines = [
            "TimeGenerated,CorrelationId,RecipientId,DeliveryStatus,SmtpStatusCode,EnhancedSmtpStatusCode,"
            "FailureReason,IsHardBounce"
        ]
        for i, (message_id, address) in enumerate(sent):
            if i < 3:
                failed = "Failed,550,5.1.1,No such user,true"
                lines.append(f"2026-12-01T10:00:00Z,{message_id},{address},{failed}")
            else:
                lines.append(
                    f"2026-12-01T10:00:00Z,{message_id},{address},Delivered,250,2.0.0,,false"
                )
        lines.append("2026-12-01T10:00:00Z,,nobody@example.org,Delivered,,,,")
        export.write_text("\n".join(lines) + "\n")
        done = cli(
            w.runtime.settings.database_url.get_secret_value(), "feedback", "import", str(export)
        )
        assert done.returncode == 0, done.stderr
        assert "100 reports: 100 matched to sends" in done.stdout
        assert "3 addresses suppressed; 1 rows refused" in done.stdout
        assert "line 102: needs CorrelationId" in done.stderr

        report = cli(w.runtime.settings.database_url.get_secret_value(), "domain", "report", DOMAIN)
        assert report.returncode == 0, report.stderr
        assert "failure rate over 7 days: 3.00% (3 of 100 reports)" in report.stdout
        assert "meets ACS's 2 % limit for a quota increase: no" in report.stdout
        assert "peak day 100" in report.stdout


def test_json_exports_in_both_shapes(tmp_path: Path) -> None:
    rows = [
        {
            "CorrelationId": "m1",
            "RecipientId": "A@x.org",
            "DeliveryStatus": "Failed",
            "EnhancedSmtpStatusCode": "4.4.7",
            "IsHardBounce": False,
        }
    ]
    plain = tmp_path / "rows.json"
    plain.write_text(json.dumps(rows))
    api = tmp_path / "query.json"
    api.write_text(
        json.dumps(
            {
                "tables": [
                    {"columns": [{"name": k} for k in rows[0]], "rows": [list(rows[0].values())]}
                ]
            }
        )
    )
    for path in (plain, api):
        ((_, row),) = list(read_rows(path))
        report = to_report(row)
        assert (report.message_id, report.recipient, report.outcome.value) == (
            "m1",
            "a@x.org",
            "soft_failure",
        )


def test_under_one_percent_is_ready(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=50) as w:
        w.run_until_done()
        with w.database.session() as session:
            session.execute(
                update(LedgerRow).values(outcome="delivered", outcome_at=LedgerRow.accepted_at)
            )
        report = cli(w.runtime.settings.database_url.get_secret_value(), "domain", "report", DOMAIN)
        assert "meets the 1 % a high quota needs: yes" in report.stdout


def test_bad_exports_are_clear_errors_and_message_level_rows_are_skipped(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        url = w.runtime.settings.database_url.get_secret_value()
        not_json = tmp_path / "export.json"
        not_json.write_text("[{not json")
        done = cli(url, "feedback", "import", str(not_json))
        assert done.returncode == 1
        assert done.stderr.startswith("invalid: export.json: not valid JSON")
        assert "Traceback" not in done.stderr
        wrong = tmp_path / "wrong.csv"
        wrong.write_text("email,name\na@example.org,A\n")
        done = cli(url, "feedback", "import", str(wrong))
        assert done.returncode == 1
        assert "no CorrelationId, RecipientId, DeliveryStatus column" in done.stderr
        mixed = tmp_path / "mixed.csv"
        mixed.write_text(
            "TimeGenerated,CorrelationId,RecipientId,DeliveryStatus\n"
            "2026-11-29T10:00:00Z,m-1,,OutForDelivery\n"
            "2026-11-29T10:00:01Z,m-1,a@example.org,Delivered\n"
        )
        done = cli(url, "feedback", "import", str(mixed))
        assert done.returncode == 0, done.stderr
        assert "0 rows refused; 1 message-level rows skipped" in done.stdout
