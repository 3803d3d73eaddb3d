"""``/dashboard``: a page for people, served from the package, with no CDN and no data inline.

The page asks for an API token, keeps it in the tab's sessionStorage, and reads the same
``/api`` endpoints as any client; ops tokens get a resume button on paused domains. A strict
Content-Security-Policy allows only this origin's script, style and API, and the script writes
every value with ``textContent``, so a campaign named like HTML stays text.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).with_name("static")
FILES = {"app.js": "text/javascript", "app.css": "text/css"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/dashboard")


@router.get("/dashboard")
async def page() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html", headers=HEADERS)


@router.get("/dashboard/{name}")
async def asset(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)
