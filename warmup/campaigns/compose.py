"""The ACS message for one recipient of a campaign: rendered content plus unsubscribe headers.

The same code serves ``warmup campaign preview`` and the workers, so a preview shows exactly what
will be sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from warmup.campaigns.model import VARIANT_LABELS, Variant
from warmup.campaigns.record import CampaignRecord
from warmup.content.templates import CompiledTemplate, MessageTemplate, Rendered
from warmup.content.unsubscribe import Unsubscriber
from warmup.errors import ConfigError, NotFoundError
from warmup.sending.message import build_message
from warmup.settings import Settings, env_name


def unsubscriber_from(settings: Settings) -> Unsubscriber:
    secrets = settings.unsubscribe_secret_values()
    if not secrets:
        raise ConfigError(
            f"{env_name('unsubscribe_secret')} is required to build messages: every message "
            "carries a signed one-click unsubscribe link (RFC 8058)"
        )
    current, *earlier = secrets
    return Unsubscriber(
        secret=current.encode(),
        public_url=settings.public_url,
        mailto=settings.unsubscribe_mailto,
        earlier=tuple(secret.encode() for secret in earlier),
    )


def variant_template(campaign: CampaignRecord, label: str | None) -> MessageTemplate:
    base = MessageTemplate(campaign.subject, campaign.html, campaign.text)
    if label is None or label == VARIANT_LABELS[0]:
        return base
    for stored in campaign.variants or []:
        if stored.get("label") == label:
            return Variant.from_stored(stored).template(base)
    raise NotFoundError(f"campaign {campaign.name} has no variant {label}")


@dataclass(frozen=True)
class Composer:
    campaign_id: int
    sender: str
    reply_to: str | None
    template: CompiledTemplate
    unsubscriber: Unsubscriber

    @classmethod
    def for_campaign(
        cls, campaign: CampaignRecord, unsubscriber: Unsubscriber, variant: str | None = None
    ) -> Composer:
        """The campaign's message, or one of its A/B variants' (A is the campaign's own)."""
        template = CompiledTemplate(variant_template(campaign, variant))
        return cls(campaign.id, campaign.sender_address, campaign.reply_to, template, unsubscriber)

    def compose(
        self, address: str, fields: Mapping[str, Any], *, deliver_to: str | None = None
    ) -> tuple[dict[str, Any], Rendered]:
        """The message for ``address`` with its ``fields``; sent to ``deliver_to`` instead
        when given (a campaign's test send: one member's message, to whoever tests it)."""
        # A field this row left empty renders blank: the list has it (the template was checked
        # against the list's fields), and the start refused empty fields unless allowed.
        context = {
            **dict.fromkeys(self.template.fields, ""),
            **fields,
            "email": address,
            "unsubscribe_url": self.unsubscriber.url(self.campaign_id, address),
        }
        rendered = self.template.render(context)
        message = build_message(
            sender=self.sender,
            to=[deliver_to or address],
            subject=rendered.subject,
            plain_text=rendered.text,
            html=rendered.html,
            headers=self.unsubscriber.headers(self.campaign_id, address),
            reply_to=self.reply_to,
        )
        return message, rendered
