"""``GET /playground`` and its two assets. The files hold no data, so these paths are public (a browser opens the
page before it has a key); every call the page makes goes through the API with the key typed into it."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.errors import APIError

PLAYGROUND_DIR = Path(__file__).parent
PLAYGROUND_ASSETS = {"app.js": "text/javascript", "style.css": "text/css"}
PLAYGROUND_PATHS = {"/playground"} | {f"/playground/{a}" for a in PLAYGROUND_ASSETS}

router = APIRouter(include_in_schema=False)


@router.get("/playground")
async def playground() -> FileResponse:
    return FileResponse(PLAYGROUND_DIR / "index.html", media_type="text/html")


@router.get("/playground/{asset}")
async def playground_asset(asset: str) -> FileResponse:
    if asset not in PLAYGROUND_ASSETS:
        raise APIError(f"no playground asset '{asset[:64]}'", status=404, code="not_found", type_="not_found_error")
    return FileResponse(PLAYGROUND_DIR / asset, media_type=PLAYGROUND_ASSETS[asset])
