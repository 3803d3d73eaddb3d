"""Sender usernames, SMTP usernames and domain verification through the resource manager.

What the Azure portal and ``New-AzEmailServiceSenderUsername`` do by hand: each function is
one call of azure-mgmt-communication, its result in plain dataclasses, its failures as
:class:`~warmup.errors.ConfigError` saying what to do (see client.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.communication import CommunicationServiceManagementClient
from azure.mgmt.communication.models import (
    SenderUsernameProperties,
    SenderUsernameResource,
    SmtpUsernameProperties,
    SmtpUsernameResource,
    SuppressionListAddressProperties,
    SuppressionListAddressResource,
    SuppressionListProperties,
    SuppressionListResource,
)

from warmup.management.client import AcsResources, arm_errors

RECORDS = ("Domain", "SPF", "DKIM", "DKIM2", "DMARC")


@dataclass(frozen=True)
class SenderUsername:
    name: str
    username: str
    display_name: str

    def address(self, domain: str) -> str:
        return f"{self.username}@{domain}"


@dataclass(frozen=True)
class SmtpUsername:
    name: str
    username: str
    app_id: str
    tenant_id: str


@dataclass(frozen=True)
class ListedAddress:
    """An address on one of ACS's suppression lists."""

    address_id: str
    email: str
    notes: str


@dataclass(frozen=True)
class DomainCheck:
    """A domain's DNS records as ACS verified them, and who manages the domain."""

    domain: str
    management: str
    states: Mapping[str, str]  # Domain, SPF, DKIM, DKIM2, DMARC → Verified, NotStarted...


class AzureResources:
    def __init__(
        self, client: CommunicationServiceManagementClient, resources: AcsResources
    ) -> None:
        self._client = client
        self._r = resources

    # --- sender usernames (the MailFrom addresses of a verified domain) --------------------

    def senders(self, domain: str) -> list[SenderUsername]:
        with arm_errors(f"listing the sender usernames of {domain}"):
            return [
                _sender(found)
                for found in self._client.sender_usernames.list_by_domains(
                    self._r.resource_group, self._r.email_service, domain
                )
            ]

    def add_sender(self, domain: str, username: str, display_name: str) -> SenderUsername:
        with arm_errors(f"adding the sender username {username} to {domain}"):
            made = self._client.sender_usernames.create_or_update(
                self._r.resource_group,
                self._r.email_service,
                domain,
                username,
                SenderUsernameResource(
                    properties=SenderUsernameProperties(
                        username=username, display_name=display_name
                    )
                ),
            )
        return _sender(made)

    def remove_sender(self, domain: str, username: str) -> None:
        with arm_errors(f"removing the sender username {username} from {domain}"):
            self._client.sender_usernames.delete(
                self._r.resource_group, self._r.email_service, domain, username
            )

    # --- SMTP usernames (short logins for devices, tied to an Entra app) -------------------

    def smtp_usernames(self) -> list[SmtpUsername]:
        with arm_errors("listing the SMTP usernames"):
            return [
                _smtp(found)
                for found in self._client.smtp_usernames.list(
                    self._r.resource_group, self._r.communication_service
                )
            ]

    def add_smtp_username(self, username: str, app_id: str, tenant_id: str) -> SmtpUsername:
        with arm_errors(f"adding the SMTP username {username}"):
            made = self._client.smtp_usernames.create_or_update(
                self._r.resource_group,
                self._r.communication_service,
                username,
                SmtpUsernameResource(
                    properties=SmtpUsernameProperties(
                        username=username, entra_application_id=app_id, tenant_id=tenant_id
                    )
                ),
            )
        return _smtp(made)

    def remove_smtp_username(self, username: str) -> None:
        with arm_errors(f"removing the SMTP username {username}"):
            self._client.smtp_usernames.delete(
                self._r.resource_group, self._r.communication_service, username
            )

    # --- suppression lists (ACS's, per domain) ----------------------------------------------

    def ensure_suppression_list(self, domain: str, name: str) -> bool:
        """Create the list if it is not there; whether it was made. Read first: every PUT is
        a write against the subscription's ARM budget (about 1,200 an hour), even one that
        changes nothing."""
        with arm_errors(f"reading the suppression list {name} of {domain}"):
            try:
                self._client.suppression_lists.get(
                    self._r.resource_group, self._r.email_service, domain, name
                )
                return False
            except ResourceNotFoundError:
                pass
        with arm_errors(f"creating the suppression list {name} of {domain}"):
            self._client.suppression_lists.create_or_update(
                self._r.resource_group,
                self._r.email_service,
                domain,
                name,
                SuppressionListResource(properties=SuppressionListProperties(list_name=name)),
            )
        return True

    def suppressed(self, domain: str, name: str) -> list[ListedAddress]:
        with arm_errors(f"reading the suppression list {name} of {domain}"):
            return [
                ListedAddress(
                    str(found.name),
                    found.properties.email if found.properties else "",
                    (found.properties.notes or "") if found.properties else "",
                )
                for found in self._client.suppression_list_addresses.list(
                    self._r.resource_group, self._r.email_service, domain, name
                )
            ]

    def suppress(self, domain: str, name: str, address_id: str, email: str, notes: str) -> None:
        with arm_errors(f"adding {email} to the suppression list {name} of {domain}"):
            self._client.suppression_list_addresses.create_or_update(
                self._r.resource_group,
                self._r.email_service,
                domain,
                name,
                address_id,
                SuppressionListAddressResource(
                    properties=SuppressionListAddressProperties(email=email, notes=notes)
                ),
            )

    def unsuppress(self, domain: str, name: str, address_id: str) -> None:
        with arm_errors(f"removing an address from the suppression list {name} of {domain}"):
            self._client.suppression_list_addresses.delete(
                self._r.resource_group, self._r.email_service, domain, name, address_id
            )

    # --- domains ---------------------------------------------------------------------------

    def check_domain(self, domain: str) -> DomainCheck:
        with arm_errors(f"reading the domain {domain}"):
            found = self._client.domains.get(self._r.resource_group, self._r.email_service, domain)
        properties = found.properties
        states: dict[str, str] = {}
        verification = properties.verification_states if properties is not None else None
        if verification is not None:
            for record, attribute in zip(
                RECORDS, ("domain", "spf", "dkim", "dkim2", "dmarc"), strict=True
            ):
                entry = getattr(verification, attribute)
                states[record] = _text(entry.status) if entry and entry.status else "NotStarted"
        management = _text(properties.domain_management) if properties is not None else "unknown"
        return DomainCheck(domain, management, states)


def _text(value: object) -> str:
    """An SDK enum member as the service spells it ("Verified"), or the string as it came."""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _sender(found: SenderUsernameResource) -> SenderUsername:
    properties = found.properties
    return SenderUsername(
        name=str(found.name),
        username=properties.username if properties else str(found.name),
        display_name=(properties.display_name or "") if properties else "",
    )


def _smtp(found: SmtpUsernameResource) -> SmtpUsername:
    properties = found.properties
    return SmtpUsername(
        name=str(found.name),
        username=properties.username if properties else str(found.name),
        app_id=properties.entra_application_id if properties else "",
        tenant_id=properties.tenant_id if properties else "",
    )
