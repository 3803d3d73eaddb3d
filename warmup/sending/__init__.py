"""Talking to ACS Email: client construction, error classification, retry policy, sending."""

from warmup.sending.client import AsyncAcsClient, build_async_client
from warmup.sending.message import build_message
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import Accepted, AsyncSender, OperationStatus

__all__ = [
    "Accepted",
    "AsyncAcsClient",
    "AsyncSender",
    "OperationStatus",
    "RetryPolicy",
    "build_async_client",
    "build_message",
]
