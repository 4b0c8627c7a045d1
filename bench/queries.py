"""The GraphQL documents and REST paths every system is asked for."""

from __future__ import annotations

CARD_FIELDS = (
    "matchId startTimeUtc homeTeamName awayTeamName "
    "prediction { probaHome probaDraw probaAway predictedClass predictedOutcome } "
    "odds { home draw away }"
)


def _matches(name: str, fields: str) -> str:
    return (
        f"query {name}($first: Int!) "
        + "{ matches(first: $first) { edges { node { "
        + fields
        + " } } } }"
    )


# 4 match fields + prediction 5 + odds 3: the old REST `/cards` in GraphQL.
CARDS = _matches("Cards", CARD_FIELDS)
# The first page a UI shows: cards plus the region's ROI.
PAGE = _matches("Page", CARD_FIELDS + " region { name roi { roi } }")
# Every loader-backed field, for counting batches.
BATCHES = _matches(
    "Batches", CARD_FIELDS + " region { name roi { roi bets } } features { name value }"
)

PAGE_SIZE = 50
CARDS_SIZE = 5000


def graphql_payload(query: str, first: int, nonce: str | None = None) -> dict[str, object]:
    """A POST /graphql body; `nonce` is an extra variable no operation declares.

    GraphQL ignores variables an operation does not declare, but our response
    cache keys on them: a fresh nonce is a cache miss on an identical page.
    """
    variables: dict[str, object] = {"first": first}
    if nonce is not None:
        variables["nonce"] = nonce
    return {"query": query, "variables": variables}


def rest_cards_path(limit: int) -> str:
    return f"/cards?limit={limit}"


# The head-of-line prober's tiny query: one match by id, one field. Its cost does not
# grow with the catalogue or the page, and it is not a response-cache hit (see
# `probe_payload`); it goes through the same schema and loaders as the big pages.
PROBE = "query Probe($id: Int!) { match(matchId: $id) { matchId } }"


def probe_payload(match_id: int, nonce: str) -> dict[str, object]:
    return {"query": PROBE, "variables": {"id": match_id, "nonce": nonce}}
