"""Template bombs against a live ``warmup api`` process: memory, time, and whether it still answers.

Issue 30's targets: while each bomb below is created (POST /api/campaigns) or previewed (GET
.../preview for the recipient whose branch holds the bomb), the API's resident memory grows by
less than 512 MB, /healthz answers within 1 s throughout, and each bomb is refused or fails
within 6 s. A thread asks /healthz every 50 ms meanwhile; the process's peak RSS is its VmHWM.

    python benchmarks/template_bombs.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
SENDER = "news@mail.example.com"
# name -> (text template, preview recipient or None: refused at creation)
BOMBS: dict[str, tuple[str, str | None]] = {
    "doubling ~": (
        '{% set ns = namespace(s="x"*1000000) %}{% for i in range(11) %}'
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
        None,
    ),
    "center(400000000)": ("{{ 'x'|center(400000000) }}", None),
    "'%0999999999d' % 1": ("{{ '%0999999999d' % 1 }}", None),
    "join of 5 x 1 MB": ("{{ (['x' * 1000000] * 5)|join }}", None),
    "behind a branch, previewed for Bob": (
        "{% if first_name == 'Bob' %}{{ 'x'|center(10**10) }}{% endif %}Hello {{ first_name }}",
        "bob@example.org",
    ),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _setup(url: str) -> str:
    from warmup.control.allowance import AcsQuota
    from warmup.domains.store import DomainStore
    from warmup.plans.loader import load_plan
    from warmup.store.database import Database
    from warmup.tokens import Role, TokenStore

    database = Database.connect(url, migrate=True)
    now = datetime.now(UTC)
    plan = ROOT / "schedules" / "demo.yaml"
    DomainStore(database).create(
        "mail.example.com",
        load_plan(plan),
        plan.read_text(),
        quota=AcsQuota(1000, 10000),
        senders=[SENDER],
        actor="bench",
        at=now,
    )
    token, _ = TokenStore(database).create("bench", Role.MARKETING, actor="bench", at=now)
    database.dispose()
    return token


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/api.db"
        token = _setup(url)
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
            "WARMUP_DATABASE_URL": url,
            "WARMUP_API_DATA_DIR": f"{folder}/api",
            "WARMUP_UNSUBSCRIBE_SECRET": "bench-unsubscribe-secret-0123456789",
            "WARMUP_LOG_LEVEL": "WARNING",
        }
        api = subprocess.Popen(
            [sys.executable, "-m", "warmup", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token}"}
        try:
            for _ in range(300):
                try:
                    if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                time.sleep(0.1)
            csv = "email,first_name\nbob@example.org,Bob\nalice@example.org,Alice\n"
            requests.post(
                f"{base}/api/lists",
                headers=auth,
                params={"wait": "true"},
                data={"name": "people"},
                files={"file": ("people.csv", csv.encode(), "text/csv")},
                timeout=60,
            ).raise_for_status()
            rss_before = _kb(api.pid, "VmRSS")
            slowest = [0.0]
            stop = threading.Event()

            def probe() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    requests.get(f"{base}/healthz", timeout=10)
                    slowest[0] = max(slowest[0], time.perf_counter() - started)
                    time.sleep(0.05)

            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            bombs: dict[str, dict[str, Any]] = {}
            for index, (name, (text, recipient)) in enumerate(BOMBS.items()):
                body = {
                    "name": f"bomb-{index}",
                    "list": "people",
                    "sender": SENDER,
                    "subject": "Hi",
                    "text": text,
                }
                started = time.perf_counter()
                answer = requests.post(f"{base}/api/campaigns", headers=auth, json=body, timeout=60)
                if recipient is not None and answer.status_code == 201:
                    answer = requests.get(
                        f"{base}/api/campaigns/bomb-{index}/preview",
                        headers=auth,
                        params={"to": recipient},
                        timeout=60,
                    )
                bombs[name] = {
                    "status": answer.status_code,
                    "seconds": round(time.perf_counter() - started, 3),
                    "refused": 400 <= answer.status_code < 500,
                }
            stop.set()
            prober.join(15)
            peak = _kb(api.pid, "VmHWM")
        finally:
            api.terminate()
            api.wait(30)
    growth_mb = (peak - rss_before) / 1024
    return {
        "benchmark": "template_bombs",
        "bombs": bombs,
        "rss_before_mb": round(rss_before / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_growth_mb": round(growth_mb, 1),
        "healthz_slowest_ms": round(slowest[0] * 1000, 1),
        "meets_target": growth_mb < 512
        and slowest[0] < 1.0
        and all(b["refused"] and b["seconds"] < 6 for b in bombs.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    result = run()
    if parser.parse_args().json:
        print(json.dumps(result))
        return
    for name, bomb in result["bombs"].items():
        print(f"{name:>36}: HTTP {bomb['status']} in {bomb['seconds']} s")
    print(
        f"API RSS {result['rss_before_mb']} MB before, peak {result['peak_rss_mb']} MB "
        f"(+{result['rss_growth_mb']} MB); slowest /healthz {result['healthz_slowest_ms']} ms; "
        f"target met: {result['meets_target']}"
    )


if __name__ == "__main__":
    main()
