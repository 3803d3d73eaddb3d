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

from warmup.api.page_language import preferred, translations
from warmup.api.services import services
from warmup.content.page_languages import PAGE_LANGUAGES, offered
from warmup.content.unsubscribe import PREVIEW_TOKEN, InvalidToken, Unsubscriber
from warmup.errors import NotFoundError
from warmup.lists.catalog import languages_of

router = APIRouter()
PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head><body>{body}</body></html>"""


class _Page:
    """The pages in the language the recipient's browser asks for (see page_language)."""

    def __init__(self, request: Request) -> None:
        self._accepted = request.headers.get("accept-language")
        self.speak(PAGE_LANGUAGES)

    def speak(self, offered: tuple[str, ...]) -> None:
        """Answer in the browser's best match among ``offered`` (the campaign's list's)."""
        self.language = preferred(self._accepted, offered)
        self._ = translations(self.language).gettext

    def answer(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        page = PAGE.format(lang=self.language, title=html.escape(self._(title)), body=body)
        return HTMLResponse(page, status_code=status, headers={"Content-Language": self.language})

    def text(self, message: str, **values: str) -> str:
        """A paragraph's text, translated, its values escaped and set in bold."""
        bold = {name: f"<b>{html.escape(value)}</b>" for name, value in values.items()}
        return html.escape(self._(message)) % bold if values else html.escape(self._(message))

    def unavailable(self) -> HTMLResponse:
        return self.answer(
            "Unavailable", f"<p>{self.text('Unsubscribing is not configured here.')}</p>", 503
        )

    def invalid(self) -> HTMLResponse:
        return self.answer(
            "Link not valid", f"<p>{self.text('This unsubscribe link is not valid.')}</p>", 400
        )

    def preview(self) -> HTMLResponse:
        return self.answer(
            "Preview link",
            "<p>"
            + self.text(
                "This link comes from a campaign preview: it unsubscribes nobody. In the "
                "message itself, each recipient's link is their own."
            )
            + "</p>",
        )


def _unsubscriber(request: Request) -> Unsubscriber | None:
    return services(request).unsubscriber


def _sender(request: Request, campaign_id: int, page: _Page) -> str:
    """Who the mail came from: the campaign's sender address (its domain in it); and the page
    set to speak the languages its list declared."""
    found = services(request)
    try:
        campaign = found.stores.campaigns.by_id(campaign_id)
    except NotFoundError:
        return "us"
    page.speak(offered(languages_of(found.database, campaign.list_id)))
    return campaign.sender_address


@router.get("/u/{token}")
async def confirm(request: Request, token: str) -> HTMLResponse:
    page = _Page(request)
    unsubscriber = _unsubscriber(request)
    if unsubscriber is None:
        return page.unavailable()
    if token == PREVIEW_TOKEN:
        return page.preview()
    try:
        campaign_id, address = unsubscriber.verify(token)
    except InvalidToken:
        return page.invalid()
    sender = await run_in_threadpool(_sender, request, campaign_id, page)
    question = page.text(
        "Stop sending email from %(sender)s to %(address)s?", sender=sender, address=address
    )
    return page.answer(
        "Unsubscribe",
        f"<h1>{page.text('Unsubscribe')}</h1><p>{question}</p>"
        f'<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f"<button type=submit>{page.text('Unsubscribe')}</button></form>",
    )


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> HTMLResponse:
    page = _Page(request)
    unsubscriber = _unsubscriber(request)
    if unsubscriber is None:
        return page.unavailable()
    if token == PREVIEW_TOKEN:
        return page.preview()
    found = services(request)
    try:
        campaign_id, _ = unsubscriber.verify(token)
        address = await run_in_threadpool(
            found.stores.suppressions.unsubscribe,
            token,
            unsubscriber,
            at=found.clock.now(),
            campaign_name=found.stores.campaigns.name_of,
        )
    except InvalidToken:
        return page.invalid()
    sender = await run_in_threadpool(_sender, request, campaign_id, page)
    done = page.text(
        "%(address)s will get no more email from %(sender)s.", sender=sender, address=address
    )
    return page.answer("Unsubscribed", f"<h1>{page.text('Done')}</h1><p>{done}</p>")
