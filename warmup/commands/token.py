"""``warmup token create|list|revoke``: admins hand out API tokens with a role."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import actor, command_settings, now, open_stores
from warmup.tokens import Role, TokenStore

app = typer.Typer(
    help="API tokens: marketing (lists, campaigns), ops (domains, plans), admin (tokens).",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="A name for the token, e.g. the person or system.")]


def _store() -> tuple[TokenStore, str]:
    settings = command_settings()
    return open_stores(settings).tokens, actor(settings)


@app.command()
def create(
    name: Name,
    role: Annotated[Role, typer.Option(help="What the token may change.")],
) -> None:
    """Create a token. It is printed once, alone on stdout; only its hash is kept."""
    store, who = _store()
    token, info = store.create(name, role, actor=who, at=now())
    typer.echo(f"token {info.name} ({info.role.value}) created; it is shown only now:", err=True)
    typer.echo(token)


@app.command("list")
def list_tokens() -> None:
    """Every token: name, role, first characters, when created and last used, revoked."""
    store, _ = _store()
    table = Table()
    for column in ("name", "role", "starts with", "created", "by", "last used", "revoked"):
        table.add_column(column)
    for info in store.all():
        table.add_row(
            info.name,
            info.role.value,
            info.prefix + "…",
            f"{info.created_at:%Y-%m-%d %H:%M}",
            info.created_by,
            f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "-",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "-",
        )
    print_table(make_console(), table)


@app.command()
def revoke(name: Name) -> None:
    """Revoke a token: the API refuses it from the next request on."""
    store, who = _store()
    info = store.revoke(name, actor=who, at=now())
    typer.echo(f"token {info.name} revoked")
