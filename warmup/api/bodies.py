"""The base of every request body: a field the API does not know is refused (422, naming it).

Silently ignoring one hid mistakes: a campaign posted with ``from`` (the CLI's word) instead of
``sender`` was answered as if no sender had been given, and a typo in an optional field was
simply lost.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
