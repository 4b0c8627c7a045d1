"""batches: DataLoader batch calls per request as the page grows (must stay constant).

Counts, not times: `extensions.loaderBatches` of our API for pages of 10 to
5000 matches with every loader-backed field (prediction, odds, region ROI,
features), asked for with `X-Matchgraph-Debug: 1` (such a request is never
answered from the response cache, so it really executes).
"""

from __future__ import annotations

from typing import Any

from bench.client import DEBUG_HEADERS, check_graphql, fresh_nonce, post_graphql
from bench.data import DataFacts
from bench.queries import BATCHES
from bench.systems import Server

PAGE_SIZES = (10, 100, 1000, 5000)


def run(servers: dict[str, Server], facts: DataFacts) -> dict[str, Any]:
    sizes = sorted({min(size, facts.catalogue) for size in PAGE_SIZES})
    counts: dict[str, dict[str, int]] = {}
    for size in sizes:
        response = post_graphql(
            servers["ours"], BATCHES, size, nonce=fresh_nonce(), headers=DEBUG_HEADERS
        )
        body = check_graphql(response, f"batches first={size}", edges=size)
        counts[str(size)] = dict(sorted(body["extensions"]["loaderBatches"].items()))
    distinct = {tuple(c.items()) for c in counts.values()}
    return {
        "page_sizes": sizes,
        "loader_batches": counts,
        "constant": len(distinct) == 1,
        "max_batches_per_loader": max((v for c in counts.values() for v in c.values()), default=0),
    }
