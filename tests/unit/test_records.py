"""Records that leave an owner carry the table's columns, all and only them: a column added or
renamed shows up here, not as an AttributeError in some caller."""

from __future__ import annotations

from dataclasses import fields

from warmup.campaigns.record import CampaignRecord
from warmup.store.models import Campaign


def test_a_campaign_record_has_every_column_of_campaigns_and_nothing_else() -> None:
    columns = [column.key for column in Campaign.__table__.columns]
    assert [field.name for field in fields(CampaignRecord)] == columns
