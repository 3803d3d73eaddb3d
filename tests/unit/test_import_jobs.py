from datetime import UTC, datetime, timedelta

from warmup.lists.jobs import STALE_AFTER, shown_status
from warmup.store.models import ListImport

T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)


def job(status: str, bytes_read: int) -> ListImport:
    return ListImport(
        id="a" * 32,
        list_name="l",
        status=status,
        bytes_total=100,
        bytes_read=bytes_read,
        rows_read=0,
        report={},
        created_by="t",
        created_at=T0,
        updated_at=T0,
    )


def test_a_running_import_that_stopped_progressing_is_shown_interrupted() -> None:
    later = T0 + STALE_AFTER + timedelta(seconds=1)
    assert shown_status(job("running", 50), T0 + timedelta(seconds=30)) == "running"
    assert shown_status(job("running", 50), later) == "interrupted"
    assert shown_status(job("running", 0), later) == "running"  # no progress written (SQLite)
    assert shown_status(job("done", 100), later) == "done"
