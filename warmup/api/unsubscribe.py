"""``/u/{token}``: one-click unsubscribe (RFC 8058) and its confirmation page.

Mail providers POST ``List-Unsubscribe=One-Click`` to the URL in ``List-Unsubscribe``; that POST
unsubscribes at once. A GET (a person clicking the link in the message) only shows a page with a
button, because link scanners and previews fetch URLs without anyone asking to unsubscribe.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from warmup.api.services import services
from warmup.campaigns.store import CampaignStore
from warmup.content.unsubscribe import PREVIEW_TOKEN, InvalidToken, Unsubscriber
from warmup.suppression.store import SuppressionStore

router = APIRouter()
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


def _unsubscriber(request: Request) -> Unsubscriber | None:
    return services(request).unsubscriber


def _preview() -> HTMLResponse:
    return _page(
        "Preview link",
        "<p>This link comes from a campaign preview: it unsubscribes nobody. In the message "
        "itself, each recipient's link is their own.</p>",
    )


@router.get("/u/{token}")
async def confirm(request: Request, token: str) -> HTMLResponse:
    unsubscriber = _unsubscriber(request)
    if unsubscriber is None:
        return _page("Unavailable", "<p>Unsubscribing is not configured here.</p>", 503)
    if token == PREVIEW_TOKEN:
        return _preview()
    try:
        _, address = unsubscriber.verify(token)
    except InvalidToken:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 400)
    return _page(
        "Unsubscribe",
        f"<h1>Unsubscribe</h1><p>Stop sending email to <b>{html.escape(address)}</b>?</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f"<button type=submit>Unsubscribe</button></form>",
    )


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    unsubscriber = _unsubscriber(request)
    if unsubscriber is None:
        return _page("Unavailable", "<p>Unsubscribing is not configured here.</p>", 503)
    if token == PREVIEW_TOKEN:
        return _preview()
    found = services(request)
    try:
        address = await run_in_threadpool(
            SuppressionStore(found.database).unsubscribe,
            token,
            unsubscriber,
            at=found.clock.now(),
            campaign_name=CampaignStore(found.database).name_of,
        )
    except InvalidToken:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 400)
    return _page(
        "Unsubscribed",
        f"<h1>Done</h1><p><b>{html.escape(address)}</b> will get no more email from us.</p>",
    )
