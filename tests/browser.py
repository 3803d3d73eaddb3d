"""Headless Chromium for dashboard tests: Debian's chromium driven by Playwright for Python.

Playwright's own browser download cannot run here (no internet), so the system Chromium is
launched by path. `.ci/run` installs it; a machine without it fails with the command to run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("WARMUP_TEST_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium reaches for Google's services at start, which this machine refuses.
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("WARMUP_TEST_ARTIFACTS", "test-artifacts"))


@contextmanager
def chromium() -> Iterator[Browser]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(
            f"Chromium is not at {CHROMIUM}; install it with: apt-get install -y chromium",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def artefact(name: str) -> Path:
    """Where a test keeps a file for people to look at after the run (screenshots)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
