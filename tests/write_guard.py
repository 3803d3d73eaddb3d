"""A runtime witness for "one owner per table": every write the code under test makes to a table
must run with that table's owner on the call stack.

The static check in ``tests/unit/test_layering.py`` sees statements and model objects built in
the source; this one also sees ORM attribute changes flushed at commit, which no grep can. Writes
made by tests themselves (seeding, sabotage) have no ``warmup`` frame and are not judged.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from sqlalchemy import Engine, event

from tests.architecture import OWNERS, owns

WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
# Engine and session plumbing, and migrations: they run writes on behalf of their callers.
PLUMBING = ("warmup.store.",)

violations: list[str] = []


def _warmup_frames() -> list[str]:
    modules: list[str] = []
    frame: Any = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith("alembic") or name.startswith("warmup.store.migrations"):
            return []  # a migration writes whatever it must
        if name.startswith("warmup.") and not name.startswith(PLUMBING):
            modules.append(name)
        frame = frame.f_back
    return modules


def _check(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    tables = {t for t in WRITE.findall(statement) if t in OWNERS}
    if not tables:
        return
    modules = _warmup_frames()
    if not modules:
        return
    for table in tables:
        if not any(owns(module, table) for module in modules):
            violations.append(f"{modules[0]} wrote {table} without its owner {OWNERS[table]}")


def install() -> None:
    if not event.contains(Engine, "before_cursor_execute", _check):
        event.listen(Engine, "before_cursor_execute", _check)
