"""Turning a CSV row's extra columns into personalisation fields and engagement data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

ENGAGEMENT_COLUMNS = ("engagement", "engagement_score", "score")
LAST_ENGAGED_COLUMNS = (
    "last_engaged_at",
    "last_engaged",
    "last_open",
    "last_opened_at",
    "last_click",
)


@dataclass(frozen=True)
class FieldMap:
    """Which column is which, decided once from the header."""

    header: tuple[str, ...]
    email: int
    engagement_column: int | None
    last_engaged_column: int | None

    @classmethod
    def from_header(cls, header: list[str], email: int) -> FieldMap:
        def find(names: tuple[str, ...]) -> int | None:
            return next((header.index(n) for n in names if n in header), None)

        return cls(tuple(header), email, find(ENGAGEMENT_COLUMNS), find(LAST_ENGAGED_COLUMNS))

    @property
    def ordering_columns(self) -> list[str]:
        """The columns that order sending (most engaged first), as named in the header."""
        return [
            self.header[i]
            for i in (self.engagement_column, self.last_engaged_column)
            if i is not None
        ]

    @property
    def personalisation(self) -> list[str]:
        return [name for i, name in enumerate(self.header) if i != self.email]

    def fields(self, values: list[str]) -> dict[str, str]:
        return {
            name: values[i].strip() if i < len(values) else ""
            for i, name in enumerate(self.header)
            if i != self.email
        }

    def engagement(self, values: list[str]) -> float | None:
        column = self.engagement_column
        if column is None or column >= len(values):
            return None
        try:
            return float(values[column])
        except ValueError:
            return None  # a bad score must not cost a recipient: it just does not rank them

    def last_engaged(self, values: list[str]) -> datetime | None:
        column = self.last_engaged_column
        if column is None or column >= len(values):
            return None
        text = values[column].strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            try:
                moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
            except ValueError:
                return None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
