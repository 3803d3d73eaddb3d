"""`warmup dmarc import` and `dmarc report` on aggregate reports the suite writes itself
(harness/dmarc_reports.py): several receivers, ACS's and other sources, aligned and not, in
every form receivers send them (XML, gzip, zip, a mail), each stored once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.dmarc_reports import Row, aggregate_xml, gzipped, report_mail, zipped
from harness.pipeline_world import DOMAIN
from tests.api_world import api_world
from tests.cli import cli, url_of
from warmup.store.database import Database

pytestmark = pytest.mark.integration

SPOOFER, FORWARDER = "203.0.113.9", "198.51.100.4"


def write_reports(folder: Path) -> None:
    """Two days of three receivers. ACS's mail: 1,000 + 500 + 800 + 700 = 3,000 messages, of
    which 30 failed DKIM and SPF (a key not yet published at one receiver). Others: a spoofer
    (40 + 60, never aligned) and a forwarder that keeps DKIM (12, aligned)."""
    today = datetime.now(UTC).date()
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    google = aggregate_xml("google.com", "g-1", DOMAIN, first, [
        Row("40.92.1.2", 1000, spf=True, dkim=True),
        Row(SPOOFER, 40, spf=False, dkim=False, selector=None),
    ])  # fmt: skip
    yahoo = aggregate_xml("Yahoo", "y-1", DOMAIN, first, [
        Row("40.92.1.3", 470, spf=True, dkim=True),
        Row("40.92.1.3", 30, spf=False, dkim=False),  # ACS's, signed, failing
    ])  # fmt: skip
    microsoft = aggregate_xml("Outlook.com", "m-2", DOMAIN, second, [
        Row("40.92.1.2", 800, spf=True, dkim=True),
        Row(SPOOFER, 60, spf=False, dkim=False, selector=None),
        Row(FORWARDER, 12, spf=False, dkim=True, selector="s2048"),
    ])  # fmt: skip
    google_2 = aggregate_xml("google.com", "g-2", DOMAIN, second, [
        Row("40.92.1.4", 700, spf=True, dkim=True),
    ])  # fmt: skip
    (folder / "google-1.xml.gz").write_bytes(gzipped(google))
    (folder / "yahoo-1.zip").write_bytes(zipped(yahoo, "yahoo!mail.example.com!y-1.xml"))
    (folder / "outlook-2.xml").write_bytes(microsoft)
    (folder / "google-2.eml").write_bytes(report_mail(google_2, "google.com", DOMAIN, "g-2"))


def test_reports_in_every_form_are_stored_once_and_give_the_aligned_share(
    database: Database, tmp_path: Path
) -> None:
    url = url_of(database)
    reports = tmp_path / "rua"
    reports.mkdir()
    write_reports(reports)
    first = cli(url, "dmarc", "import", str(reports))
    assert first.returncode == 0, first.stderr
    assert "4 aggregate reports added, 0 already kept" in first.stdout
    again = cli(url, "dmarc", "import", str(reports), str(reports / "outlook-2.xml"))
    assert again.returncode == 0, again.stderr
    assert "0 aggregate reports added, 5 already kept" in again.stdout

    found = json.loads(cli(url, "dmarc", "report", DOMAIN, "--json").stdout)
    assert found["acs_messages"] == 3000
    assert found["acs_aligned_share"] == pytest.approx(2970 / 3000)
    assert found["other_messages"] == 112
    assert found["other_unaligned"] == 100
    assert found["other_sources"] == [
        {"source_ip": SPOOFER, "messages": 100, "aligned": 0, "reporters": 2},
        {"source_ip": FORWARDER, "messages": 12, "aligned": 12, "reporters": 1},
    ]
    assert found["reporters"] == ["google.com", "outlook.com", "Yahoo"]  # as parsedmarc names them
    assert found["policy"] == "none"
    assert found["next_policy"]["next"] == "quarantine"
    assert found["next_policy"]["ready_on"] is None
    assert [d["acs_messages"] for d in found["days"]] == [1500, 1500]

    shown = cli(url, "dmarc", "report", DOMAIN)
    assert "aligned 99.00%" in shown.stdout
    assert SPOOFER in shown.stdout
    assert "p=quarantine not yet" in shown.stdout


def test_a_file_that_is_not_a_report_is_named_and_the_rest_imported(
    database: Database, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not a report")
    today = datetime.now(UTC).date()
    (tmp_path / "r.xml").write_bytes(
        aggregate_xml("google.com", "g-9", DOMAIN, today, [Row("40.92.1.2", 5, True, True)])
    )
    done = cli(url_of(database), "dmarc", "import", str(tmp_path))
    assert done.returncode == 1
    assert "1 aggregate reports added" in done.stdout
    assert "notes.txt: not a DMARC report" in done.stdout
    assert "Traceback" not in done.stderr


def test_metrics_give_the_aligned_share_and_a_surge_of_other_senders(
    database: Database, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    folder = tmp_path / "rua"
    folder.mkdir()
    for back in range(8, 0, -1):  # a spoofer quiet for a week, then 400 in a day
        day = today - timedelta(days=back)
        spoofed = 400 if back == 1 else 10
        (folder / f"g{back}.xml").write_bytes(aggregate_xml("google.com", f"g{back}", DOMAIN, day, [
            Row("40.92.1.2", 1000, spf=True, dkim=True),
            Row(SPOOFER, spoofed, spf=False, dkim=False, selector=None),
        ]))  # fmt: skip
    with api_world(database, tmp_path) as w:
        assert cli(url_of(database), "dmarc", "import", str(folder)).returncode == 0
        text = w.client.get("/metrics").text
    assert f'warmup_dmarc_aligned_ratio{{domain="{DOMAIN}"}} 1.0' in text
    assert f'warmup_dmarc_unknown_surge{{domain="{DOMAIN}"}} 1.0' in text
    status = json.loads(cli(url_of(database), "domain", "status", DOMAIN, "--json").stdout)
    assert status["dmarc"]["acs_aligned_share_7_days"] == 1.0
    assert status["dmarc"]["other_unaligned_7_days"] == 450  # 5 × 10 + 400: six days in the week
    assert status["dmarc"]["next_policy"] == (
        "p=quarantine not yet: 0 of 14 days in a row with ≥ 99% of the mail aligned"
    )
    shown = cli(url_of(database), "domain", "status", DOMAIN).stdout
    assert "100.0% of ACS's mail aligned, 450 unaligned from other sources" in shown
    found = json.loads(cli(url_of(database), "dmarc", "report", DOMAIN, "--json").stdout)
    assert found["warnings"] == [
        f"unaligned mail from sources that are not ACS's rose to 400 on {today - timedelta(1)} "
        "(median 10 a day over the 7 days before): someone else may be sending as the domain"
    ]


def test_reports_are_read_from_the_rua_mailbox_kept_once_and_archived(
    database: Database, tmp_path: Path
) -> None:
    from harness.imap_server import imap_server

    today = datetime.now(UTC).date()
    reports = [
        aggregate_xml("google.com", "g-9", DOMAIN, today - timedelta(days=1), [
            Row("40.92.1.2", 900, spf=True, dkim=True),
            Row(SPOOFER, 25, spf=False, dkim=False, selector=None),
        ]),
        aggregate_xml("Yahoo", "y-9", DOMAIN, today - timedelta(days=1), [
            Row("40.92.1.3", 100, spf=True, dkim=True),
        ]),
    ]  # fmt: skip
    with imap_server() as imap:
        for xml, (org, rid) in zip(reports, [("google.com", "g-9"), ("Yahoo", "y-9")], strict=True):
            imap.deliver(report_mail(xml, org, DOMAIN, rid))
        imap.deliver(b"From: someone@example.org\r\nSubject: hello\r\n\r\nnot a report\r\n")
        env = {
            "WARMUP_DMARC_IMAP_HOST": imap.host,
            "WARMUP_DMARC_IMAP_PORT": str(imap.port),
            "WARMUP_DMARC_IMAP_TLS": "false",
            "WARMUP_DMARC_IMAP_USER": imap.user,
            "WARMUP_DMARC_IMAP_PASSWORD": imap.password,
        }
        url = url_of(database)
        pulled = cli(url, "dmarc", "pull", env=env)
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout == "2 aggregate reports added, 0 already kept\n"  # no library log
        assert imap.count("INBOX") == 0  # every message moved out once read
        assert imap.count("Archive/Aggregate") == 2
        assert imap.count("Archive/Invalid") == 1
        # A receiver sends a report again: read, found kept, archived.
        imap.deliver(report_mail(reports[0], "google.com", DOMAIN, "g-9"))
        again = cli(url, "dmarc", "pull", env=env)
        assert "0 aggregate reports added, 1 already kept" in again.stdout
        assert imap.count("INBOX") == 0
        wrong = cli(url, "dmarc", "pull", env={**env, "WARMUP_DMARC_IMAP_PASSWORD": "nope"})
        assert wrong.returncode == 2
        assert f"the DMARC mailbox {imap.user}@127.0.0.1:{imap.port} refused" in wrong.stderr
    found = json.loads(cli(url, "dmarc", "report", DOMAIN, "--json").stdout)
    assert found["acs_messages"] == 1000
    assert found["other_unaligned"] == 25
    unset = cli(url, "dmarc", "pull")
    assert unset.returncode == 2
    assert "WARMUP_DMARC_IMAP_HOST" in unset.stderr
