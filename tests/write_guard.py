"""A runtime witness for "one owner per table": every write the code under test makes to a table
must be made by that table's owner: the innermost ``warmup`` frame (engine and session plumbing
aside) must be the owner's. An owner on the stack further out does not count: owners call each
other, and a write made by the callee is the callee's. The one exception is a session's flush,
which writes changes made earlier by whoever made them: the owner must be on the stack then.

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


def _warmup_frames() -> tuple[list[str], bool]:
    """The ``warmup`` modules on the stack, innermost first, and whether the statement comes
    from a session's flush (``Session.flush`` or an autoflush) rather than from code that built
    it."""
    modules: list[str] = []
    flushing = False
    frame: Any = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith("alembic") or name.startswith("warmup.store.migrations"):
            return [], False  # a migration writes whatever it must
        if not modules and name == "sqlalchemy.orm.session" and "flush" in frame.f_code.co_name:
            flushing = True
        if name.startswith("warmup.") and not name.startswith(PLUMBING):
            modules.append(name)
        frame = frame.f_back
    return modules, flushing


def _check(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    tables = {t for t in WRITE.findall(statement) if t in OWNERS}
    if not tables:
        return
    modules, flushing = _warmup_frames()
    if not modules:
        return
    # A statement built in code is its innermost module's. A flush writes changes made
    # earlier in the session, by whichever module made them, when any statement runs (an
    # autoflush): the owner must then be on the stack, the session's transaction being its own.
    writers = modules if flushing else modules[:1]
    for table in tables:
        if not any(owns(writer, table) for writer in writers):
            violations.append(f"{modules[0]} wrote {table}, which {OWNERS[table]} owns")


def install() -> None:
    if not event.contains(Engine, "before_cursor_execute", _check):
        event.listen(Engine, "before_cursor_execute", _check)
