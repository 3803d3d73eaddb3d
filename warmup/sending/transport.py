"""How a domain's mail reaches ACS: the Email REST API, or ACS's SMTP endpoint."""

from __future__ import annotations

from enum import StrEnum


class Transport(StrEnum):
    REST = "rest"  # POST /emails:send through the azure-communication-email SDK
    SMTP = "smtp"  # smtp.azurecomm.net:587, STARTTLS + AUTH LOGIN, through aiosmtplib
