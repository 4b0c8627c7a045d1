"""GraphiQL served by the service itself: strawberry's page, vendored assets.

Strawberry's ``graphiql.html`` loads React, GraphiQL and the explorer plugin
from a public CDN, so the IDE stays blank with no internet or under a strict
Content-Security-Policy. The same files live under ``api/static/graphiql/``
at their CDN paths (``<package>@<version>/<file>``, see its README.md); the
page is strawberry's own with each CDN URL pointed there and the SRI and
``crossorigin`` attributes dropped, and its welcome text replaced by
STARTER_QUERY (the README's first query, and where the API key goes); nothing
else changed. The CSP hashes the inline script as served.
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
_LOCAL_URL = re.compile(r'\b(?:src|href)="' + re.escape(GRAPHIQL_STATIC_PATH) + r'/([^"]+)"')
# The editor's initial text in strawberry's inline script: a JavaScript template literal.
_EXAMPLE_QUERY = re.compile(r"(const EXAMPLE_QUERY = `)(.*?)(`;)", re.DOTALL)

# What the editor opens on (unless the URL carries `?q=`): the README's first query. It goes
# into a JavaScript template literal verbatim: no backquote, "${", backslash or "</".
STARTER_QUERY = """\
# matchgraph: the next upcoming matches with their prediction, odds,
# features and the ROI of their region, in one request.
# Run it with Ctrl-Enter (or the run button); Ctrl-Space completes fields.
#
# API key: when the service asks for one (401 UNAUTHENTICATED), open the
# Headers pane below the editor and put
#   {"X-API-Key": "..."}
# GraphiQL sends it with every request, subscriptions over WebSocket too.
#
# Next page: add after: "<endCursor>" next to first: 5.
# More examples in the README; the schema in the Docs and Explorer panes.

{
  matches(first: 5, futureOnly: true) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        matchId startTimeUtc homeTeamName awayTeamName tournamentName
        region { name roi { bets roi } }
        prediction { probaHome probaDraw probaAway predictedOutcome modelRunId computedAt }
        odds { home draw away fonbetUrl }
        features(names: ["diff_goals_scored_w5"]) { name value }
      }
    }
  }
}
"""


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


def with_starter_query(html: str) -> str:
    """``html`` (strawberry's page) opening on STARTER_QUERY instead of its welcome text.

    Raises RuntimeError when the page no longer has its ``EXAMPLE_QUERY``
    literal (a strawberry upgrade changed it: adapt this function).
    """
    page, count = _EXAMPLE_QUERY.subn(lambda m: m[1] + STARTER_QUERY + m[3], html, count=1)
    if count != 1:
        raise RuntimeError("strawberry's GraphiQL page has no EXAMPLE_QUERY to replace")
    return page


def _page(upstream: str) -> str:
    return _ASSET_TAG.sub(_localise, with_starter_query(upstream))


@functools.cache
def graphiql_html() -> str:
    """Strawberry's page with every CDN asset served from GRAPHIQL_STATIC_PATH, opening
    on STARTER_QUERY.

    Raises RuntimeError when an asset the page needs is not vendored (a
    strawberry upgrade that moved to new versions: run refresh.sh).
    """
    html = _page(upstream_html())
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


# Hashes the inline script as served (with STARTER_QUERY); assets need not be present.
GRAPHIQL_CSP: str = _graphiql_csp(_page(upstream_html()))


def graphiql_response() -> HTMLResponse:
    """The page with GRAPHIQL_CSP, for a GraphQL view's ``render_graphql_ide``."""
    return HTMLResponse(graphiql_html(), headers={"Content-Security-Policy": GRAPHIQL_CSP})
