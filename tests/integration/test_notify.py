from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from warmup.audit import audit_entry
from warmup.control.health import Level, OutcomeCounts, Verdict
from warmup.feedback.notify import Notifier
from warmup.store.database import Database

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def verdict(level: Level) -> Verdict:
    return Verdict(
        level, f"failure rate near the line ({level.name})", OutcomeCounts(delivered=500)
    )


def test_changes_and_first_warnings_are_told_once(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'n.db'}")
    with database.session() as session:  # history before the notifier starts is not re-told
        session.add(audit_entry("domain", "d.example", "pause", actor="ops", reason="old", at=T0))
    posted: list[dict[str, str]] = []
    notifier = Notifier(
        database, "https://chat.example/hook", post=lambda url, json, timeout: posted.append(json)
    )
    notifier.observe("d.example", verdict(Level.WARN))
    notifier.observe("d.example", verdict(Level.WARN))  # still warned: not told again
    with database.session() as session:
        session.add(
            audit_entry(
                "domain", "d.example", "hold", actor="health-gate", reason="1.2 % ≥ hold", at=T0
            )
        )
        session.add(audit_entry("domain", "d.example", "set-quota", actor="ops", reason="x", at=T0))
        session.add(
            audit_entry("domain", "d.example", "resume", actor="ops", reason="cleaned", at=T0)
        )
    assert notifier.tell_changes() == 2
    assert notifier.tell_changes() == 0
    assert [p["text"] for p in posted] == [
        "d.example: warning: failure rate near the line (WARN)",
        "d.example: hold by health-gate: 1.2 % ≥ hold",
        "d.example: resume by ops: cleaned",
    ]
    database.dispose()


def test_a_failing_chat_webhook_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'n.db'}")

    def broken(url: str, json: object, timeout: float) -> None:
        raise requests.ConnectionError("down")

    Notifier(database, "https://chat.example/hook", post=broken).tell("d: pause", "pause")
    assert "notification webhook failed: ConnectionError" in caplog.text
    database.dispose()
