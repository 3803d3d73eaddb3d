"""Gmail Postmaster Tools' daily traffic stats, pulled with Google's own client
(``warmup postmaster pull``, or beat's daily task).

Google's ``google-api-python-client`` makes the calls from the discovery document it ships
(``gmailpostmastertools`` v1: ``domains.list`` and ``domains.trafficStats.list``), and
``google-auth`` signs them with the credentials file named by
``WARMUP_POSTMASTER_CREDENTIALS_FILE``: a service account's key, or an authorised user's file
(``gcloud auth application-default login``, or any OAuth client's refresh token) for a user
that sees the domains in Postmaster Tools. ``WARMUP_POSTMASTER_ENDPOINT`` points the client at
another root URL (the emulator's). Each run asks for the last ``days`` days and keeps the
ones not kept yet (:mod:`warmup.feedback.postmaster_store`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from warmup.control.postmaster import PostmasterDay
from warmup.errors import ConfigError
from warmup.feedback.postmaster_store import PostmasterStore
from warmup.plans.model import Reputation
from warmup.settings import Settings, env_name

SCOPES = ("https://www.googleapis.com/auth/postmaster.readonly",)
TIMEOUT_SECONDS = 30
DAYS_BACK = 10  # Google keeps about 120 days; a run looks back far enough to mend a gap
_NAME = re.compile(r"^domains/(?P<domain>[^/]+)/trafficStats/(?P<day>\d{8})$")
_REPUTATIONS = {r.value for r in Reputation}


def _ratio(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    return float(value) if isinstance(value, int | float) else None


def day_of(item: Mapping[str, Any]) -> PostmasterDay:
    """One ``TrafficStats`` resource as a day; ContentError-free: unknown enums read as none."""
    found = _NAME.match(str(item.get("name", "")))
    if found is None:
        raise ValueError(f"a traffic stats name Google does not give: {item.get('name')!r}")
    reputation = item.get("domainReputation")
    errors = tuple(
        (str(e.get("errorClass", "")), str(e.get("errorType", "")), float(e.get("errorRatio", 0)))
        for e in item.get("deliveryErrors", ())
        if isinstance(e, Mapping)
    )
    return PostmasterDay(
        day=datetime.strptime(found["day"], "%Y%m%d").date(),
        spam_ratio=_ratio(item, "userReportedSpamRatio"),
        spam_lower=_ratio(item, "userReportedSpamRatioLowerBound"),
        spam_upper=_ratio(item, "userReportedSpamRatioUpperBound"),
        reputation=Reputation(reputation) if reputation in _REPUTATIONS else None,
        spf_ratio=_ratio(item, "spfSuccessRatio"),
        dkim_ratio=_ratio(item, "dkimSuccessRatio"),
        dmarc_ratio=_ratio(item, "dmarcSuccessRatio"),
        delivery_errors=errors,
    )


@contextlib.contextmanager
def google_errors(what: str) -> Iterator[None]:
    """Google's refusals and unreachable endpoints as one line saying what to do."""
    import google.auth.exceptions
    import httplib2
    from googleapiclient.errors import HttpError

    try:
        yield
    except HttpError as exc:
        status = exc.status_code
        detail = str(exc.reason or "").strip().splitlines()[0][:300] if exc.reason else ""
        if status in {401, 403}:
            raise ConfigError(
                f"{what}: Postmaster Tools refused the credentials ({status}: {detail}). The "
                "user or service account must be able to see the domain at "
                "postmaster.google.com, with the postmaster.readonly scope"
            ) from None
        raise ConfigError(f"{what}: Postmaster Tools answered {status}: {detail}") from None
    except google.auth.exceptions.GoogleAuthError as exc:
        raise ConfigError(f"{what}: Google did not grant a token: {exc}") from None
    except (httplib2.HttpLib2Error, OSError) as exc:
        raise ConfigError(f"{what}: Postmaster Tools did not answer: {exc}") from None


