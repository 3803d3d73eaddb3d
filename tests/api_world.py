"""An API on a real store, with a sending domain and one token per role, for API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from warmup.api.app import create_app
from warmup.control.allowance import AcsQuota
from warmup.domains.store import DomainStore
from warmup.plans.loader import load_plan
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.tokens import Role, TokenStore

DOMAIN = "mail.example.com"
# Where the tests' requests come from: a local address, as an operator's or Prometheus's would
# be (Starlette's default, "testclient", is no address and would be refused /metrics).
LOCAL_CLIENT = ("127.0.0.1", 50000)
SENDER = f"news@{DOMAIN}"
DEMO_PLAN = Path(__file__).resolve().parents[1] / "schedules" / "demo.yaml"
SECRETS = {
    "webhook_secrets": "webhook-secret-old,webhook-secret-new",
    "unsubscribe_secret": "unsubscribe-secret-value",
}


@dataclass
class ApiWorld:
    client: TestClient
    database: Database
    tokens: dict[Role, str]
    settings: Settings

    def as_(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def add_domain(database: Database, at: datetime) -> None:
    DomainStore(database).create(
        DOMAIN,
        load_plan(DEMO_PLAN),
        DEMO_PLAN.read_text(),
        quota=AcsQuota(1000, 10000),
        senders=[SENDER],
        actor="setup",
        at=at,
    )


@contextmanager
def api_world(database: Database, tmp_path: Path, **overrides: object) -> Iterator[ApiWorld]:
    values: dict[str, object] = {
        "webhook_secrets": SecretStr(SECRETS["webhook_secrets"]),
        "unsubscribe_secret": SecretStr(SECRETS["unsubscribe_secret"]),
        "public_url": "https://mail.example.com",
        "api_data_dir": tmp_path / "api-data",
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    add_domain(database, now)
    store = TokenStore(database)
    tokens = {
        role: store.create(f"{role.value}-1", role, actor="setup", at=now)[0] for role in Role
    }
    with TestClient(create_app(settings, database), client=LOCAL_CLIENT) as client:
        yield ApiWorld(client, database, tokens, settings)


def people_csv(rows: int, *, bad: int = 0) -> bytes:
    lines = ["email,first_name"]
    lines += [f"p{i}@example.org,P{i}" for i in range(rows)]
    lines += [f"not-an-address-{i},X" for i in range(bad)]
    return ("\n".join(lines) + "\n").encode()


def upload(
    w: ApiWorld, data: bytes, name: str = "people", role: Role = Role.MARKETING, wait: bool = True
):  # type: ignore[no-untyped-def]
    return w.client.post(
        "/api/lists",
        headers=w.as_(role),
        params={"wait": str(wait).lower()},
        data={"name": name},
        files={"file": ("people.csv", data, "text/csv")},
    )


def campaign(w: ApiWorld, name: str = "spring", **extra: object):  # type: ignore[no-untyped-def]
    body = {
        "name": name,
        "list": "people",
        "sender": SENDER,
        "subject": "Hello {{ first_name }}",
        "text": "Hi {{ first_name }}, unsubscribe: {{ unsubscribe_url }}",
        **extra,
    }
    return w.client.post("/api/campaigns", headers=w.as_(Role.MARKETING), json=body)
