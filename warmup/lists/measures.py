"""A list's size and how many of its recipients carry each personalisation field, kept on the
list's row as recipients are written.

A campaign start refuses a list whose rows lack a field the template uses, and sizes its fill
by the list: read from the rows, that was three passes over a million recipients inside the
request. The import counts both as it writes (a bitmask per row, worked out with the row in
the worker process, one dictionary step per row here), a derived list is measured once when
it is made, and a list written before these figures were kept is measured from its rows the
first time it is needed, then kept. What writes them lives with the lists' other writes, in
:mod:`warmup.lists.importer` (one owner per table); here, what counts and reads them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func, select, true

from warmup.ledger.counters import Mismatch, compare
from warmup.store.models import ContactList, Recipient


@dataclass(frozen=True)
class ListMeasure:
    size: int
    # Recipients with a value (not blank) per field; a field not named: none has one (so a
    # list's figures compare equal however they were made).
    filled: dict[str, int]

    def lacking(self, name: str) -> int:
        """Recipients with no value for ``name``."""
        return self.size - self.filled.get(name, 0)

    def plus(self, other: ListMeasure) -> ListMeasure:
        total = Counter(self.filled)
        total.update(other.filled)
        return ListMeasure(self.size + other.size, dict(+total))


EMPTY = ListMeasure(0, {})


def filled_mask(values: Iterable[str]) -> int:
    """Which of a row's personalisation values are set: bit i for the i-th."""
    mask = 0
    for i, value in enumerate(values):
        if value:
            mask |= 1 << i
    return mask


@dataclass
class FilledTally:
    """The rows an import writes, counted by the set of fields each carries."""

    fields: list[str]
    _masks: Counter[int] = field(default_factory=Counter)

    def add(self, mask: int) -> None:
        self._masks[mask] += 1

    def measure(self) -> ListMeasure:
        filled: Counter[str] = Counter()
        for mask, rows in self._masks.items():
            for i, name in enumerate(self.fields):
                if mask >> i & 1:
                    filled[name] += rows
        return ListMeasure(self._masks.total(), dict(filled))


def stored(connection: Connection, list_id: int, *, lock: bool = False) -> ListMeasure | None:
    """The figures kept on the list's row (None: a list from before they were kept);
    ``lock``: the row stays locked to the caller's transaction, for an update."""
    read = select(ContactList.size, ContactList.filled).where(ContactList.id == list_id)
    row = connection.execute(read.with_for_update() if lock else read).one()
    if row.size is None or row.filled is None:
        return None
    return ListMeasure(int(row.size), {k: int(v) for k, v in row.filled.items()})


def from_rows(connection: Connection, list_id: int) -> ListMeasure:
    """Measure a list by reading its rows: one count, and one pass over every row's fields
    (whatever keys its rows carry, so an appended file's extra columns are counted too)."""
    size = connection.scalar(select(func.count()).where(Recipient.list_id == list_id)) or 0
    filled = connection.execute(_filled(connection).where(Recipient.list_id == list_id)).all()
    return ListMeasure(int(size), {str(row[1]): int(row[2]) for row in filled})


def _filled(connection: Connection) -> Select[Any]:
    """(list, field, recipients with a value for it), grouped: filter it by list."""
    each = "json_each_text" if connection.dialect.name == "postgresql" else "json_each"
    pairs = getattr(func, each)(Recipient.fields).table_valued("key", "value")
    return (
        select(Recipient.list_id, pairs.c.key, func.count())
        .select_from(Recipient)
        .join(pairs, true())
        .where(func.trim(pairs.c.value) != "")
        .group_by(Recipient.list_id, pairs.c.key)
    )


def mismatches(connection: Connection) -> list[Mismatch]:
    """Every kept figure that differs from a count of the list's rows (``warmup db check``);
    a list not measured yet has none. Reads every recipient: a check for ops."""
    kept = connection.execute(
        select(ContactList.id, ContactList.name, ContactList.size, ContactList.filled).where(
            ContactList.size.is_not(None), ContactList.filled.is_not(None)
        )
    ).all()
    names = {int(list_id): str(name) for list_id, name, _, _ in kept}
    counted: dict[tuple[int, str], int] = {}
    for list_id, _, size, filled in kept:
        counted[(int(list_id), "")] = int(size or 0)
        counted.update({(int(list_id), str(k)): int(v) for k, v in (filled or {}).items()})
    truth = {
        (int(list_id), ""): int(rows)
        for list_id, rows in connection.execute(
            select(Recipient.list_id, func.count()).group_by(Recipient.list_id)
        )
    }
    truth.update(
        {
            (int(list_id), str(key)): int(rows)
            for list_id, key, rows in connection.execute(_filled(connection))
        }
    )
    measured = {key: rows for key, rows in truth.items() if key[0] in names}
    return compare(
        measured,
        counted,
        lambda key: (
            f"list {names[key[0]]} " + (f"recipients with {key[1]}" if key[1] else "recipients")
        ),
        rows="the list",
    )


def lines_lacking(connection: Connection, list_id: int, name: str, examples: int) -> list[int]:
    """Source lines of a few recipients with no value for ``name``, for the message that
    names them: the first found, not the first in the file, so the read stops early (rows lie
    about in the order they were imported, so these are usually the first too)."""
    value = func.coalesce(Recipient.fields[name].as_string(), "")
    lines = connection.scalars(
        select(Recipient.source_line)
        .where(Recipient.list_id == list_id, func.trim(value) == "")
        .limit(examples)
    ).all()
    return sorted(line or 0 for line in lines)
