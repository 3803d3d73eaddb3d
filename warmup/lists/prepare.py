"""A CSV row made ready to store: its address checked and normalised, its provider group, its
personalisation fields as JSON, its engagement. Pure and per row, so the importer runs it in
worker processes (:mod:`warmup.lists.chunk_pool`), leaving its own process only the parsing,
the de-duplication and the inserts, which must see every row in order.
"""

from __future__ import annotations

import json
from datetime import datetime

from warmup.addresses import InvalidAddress, normalise_address
from warmup.control.providers import provider_group
from warmup.lists.fields import FieldMap
from warmup.lists.measures import filled_mask

# (normalised address, "", provider group, fields as JSON, engagement, last engaged, which
# fields are set as a bitmask) for a row with a valid address; (None, why not, "", "", None,
# None, 0) for one without.
Prepared = tuple[str | None, str, str, str, float | None, datetime | None, int]


def prepare_rows(rows: list[list[str]], columns: FieldMap, check_mx: bool) -> list[Prepared]:
    prepared: list[Prepared] = []
    for values in rows:
        raw = values[columns.email] if columns.email < len(values) else ""
        try:
            address = normalise_address(raw, check_mx=check_mx)
        except InvalidAddress as exc:
            prepared.append((None, f"invalid address: {exc}", "", "", None, None, 0))
            continue
        fields = columns.fields(values)
        prepared.append(
            (
                address,
                "",
                provider_group(address).value,
                json.dumps(fields),
                columns.engagement(values),
                columns.last_engaged(values),
                filled_mask(fields.values()),
            )
        )
    return prepared
