"""One-click unsubscribe over HTTP, on SQLite and PostgreSQL."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from harness.pipeline_world import World, world
from warmup.api.app import create_app
from warmup.campaigns.compose import unsubscriber_from
from warmup.errors import ContentError
from warmup.lists.catalog import list_detail
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.settings import Settings
from warmup.store.models import LedgerRow, Suppression
from warmup.suppression.store import SuppressionStore

pytestmark = pytest.mark.integration


def signing_settings() -> Settings:
    return Settings(
        webhook_secrets=SecretStr("s" * 32),
        unsubscribe_secret=SecretStr("pipeline-test-secret"),
        public_url="https://mail.example.com",
    )


def test_one_click_post_unsubscribes_and_a_get_only_asks(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=3) as w:
        settings = signing_settings()
        token = unsubscriber_from(settings).token(1, "r1@example.org")
        with TestClient(create_app(settings, w.database)) as client:
            page = client.get(f"/u/{token}")
            assert page.status_code == 200
            assert "r1@example.org" in page.text
            assert '<form method="post">' in page.text
            assert not SuppressionStore(w.database).is_suppressed(
                "r1@example.org", w.runtime.clock.now()
            )

            done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
            assert done.status_code == 200
            assert "will get no more email" in done.text
            forged = client.post(f"/u/{token[:-1]}{'B' if token[-1] != 'B' else 'C'}")
            assert forged.status_code == 400
        with w.database.session() as session:
            reason = session.scalar(
                select(Suppression.reason).where(Suppression.address == "r1@example.org")
            )
            state = session.scalar(
                select(LedgerRow.state).where(LedgerRow.address == "r1@example.org")
            )
        assert reason == "unsubscribe"
        assert state == "suppressed"  # its unsent row will not go out
        found = SuppressionStore(w.database).find("r1@example.org", w.runtime.clock.now())
        assert found is not None
        assert found.source == "link (campaign c)"  # the campaign's name, not its id


def test_without_a_secret_the_endpoint_says_so(database_url: str, tmp_path: Path) -> None:
    with (
        world(database_url, tmp_path, recipients=1) as w,
        TestClient(create_app(Settings(webhook_secrets=SecretStr("s" * 32)), w.database)) as client,
    ):
        assert client.get("/u/anything").status_code == 503
        assert client.post("/u/anything").status_code == 503


@pytest.mark.parametrize(
    ("accept", "language", "asks", "done"),
    [
        (None, "en", "Stop sending email from", "will get no more email from"),
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "Ne plus envoyer d’e-mails de", "ne recevra plus"),
        ("de-DE", "de", "Keine E-Mails mehr von", "erhält keine E-Mails mehr von"),
        ("pt-BR, es;q=0.8", "es", "¿Dejar de enviar correos de", "no recibirá más correos"),
        ("en;q=0.2, ja", "en", "Stop sending email from", "will get no more email from"),
    ],
)
def test_the_pages_name_the_sender_in_the_recipients_language(
    database_url: str, tmp_path: Path, accept: str | None, language: str, asks: str, done: str
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        settings = signing_settings()
        token = unsubscriber_from(settings).token(1, "r1@example.org")
        headers = {} if accept is None else {"Accept-Language": accept}
        with TestClient(create_app(settings, w.database)) as client:
            page = client.get(f"/u/{token}", headers=headers)
            assert page.headers["content-language"] == language
            assert f'<html lang="{language}">' in page.text
            assert asks in page.text
            assert "<b>news@mail.example.com</b>" in page.text  # the campaign's sender
            answered = client.post(f"/u/{token}", headers=headers)
            assert done in answered.text
            assert "<b>news@mail.example.com</b>" in answered.text


def import_one_more(w: World, tmp_path: Path, languages: tuple[str, ...]) -> None:
    """Append one recipient to the world's list, declaring its languages."""
    more = tmp_path / "more.csv"
    more.write_text("email\nr9@example.org\n", encoding="utf-8")
    ListImporter(w.database).run(
        more,
        "people",
        options=ImportOptions(languages=languages),
        rejected_path=tmp_path / "more.rejected.csv",
        actor="test",
        at=w.runtime.clock.now(),
    )


@pytest.mark.parametrize(
    ("accept", "language"),
    [
        ("de-DE", "de"),  # declared: the browser's choice
        ("es, en;q=0.5", "fr"),  # neither declared: the list's first language, not English
        (None, "fr"),
    ],
)
def test_the_pages_come_in_the_languages_the_list_declares(
    database_url: str, tmp_path: Path, accept: str | None, language: str
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        import_one_more(w, tmp_path, ("fr", "DE"))
        assert list_detail(w.database, "people").summary.languages == ["fr", "de"]
        settings = signing_settings()
        token = unsubscriber_from(settings).token(1, "r1@example.org")
        headers = {} if accept is None else {"Accept-Language": accept}
        with TestClient(create_app(settings, w.database)) as client:
            page = client.get(f"/u/{token}", headers=headers)
            assert page.headers["content-language"] == language
            answered = client.post(f"/u/{token}", headers=headers)
            assert answered.headers["content-language"] == language


def test_a_language_without_pages_is_refused_before_anything_is_imported(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=1) as w:
        with pytest.raises(ContentError, match="language 'it': the pages come in en, fr, de, es"):
            import_one_more(w, tmp_path, ("fr", "it"))
        assert list_detail(w.database, "people").summary.recipients == 1
