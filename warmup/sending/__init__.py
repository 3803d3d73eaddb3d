"""Talking to ACS Email: client construction, error classification, retry policy, sending."""

from warmup.sending.client import AcsClient, AsyncAcsClient, build_async_client, build_client
from warmup.sending.message import build_message
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import Accepted, AsyncSender, OperationStatus, Sender

__all__ = [
    "Accepted",
    "AcsClient",
    "AsyncAcsClient",
    "AsyncSender",
    "OperationStatus",
    "RetryPolicy",
    "Sender",
    "build_async_client",
    "build_client",
    "build_message",
]