class PostmasterClient:
    """The two calls warmup makes, on Google's client."""

    def __init__(self, credentials_file: Path, endpoint: str | None = None) -> None:
        import google.auth
        import google.auth.exceptions
        import google_auth_httplib2
        import httplib2
        from googleapiclient.discovery import build

        try:
            credentials, _ = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
                str(credentials_file), scopes=list(SCOPES)
            )
        except (google.auth.exceptions.DefaultCredentialsError, OSError, ValueError) as exc:
            raise ConfigError(
                f"the Postmaster Tools credentials in {credentials_file} cannot be used: {exc}"
            ) from None
        http = google_auth_httplib2.AuthorizedHttp(
            credentials, http=httplib2.Http(timeout=TIMEOUT_SECONDS)
        )
        self._service = build(
            "gmailpostmastertools",
            "v1",
            http=http,
            static_discovery=True,  # the document ships with the client: no fetch at start
            cache_discovery=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )

    def domains(self) -> list[str]:
        """The domains the credentials see in Postmaster Tools."""
        names: list[str] = []
        request = self._service.domains().list(pageSize=200)
        while request is not None:
            with google_errors("listing the domains"):
                response = request.execute(num_retries=2)
            names += [str(d["name"]).removeprefix("domains/") for d in response.get("domains", ())]
            request = self._service.domains().list_next(request, response)
        return names

    def days(self, domain: str, start: date, end: date) -> list[PostmasterDay]:
        """The domain's days from ``start`` to before ``end``, as Google has them."""
        stats = self._service.domains().trafficStats()
        request = stats.list(
            parent=f"domains/{domain}",
            startDate_year=start.year,
            startDate_month=start.month,
            startDate_day=start.day,
            endDate_year=end.year,
            endDate_month=end.month,
            endDate_day=end.day,
            pageSize=200,
        )
        found: list[PostmasterDay] = []
        while request is not None:
            with google_errors(f"reading {domain}'s traffic stats"):
                response = request.execute(num_retries=2)
            found += [day_of(item) for item in response.get("trafficStats", ())]
            request = stats.list_next(request, response)
        return found

    def close(self) -> None:
        self._service.close()


def client_for(settings: Settings) -> PostmasterClient:
    """The client the settings configure; ConfigError naming the setting when it is unset."""
    path = settings.postmaster_credentials_file
    if path is None:
        raise ConfigError(
            f"{env_name('postmaster_credentials_file')} is not set: name a service account's "
            "key file, or an authorised user's file, that can see the domain in Postmaster Tools"
        )
    return PostmasterClient(path, settings.postmaster_endpoint)


@dataclass
class PostmasterPull:
    added: dict[str, int] = field(default_factory=dict)  # domain → new days kept
    latest: dict[str, date] = field(default_factory=dict)  # domain → newest day Google has
    # Domains asked for that the credentials do not see in Postmaster Tools.
    not_registered: list[str] = field(default_factory=list)


def pull(
    client: PostmasterClient,
    store: PostmasterStore,
    domains: Sequence[str],
    today: date,
    at: datetime,
    days: int = DAYS_BACK,
) -> PostmasterPull:
    """Keep each of ``domains``' last ``days`` days (before ``today``) not kept yet."""
    report = PostmasterPull()
    registered = set(client.domains())
    for domain in domains:
        if domain not in registered:
            report.not_registered.append(domain)
            continue
        found = client.days(domain, today - timedelta(days=days), today)
        report.added[domain] = store.add(domain, found, at)
        if found:
            report.latest[domain] = max(d.day for d in found)
    return report


def describe(report: PostmasterPull) -> Iterable[str]:
    """What a pull did, a line per domain."""
    for domain, added in report.added.items():
        latest = report.latest.get(domain)
        newest = f", the newest {latest.isoformat()}" if latest else ", none published yet"
        yield f"{domain}: {added:,} new day{'s' if added != 1 else ''} kept{newest}"
    for domain in report.not_registered:
        yield (
            f"{domain}: not in Postmaster Tools for these credentials "
            "(add and verify it at postmaster.google.com)"
        )
