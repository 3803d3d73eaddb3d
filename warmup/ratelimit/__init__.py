"""The global rate limiter: every worker on every machine takes its permits here.

``base`` defines the interface and the limits; ``memory`` and ``redis_limiter`` implement it
(the same contract tests run against both); the Redis algorithm lives in ``lua/acquire.lua``.
"""

from warmup.ratelimit.base import Grant, Limit, Limiter

__all__ = ["Grant", "Limit", "Limiter"]
