"""The composition root builds each store once, with what the settings say."""

from __future__ import annotations

from pathlib import Path

import pytest

from warmup.settings import Settings
from warmup.store.database import Database
from warmup.wiring import Stores


def stores(tmp_path: Path, **settings: object) -> Stores:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    return Stores(Database.connect(url), Settings(database_url=url, **settings))  # type: ignore[arg-type]


def test_each_store_is_built_once_and_shared(tmp_path: Path) -> None:
    found = stores(tmp_path)
    assert found.campaigns is found.campaigns
    # The owners that need another owner are handed the process's one, not a copy of their own.
    assert found.campaigns._domains is found.domains
    assert found.schedule._campaigns is found.campaigns
    assert found.relayed._domains is found.domains
    assert found.relayed._ledger is found.ledger
    assert found.relay_users._domains is found.domains


def test_the_settings_that_shape_a_store_reach_it_wherever_it_is_used(tmp_path: Path) -> None:
    found = stores(tmp_path, fill_chunk_rows=1234, soft_failures_to_suppress=5)
    assert found.campaigns._fill_chunk_rows == 1234
    assert found.feedback._soft_limit == 5
    # What a retry or an A/B test starts fills in the same chunks.
    assert found.retries._campaigns._fill_chunk_rows == 1234
    assert found.ab_tests._campaigns._fill_chunk_rows == 1234


def test_without_settings_the_defaults_hold_and_no_environment_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARMUP_FILL_CHUNK_ROWS", "7")
    found = Stores(Database.connect(f"sqlite:///{tmp_path / 'w.db'}"))
    assert found.campaigns._fill_chunk_rows == Settings.model_fields["fill_chunk_rows"].default
