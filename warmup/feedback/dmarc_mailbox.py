"""DMARC aggregate reports read from the mailbox the domain's ``rua`` address delivers to
(``warmup dmarc pull``, or beat's task), with parsedmarc's IMAP reader.

parsedmarc fetches the reports folder a batch at a time and parses each message offline. Each
batch is kept (:class:`~warmup.feedback.dmarc_store.DmarcStore`, once per reporter and report
id) *before* parsedmarc moves its messages to the archive folder: a store that fails leaves
them in place for the next run, and a run that dies after keeping a batch only reads it again
to find it kept. Messages that are not DMARC reports go to the archive's ``Invalid`` folder.
"""

from __future__ import annotations

import imaplib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warmup.errors import ConfigError
from warmup.feedback.dmarc_reports import aggregate_report
from warmup.feedback.dmarc_store import DmarcStore
from warmup.settings import Settings, env_name


@dataclass
class MailboxPull:
    added: int = 0
    already_kept: int = 0
    other_kinds: int = 0  # failure or TLS reports, which carry no counts to keep


def pull_mailbox(settings: Settings, store: DmarcStore, at: datetime) -> MailboxPull:
    """Keep every aggregate report in the configured mailbox's reports folder."""
    import parsedmarc
    from parsedmarc.mail import IMAPConnection

    host, user = settings.dmarc_imap_host, settings.dmarc_imap_user
    if host is None or user is None or settings.dmarc_imap_password is None:
        raise ConfigError(
            f"{env_name('dmarc_imap_host')}, {env_name('dmarc_imap_user')} and "
            f"{env_name('dmarc_imap_password')} name the mailbox DMARC reports arrive in"
        )
    # Their INFO lines name each message moved: a worker's log or a command's output is not
    # the place for them.
    for name in ("parsedmarc", "mailsuite"):
        logging.getLogger(name).setLevel(logging.WARNING)
    where = f"the DMARC mailbox {user}@{host}:{settings.dmarc_imap_port}"
    pulled = MailboxPull()

    def keep(batch: dict[str, Any]) -> bool:
        for parsed in batch["aggregate_reports"]:
            if store.add(aggregate_report(parsed), at):
                pulled.added += 1
            else:
                pulled.already_kept += 1
        pulled.other_kinds += len(batch["failure_reports"]) + len(batch["smtp_tls_reports"])
        return True

    try:
        connection = IMAPConnection(
            host=host,
            user=user,
            password=settings.dmarc_imap_password.get_secret_value(),
            port=settings.dmarc_imap_port,
            ssl=settings.dmarc_imap_tls,
            timeout=30,
            max_retries=1,
        )
        parsedmarc.get_dmarc_reports_from_mailbox(
            connection=connection,
            reports_folder=settings.dmarc_imap_folder,
            archive_folder=settings.dmarc_imap_archive_folder,
            offline=True,  # no reverse DNS, no IP database download
            save_callback=keep,
        )
    except imaplib.IMAP4.error as exc:
        raise ConfigError(f"{where} refused: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{where} did not answer: {exc}") from None
    return pulled
