"""What the emulator saw: the ground truth that tests and benchmarks read.

Served at ``GET /_emulator/stats``; ``?recipients=true`` adds the per-recipient accepted counts
and the arrival time of every send request (to check that a throttle held everyone back).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from warmup.emulator.quota import max_in_any_window


@dataclass
class Stats:
    accepted: int = 0  # distinct send operations accepted
    accepted_recipients: Counter[str] = field(default_factory=Counter)  # address -> operations
    outcomes: Counter[str] = field(default_factory=Counter)  # delivery status -> recipients
    rejected: Counter[str] = field(default_factory=Counter)  # error code -> count
    throttled: int = 0  # 429s from the send quota
    injected: Counter[str] = field(default_factory=Counter)  # injected faults by kind
    reused_operation_ids: int = 0
    reused_with_different_body: int = 0
    status_requests: int = 0
    status_throttled: int = 0
    events_delivered: int = 0
    events_duplicated: int = 0
    delivery_failures: int = 0  # webhook calls that failed and will be retried
    events_dead_lettered: int = 0  # dropped after a 400/401/403/413 or too many attempts
    handshakes: int = 0
    smtp_messages: int = 0  # DATA commands received over SMTP, whatever became of them
    smtp_auth_failures: int = 0
    log_queries: int = 0  # Log Analytics queries answered (or throttled)
    postmaster_requests: int = 0  # Postmaster Tools calls answered (authenticated)
    engagements: Counter[str] = field(default_factory=Counter)  # view, click -> events made
    # Emulated times of accepted sends, in order, to find the busiest window afterwards.
    accept_times: list[float] = field(default_factory=list)
    first_accept: float | None = None
    last_accept: float | None = None
    last_accept_wall: float | None = None  # unix time, to compare with other processes' clocks
    # Unix time of every send request's arrival, whatever became of it (429s included).
    send_request_walls: list[float] = field(default_factory=list)
    # Recipients of every message whose DATA arrived over SMTP, whatever the answer (a client
    # killed before it read the answer cannot know it: what reached the endpoint is this).
    smtp_received_recipients: Counter[str] = field(default_factory=Counter)
    # Unix time of every throttled answer (429, or 451 over SMTP), quota or injected.
    throttle_walls: list[float] = field(default_factory=list)

    def record_accept(self, now: float, recipients: tuple[str, ...]) -> None:
        self.last_accept_wall = time.time()
        self.accepted += 1
        self.accept_times.append(now)
        if self.first_accept is None:
            self.first_accept = now
        self.last_accept = now
        for address in recipients:
            self.accepted_recipients[address.lower()] += 1

    def snapshot(self, *, include_recipients: bool = False) -> dict[str, Any]:
        repeated = {a: n for a, n in self.accepted_recipients.items() if n > 1}
        result: dict[str, Any] = {
            "accepted": self.accepted,
            "accepted_recipient_count": sum(self.accepted_recipients.values()),
            "distinct_recipients": len(self.accepted_recipients),
            "recipients_accepted_more_than_once": len(repeated),
            "outcomes": dict(self.outcomes),
            "rejected": dict(self.rejected),
            "throttled": self.throttled,
            "injected": dict(self.injected),
            "reused_operation_ids": self.reused_operation_ids,
            "reused_with_different_body": self.reused_with_different_body,
            "status_requests": self.status_requests,
            "status_throttled": self.status_throttled,
            "events_delivered": self.events_delivered,
            "engagements": dict(self.engagements),
            "events_duplicated": self.events_duplicated,
            "delivery_failures": self.delivery_failures,
            "events_dead_lettered": self.events_dead_lettered,
            "handshakes": self.handshakes,
            "smtp_messages": self.smtp_messages,
            "smtp_auth_failures": self.smtp_auth_failures,
            "log_queries": self.log_queries,
            "postmaster_requests": self.postmaster_requests,
            "max_accepted_in_any_minute": max_in_any_window(self.accept_times, 60.0),
            "max_accepted_in_any_hour": max_in_any_window(self.accept_times, 3600.0),
            "first_accept": self.first_accept,
            "last_accept": self.last_accept,
            "last_accept_wall": self.last_accept_wall,
        }
        if include_recipients:
            result["accepted_per_recipient"] = dict(self.accepted_recipients)
            result["repeated_recipients"] = repeated
            result["send_request_walls"] = list(self.send_request_walls)
            result["throttle_walls"] = list(self.throttle_walls)
            result["smtp_received_per_recipient"] = dict(self.smtp_received_recipients)
        return result
