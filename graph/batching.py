"""The loaders of one operation: one per source, each batching its field kind."""

from __future__ import annotations

from collections import Counter
from functools import partial

from graph.context import Info
from graph.livescores import LiveScore, load_live_scores
from graph.loaders import BatchLoader, SnapshotLoader
from graph.lookups import (
    lookup_features,
    lookup_matches,
    lookup_odds,
    lookup_predictions,
    lookup_roi,
)
from graph.matches import Feature, Match, MatchConnection, Odds, Prediction
from graph.paging import MatchQuery, match_connection
from graph.regions import RegionRoi
from graph.settings import Settings
from graph.sources.livescores import LiveScoreRepository
from graph.sources.snapshots import SnapshotSet


class Loaders:
    """Built per operation over its pinned snapshot set; never shared."""

    def __init__(
        self,
        data: SnapshotSet,
        settings: Settings,
        livescores: LiveScoreRepository | None = None,
    ) -> None:
        self.batches: Counter[str] = Counter()
        self.match: SnapshotLoader[int, Match | None] = SnapshotLoader(
            "match", partial(lookup_matches, data), self.batches
        )
        self.prediction: SnapshotLoader[int, Prediction | None] = SnapshotLoader(
            "prediction", partial(lookup_predictions, data), self.batches
        )
        self.odds: SnapshotLoader[int, Odds | None] = SnapshotLoader(
            "odds", partial(lookup_odds, data, settings=settings), self.batches
        )
        self.features: SnapshotLoader[int, list[Feature]] = SnapshotLoader(
            "features", partial(lookup_features, data), self.batches
        )
        self.roi: SnapshotLoader[str, RegionRoi | None] = SnapshotLoader(
            "roi", partial(lookup_roi, data), self.batches
        )
        # Root fields of the operation the planner answered or handed back, by response
        # key: "planned", or why not (graph/planner; the debug extension and a metric).
        self.plans: dict[str, str] = {}
        # `features(names:)` arguments already checked in this operation (graph/matches.py).
        self.feature_picks: dict[tuple[str, ...], frozenset[str]] = {}
        # The database, not a snapshot: one query per batch (a page primes one batch).
        self.live_score: BatchLoader[int, LiveScore | None] = BatchLoader(
            "live_score", partial(load_live_scores, livescores), self.batches
        )

    def match_connection(
        self, info: Info, *, first: int | None, after: str | None, region: str
    ) -> MatchConnection:
        """A region's `matches` connection: see `Region.matches`."""
        return match_connection(info, MatchQuery(first=first, after=after, region=region))
