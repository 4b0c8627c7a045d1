"""The loaders of one operation: one per source, each batching its field kind."""

from __future__ import annotations

from collections import Counter
from functools import partial

from graph.loaders import SnapshotLoader
from graph.lookups import (
    lookup_features,
    lookup_matches,
    lookup_odds,
    lookup_predictions,
    lookup_roi,
)
from graph.matches import Feature, Match, Odds, Prediction
from graph.regions import RegionRoi
from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet


class Loaders:
    """Built per operation over its pinned snapshot set; never shared."""

    def __init__(self, data: SnapshotSet, settings: Settings) -> None:
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
