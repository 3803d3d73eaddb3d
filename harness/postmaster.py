"""Gmail Postmaster Tools stand-ins: TrafficStats resources as Google gives them, and credential
files whose tokens the emulator grants (its POST /token)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any


def traffic_stats(
    domain: str,
    day: date,
    spam_percent: float | None,
    reputation: str | None,
    *,
    spread: float = 0.2,
    spf: float = 1.0,
    dkim: float = 0.999,
    dmarc: float = 0.995,
    errors: tuple[tuple[str, str, float], ...] = (),
) -> dict[str, Any]:
    """One day's ``TrafficStats``: the spam ratio as a percentage, Google's interval ±spread."""
    item: dict[str, Any] = {
        "name": f"domains/{domain}/trafficStats/{day:%Y%m%d}",
        "spfSuccessRatio": spf,
        "dkimSuccessRatio": dkim,
        "dmarcSuccessRatio": dmarc,
        "inboundEncryptionRatio": 1.0,
    }
    if spam_percent is not None:
        ratio = round(spam_percent / 100, 8)  # as Google's JSON writes them: no float noise
        item["userReportedSpamRatio"] = ratio
        item["userReportedSpamRatioLowerBound"] = round(ratio * (1 - spread), 8)
        item["userReportedSpamRatioUpperBound"] = round(ratio * (1 + spread), 8)
    if reputation is not None:
        item["domainReputation"] = reputation
    if errors:
        item["deliveryErrors"] = [
            {"errorClass": c, "errorType": t, "errorRatio": r} for c, t, r in errors
        ]
    return item


def issue_series(domain: str, first: date) -> list[dict[str, Any]]:
    """Issue 35's series from ``first``: HIGH, HIGH, MEDIUM, LOW at 0.05, 0.08, 0.15, 0.35 %
    (the last day's interval wholly above 0.3 %)."""
    return [
        traffic_stats(domain, first, 0.05, "HIGH"),
        traffic_stats(domain, first + timedelta(days=1), 0.08, "HIGH"),
        traffic_stats(domain, first + timedelta(days=2), 0.15, "MEDIUM"),
        traffic_stats(domain, first + timedelta(days=3), 0.35, "LOW", spread=0.1),
    ]


def authorized_user_file(folder: Path, token: str = "emulator-postmaster-token") -> Path:  # noqa: S107
    """An authorised user's file (as ``gcloud auth application-default login`` writes), with
    a current access token: google-auth refreshes such credentials at Google only (whatever
    the file's token_uri), so the token the emulator accepts is given."""
    path = folder / "postmaster-user.json"
    expiry = datetime.now(UTC) + timedelta(days=1)
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "emulator-client.apps.googleusercontent.com",
                "client_secret": "emulator-secret",
                "refresh_token": "emulator-refresh-token",
                "token": token,
                "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )
    return path


def service_account_file(folder: Path, emulator_url: str) -> Path:
    """A service account's key file (a fresh RSA key) whose token exchange goes to the
    emulator: google-auth signs a JWT with the key, as it does against Google."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = folder / "postmaster-service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "warmup-tests",
                "private_key_id": "emulator-key",
                "private_key": pem,
                "client_email": "warmup@warmup-tests.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": f"{emulator_url}/token",
            }
        )
    )
    return path
