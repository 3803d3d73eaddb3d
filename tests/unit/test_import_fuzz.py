"""Hypothesis throws arbitrary CSV content at the importer: it either imports consistently or
refuses with a clear ImportFailure; nothing else escapes and no partial list is left."""

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from warmup.lists.importer import ImportOptions, ListImporter
from warmup.lists.source import ImportFailure
from warmup.store.database import Database
from warmup.store.models import ContactList, Recipient

cells = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["a@example.org", "B@Example.org", "x@", "@y.org", '"q,uoted"@z.org', "=1+1"]),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=4), max_size=12)
separators = st.sampled_from([",", ";", "\t", "|"])
endings = st.sampled_from(["\n", "\r\n"])


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.sampled_from([["email"], ["email", "name"], ["Name", "E-mail", "city"], ["name"]]),
    body=rows,
    sep=separators,
    end=endings,
    noise=st.binary(max_size=8),
)
def test_arbitrary_content_never_crashes_nor_leaves_partial_data(
    tmp_path_factory: object,
    header: list[str],
    body: list[list[str]],
    sep: str,
    end: str,
    noise: bytes,
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    path = Path(folder) / "in.csv"
    text = end.join(sep.join(row) for row in [header, *body]) + end
    path.write_bytes(text.encode("utf-8") + noise)
    database = Database.connect(f"sqlite:///{folder / 'db.sqlite'}")
    try:
        report = ListImporter(database).run(
            path,
            "fuzz",
            options=ImportOptions(),
            rejected_path=folder / "rejected.csv",
            actor="fuzz",
            at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    except ImportFailure as failure:
        assert str(failure)  # noqa: PT017 - either outcome is valid; this one must explain itself
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(ContactList)) == 0
    else:
        with database.session() as session:
            stored = session.scalar(select(func.count()).select_from(Recipient))
        assert stored == report.imported
        assert report.imported + report.rejected == report.rows
    finally:
        database.dispose()
