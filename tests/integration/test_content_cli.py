"""Content hygiene through the CLI and the API: a text part made from the HTML, a warning when
no unsubscribe link is visible, and the import naming the column that orders sending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_world import SENDER, ApiWorld, api_world, upload
from tests.cli import cli, url_of
from warmup.store.database import Database
from warmup.tokens import Role

pytestmark = pytest.mark.integration


@pytest.fixture
def w(database: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    with api_world(database, tmp_path) as world:
        yield world


def test_html_only_gets_a_text_part_and_a_missing_link_is_warned(
    w: ApiWorld, tmp_path: Path
) -> None:
    scored = b"email,first_name,score\nlow@example.org,Low,1\nhigh@example.org,High,9\n"
    source = tmp_path / "scored.csv"
    source.write_bytes(scored)
    url = url_of(w.database)
    imported = cli(url, "lists", "import", str(source), "--name", "people", cwd=tmp_path)
    assert "sending order: most engaged first, by score" in imported.stdout

    html = tmp_path / "body.html"
    html.write_text('<h1>Hi {{ first_name }}</h1><p><a href="{{ unsubscribe_url }}">Leave</a></p>')
    created = cli(
        url, "campaign", "create", "--name", "tidy", "--list", "people", "--from", SENDER,
        "--subject", "News", "--html", str(html),
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "no text body given: one was made from the HTML" in created.stdout
    assert "warning" not in created.stdout
    env_secret = {"WARMUP_UNSUBSCRIBE_SECRET": "unsubscribe-secret-value"}
    preview = cli(
        url, "campaign", "preview", "-c", "tidy", "--to", "high@example.org", env=env_secret
    )
    assert preview.returncode == 0, preview.stderr
    assert "Hi High" in preview.stdout
    assert "[Leave](http://127.0.0.1:8000/u/" in preview.stdout  # the text part has the link

    bare = w.client.post(
        "/api/campaigns",
        headers=w.as_(Role.MARKETING),
        json={
            "name": "bare", "list": "people", "sender": SENDER, "subject": "News",
            "html": "<p>Hello {{ first_name }}</p>",
        },
    )  # fmt: skip
    assert bare.status_code == 201, bare.text
    warnings = bare.json()["warnings"]
    assert any(w.startswith("the HTML body has no link to {{ unsubscribe_url }}") for w in warnings)
    assert "no text body given: one was made from the HTML (see the preview)" in warnings


def test_api_import_names_the_ordering_column(w: ApiWorld) -> None:
    answer = upload(w, b"email,last_opened_at\na@example.org,2026-11-01\n")
    assert answer.status_code == 201, answer.text
    assert answer.json()["report"]["ordering_columns"] == ["last_opened_at"]
