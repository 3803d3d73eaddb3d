"""``warmup api``: run the HTTP service (for now the Event Grid webhook and /healthz)."""

from __future__ import annotations

from typing import Annotated

import typer

from warmup.commands.context import command_settings


def api(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the HTTP API, the dashboard (/dashboard), the webhook, metrics and health."""
    import uvicorn

    from warmup.api.app import create_app

    settings = command_settings()
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # Our logging (configured above) for uvicorn's loggers too, so its access log goes
        # through the same secret redaction as everything else.
        log_config=None,
        # X-Forwarded-For only from the proxies named: none by default.
        proxy_headers=bool(settings.api_trusted_proxies.strip()),
        forwarded_allow_ips=settings.api_trusted_proxies or None,
    )
