"""The composition root: the one place a process's stores and limiters are built, from settings.

Every entry point (a worker's runtime, the API, a CLI command, the demo) opens one ``Stores``
and takes what it needs from it; no other module under ``warmup/`` constructs a store (the
architecture test holds it). Owners that need another owner get it passed in here, so a
setting that shapes a store (``fill_chunk_rows``, ``soft_failures_to_suppress``) is applied
the same way wherever the store is used, and a process builds each store once, lazily: a CLI
command that reads campaigns never builds (nor imports) the relay's objects, which keeps the
CLI's start short.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from warmup.clock import Clock, clock_for
from warmup.errors import ConfigError
from warmup.ratelimit.base import Limiter
from warmup.settings import Settings, env_name
from warmup.store.database import Database

if TYPE_CHECKING:  # each store's module is imported when the store is first built
    import redis

    from warmup.campaigns.ab_test import CampaignABTest
    from warmup.campaigns.retry import CampaignRetry
    from warmup.campaigns.scheduling import CampaignSchedule
    from warmup.campaigns.store import CampaignStore
    from warmup.domains.store import DomainStore
    from warmup.feedback.dmarc_store import DmarcStore
    from warmup.feedback.intake import FeedbackStore
    from warmup.feedback.postmaster_store import PostmasterStore
    from warmup.ledger.store import LedgerStore
    from warmup.relay.intake import RelayIntake
    from warmup.relay.users import RelayUsers
    from warmup.suppression.store import SuppressionStore
    from warmup.tokens import TokenStore


class Stores:
    """A process's stores over one database, each built on first use."""

    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        """``settings``: the process's; without them the defaults (tests and scripts that
        bring their own database), read from no environment."""
        self.database = database
        self.settings = settings if settings is not None else Settings.model_construct()

    @classmethod
    def open(cls, settings: Settings) -> Stores:
        """The stores over the database ``settings`` name (connected, and migrated if that is
        the store's way: see :meth:`Database.connect`)."""
        return cls(Database.connect(settings.database_url.get_secret_value()), settings)

    @cached_property
    def clock(self) -> Clock:
        """Real time, or the accelerated clock of the demo and the tests."""
        return clock_for(self.settings.clock_scale, self.settings.clock_origin)

    @cached_property
    def domains(self) -> DomainStore:
        from warmup.domains.store import DomainStore

        return DomainStore(self.database)

    @cached_property
    def ledger(self) -> LedgerStore:
        from warmup.ledger.store import LedgerStore

        return LedgerStore(self.database)

    @cached_property
    def suppressions(self) -> SuppressionStore:
        from warmup.suppression.store import SuppressionStore

        return SuppressionStore(self.database)

    @cached_property
    def tokens(self) -> TokenStore:
        from warmup.tokens import TokenStore

        return TokenStore(self.database)

    @cached_property
    def campaigns(self) -> CampaignStore:
        from warmup.campaigns.store import CampaignStore

        return CampaignStore(
            self.database, domains=self.domains, fill_chunk_rows=self.settings.fill_chunk_rows
        )

    @cached_property
    def schedule(self) -> CampaignSchedule:
        from warmup.campaigns.scheduling import CampaignSchedule

        return CampaignSchedule(self.database, self.campaigns, self.domains)

    @cached_property
    def ab_tests(self) -> CampaignABTest:
        from warmup.campaigns.ab_test import CampaignABTest

        return CampaignABTest(self.database, self.campaigns)

    @cached_property
    def retries(self) -> CampaignRetry:
        from warmup.campaigns.retry import CampaignRetry

        return CampaignRetry(self.database, self.campaigns)

    @cached_property
    def feedback(self) -> FeedbackStore:
        from warmup.feedback.intake import FeedbackStore

        return FeedbackStore(
            self.database, soft_failures_to_suppress=self.settings.soft_failures_to_suppress
        )

    @cached_property
    def dmarc(self) -> DmarcStore:
        from warmup.feedback.dmarc_store import DmarcStore

        return DmarcStore(self.database)

    @cached_property
    def postmaster(self) -> PostmasterStore:
        from warmup.feedback.postmaster_store import PostmasterStore

        return PostmasterStore(self.database)

    @cached_property
    def relay_users(self) -> RelayUsers:
        from warmup.relay.users import RelayUsers

        return RelayUsers(self.database, self.domains)

    @cached_property
    def relayed(self) -> RelayIntake:
        from warmup.relay.intake import RelayIntake

        return RelayIntake(self.database, self.domains, self.ledger)


def worker_limiter(settings: Settings) -> Limiter:
    """The limiter workers and the dispatcher take permits from: on Redis, shared by every
    process, on Redis's clock unless the clock is accelerated (the demo, tests)."""
    if settings.redis_url is None:
        raise ConfigError(f"{env_name('redis_url')} is required for workers and the dispatcher")
    from warmup.ratelimit.redis_limiter import RedisLimiter  # redis: only where it is used

    real_time = settings.clock_scale == 1.0 and settings.clock_origin is None
    return RedisLimiter.from_url(settings.redis_url.get_secret_value(), server_time=real_time)


def limiter_over(client: redis.Redis) -> Limiter:
    """The workers' limiter on a client a process already holds (the API's broker client), to
    read (an ACS throttle in force, throttle counts), never to take permits."""
    from warmup.ratelimit.redis_limiter import RedisLimiter

    return RedisLimiter(client)


def status_limiter(settings: Settings) -> Limiter | None:
    """The workers' limiter, read by status commands for an ACS throttle in force; None when no
    Redis is configured. Short timeouts: a status must answer even if Redis does not."""
    if settings.redis_url is None:
        return None
    import redis  # a command that never reads Redis does not pay for importing it

    client = redis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=2, socket_connect_timeout=2
    )
    return limiter_over(client)
