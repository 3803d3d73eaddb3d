"""The Log Analytics query API (azure-monitor-query), as a function from KQL to rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from azure.monitor.query import LogsQueryClient, LogsQueryStatus

from warmup.errors import ConfigError
from warmup.management.client import arm_errors, azure_credential, client_options
from warmup.settings import Settings

SERVICE = "Log Analytics"
SERVER_TIMEOUT = 180  # seconds the service may take for one page (its limit is 600)


class LogsQuery:
    """``query(kql)`` → the rows of its first table as {column: value}."""

    def __init__(self, settings: Settings, workspace: str) -> None:
        self._workspace = workspace
        self._client = LogsQueryClient(
            azure_credential(settings),
            endpoint=settings.log_analytics_endpoint,
            **client_options(settings),
        )

    def __call__(self, kql: str) -> Sequence[Mapping[str, Any]]:
        with arm_errors(f"querying workspace {self._workspace}", SERVICE):
            result = self._client.query_workspace(
                self._workspace, kql, timespan=None, server_timeout=SERVER_TIMEOUT
            )
        if result.status is not LogsQueryStatus.SUCCESS:
            # A partial result (a limit was hit): taking it would skip rows for good.
            error = getattr(result, "partial_error", None)
            raise ConfigError(
                f"querying workspace {self._workspace}: a partial result ({error}); "
                "try a smaller --page-size"
            )
        tables = getattr(result, "tables", None) or []
        if not tables:
            return []
        table = tables[0]
        names = [str(column) for column in table.columns]
        return [dict(zip(names, row, strict=False)) for row in table.rows]

    def close(self) -> None:
        self._client.close()
