"""GraphiQL served by the service itself: strawberry's page, vendored assets.

Strawberry's ``graphiql.html`` loads React, GraphiQL and the explorer plugin
from a public CDN, so the IDE stays blank with no internet or under a strict
Content-Security-Policy. The same files live under ``api/static/graphiql/``
at their CDN paths (``<package>@<version>/<file>``, see its README.md); the
page is strawberry's own with each CDN URL pointed there and the SRI and
``crossorigin`` attributes dropped, nothing else changed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

GRAPHIQL_STATIC_PATH = "/graphiql-static"
GRAPHIQL_STATIC_DIR = Path(__file__).parent / "static" / "graphiql"

# An opening <script>/<link> tag; quoted values may hold ">" (the favicon's
# inline SVG does).
_ASSET_TAG = re.compile(r"""<(?:script|link)\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
_CDN_URL = re.compile(r'\b(src|href)="https?://[^/"]+/([^"]+)"')
_SRI_ATTRS = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin(?:="[^"]*")?)(?=[\s/>])')
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_LOCAL_URL = re.compile(r'\b(?:src|href)="' + re.escape(GRAPHIQL_STATIC_PATH) + r'/([^"]+)"')


def upstream_html() -> str:
    """Strawberry's GraphiQL page exactly as the installed package ships it."""
    return files("strawberry").joinpath("static/graphiql.html").read_text(encoding="utf-8")


def cdn_assets(html: str) -> list[str]:
    """``<package>@<version>/<path>`` of every CDN script and stylesheet in ``html``."""
    return [m[2] for tag in _ASSET_TAG.findall(html) for m in _CDN_URL.finditer(tag)]


def local_assets(html: str) -> list[str]:
    """Paths below GRAPHIQL_STATIC_PATH that ``html`` references."""
    return _LOCAL_URL.findall(html)


def _localise(tag: re.Match[str]) -> str:
    without_sri = _SRI_ATTRS.sub("", tag[0])
    return _CDN_URL.sub(lambda m: f'{m[1]}="{GRAPHIQL_STATIC_PATH}/{m[2]}"', without_sri)


@functools.cache
def graphiql_html() -> str:
    """Strawberry's page with every CDN asset served from GRAPHIQL_STATIC_PATH.

    Raises RuntimeError when an asset the page needs is not vendored (a
    strawberry upgrade that moved to new versions: run refresh.sh).
    """
    html = _ASSET_TAG.sub(_localise, upstream_html())
    missing = [a for a in local_assets(html) if not (GRAPHIQL_STATIC_DIR / a).is_file()]
    if missing:
        raise RuntimeError(
            f"GraphiQL assets not vendored: {', '.join(missing)}; "
            "run api/static/graphiql/refresh.sh"
        )
    return html


def graphiql_static_app() -> StaticFiles:
    """The vendored assets, for ``Mount(GRAPHIQL_STATIC_PATH, app=...)``."""
    return StaticFiles(directory=GRAPHIQL_STATIC_DIR)


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions allowing each inline ``<script>`` of ``html``."""
    return [_csp_hash(body) for body in _INLINE_SCRIPT.findall(html)]


def _graphiql_csp(html: str) -> str:
    scripts = " ".join(["'self'", *inline_script_hashes(html)])
    # The page's own <style> block is hashed like the script, but GraphiQL's
    # dialogs (Radix UI's scroll lock) insert <style> elements at run time,
    # which only 'unsafe-inline' allows; a CSS injection can restyle the IDE,
    # not run code. Fonts and the favicon are data: URLs.
    directives = {
        "default-src": "'self'",
        "script-src": scripts,
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


GRAPHIQL_CSP: str = _graphiql_csp(upstream_html())


def graphiql_response() -> HTMLResponse:
    """The page with GRAPHIQL_CSP, for a GraphQL view's ``render_graphql_ide``."""
    return HTMLResponse(graphiql_html(), headers={"Content-Security-Policy": GRAPHIQL_CSP})
