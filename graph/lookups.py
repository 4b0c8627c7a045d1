"""Vectorised lookups that turn snapshot rows into graph objects, a batch at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graph.loaders import PageKeys
from graph.matches import OUTCOMES, Feature, Match, Odds, Prediction, outcome_of
from graph.regions import Region, RegionRoi
from graph.relay import encode_cursor
from graph.settings import Settings
from graph.sources.catalog import DISPLAY_COLUMNS
from graph.sources.snapshots import SnapshotSet
from graph.sources.tables import ODDS_FILE_COLUMNS, ORPHAN_COLUMNS, PREDICTIONS

PREDICTION_FIELDS = (
    "proba_home",
    "proba_draw",
    "proba_away",
    "predicted_class",
    "model_run_id",
    "model_stage",
)


def matches_at(
    data: SnapshotSet, positions: np.ndarray, page: PageKeys | None = None
) -> tuple[list[Match], list[str]]:
    """Match objects for catalogue positions, sharing one PageKeys, and their cursors.

    `page`: the PageKeys to share instead (the whole page, when these are part of it).
    """
    catalog = data.catalog
    ids = catalog.ids[positions].tolist()
    cols = [catalog.columns[name].take(positions).tolist() for name in DISPLAY_COLUMNS]
    page = PageKeys(ids) if page is None else page
    regions = _region_objects(cols[4])
    matches = [
        Match(
            match_id=match_id,
            start_time_utc=start,
            home_team_name=home,
            away_team_name=away,
            tournament_name=tournament,
            region=regions[region] if region is not None else None,
            women=women,
            is_future=future,
            home_score=home_score,
            away_score=away_score,
            outcome=outcome_of(outcome),
            page=page,
        )
        for match_id, (start, home, away, tournament, region, women, future,
                       home_score, away_score, outcome) in zip(ids, zip(*cols, strict=True),
                                                               strict=True)
    ]  # fmt: skip
    starts = catalog.start_ns[positions].tolist()
    cursors = [encode_cursor(s, m) for s, m in zip(starts, ids, strict=True)]
    return matches, cursors


def lookup_matches(data: SnapshotSet, ids: Sequence[int]) -> list[Match | None]:
    """Catalogue matches by id, falling back to orphan prediction rows."""
    positions = data.catalog.positions(ids)
    found = positions >= 0
    built, _ = matches_at(data, positions[found])
    by_id: dict[int, Match] = {m.match_id: m for m in built}
    missing = [i for i, hit in zip(ids, found.tolist(), strict=True) if not hit]
    if missing:
        by_id.update(_orphans(data, missing))
    return [by_id.get(i) for i in ids]


def _orphans(data: SnapshotSet, ids: Sequence[int]) -> dict[int, Match]:
    taken = data.predictions.take(ids, ORPHAN_COLUMNS)
    out: dict[int, Match] = {}
    rows = zip(ids, taken.found, *(taken.columns[c] for c in ORPHAN_COLUMNS), strict=True)
    for match_id, hit, start, home, away, future in rows:
        if hit:
            out[match_id] = Match(
                match_id=match_id,
                start_time_utc=start,
                home_team_name=home or "",
                away_team_name=away or "",
                tournament_name=None,
                region=None,
                women=False,
                is_future=bool(future),
                home_score=None,
                away_score=None,
                outcome=None,
            )
    return out


def _region_objects(names: Sequence[str | None]) -> dict[str, Region]:
    unique = sorted({n for n in names if n is not None})
    page = PageKeys([n.casefold() for n in unique])
    return {name: Region(name=name, page=page) for name in unique}


def listed_region_names(data: SnapshotSet) -> list[str]:
    """The names `Query.regions` lists, in its order."""
    return sorted(set(data.region_names))


def regions(data: SnapshotSet) -> list[Region]:
    return list(_region_objects(listed_region_names(data)).values())


def region_page(names: Sequence[str]) -> PageKeys:
    """The PageKeys that Region objects of `names` share (their ROI keys)."""
    return PageKeys([n.casefold() for n in dict.fromkeys(names)])


def regions_named(names: Sequence[str], page: PageKeys | None = None) -> list[Region]:
    """Region objects for `names` (repeats allowed), sharing one PageKeys."""
    page = region_page(names) if page is None else page
    return [Region(name=name, page=page) for name in names]


def lookup_predictions(data: SnapshotSet, ids: Sequence[int]) -> list[Prediction | None]:
    taken = data.predictions.take(ids, PREDICTION_FIELDS)
    modified = data.modified_at(PREDICTIONS.name)
    computed_at = modified.isoformat() if modified else None
    columns = (taken.columns[name] for name in PREDICTION_FIELDS)
    return [
        Prediction(
            proba_home=home,
            proba_draw=draw,
            proba_away=away,
            predicted_class=cls,
            predicted_outcome=OUTCOMES[cls],
            model_run_id=run_id,
            model_stage=stage,
            computed_at=computed_at,  # type: ignore[arg-type]
        )
        if hit
        else None
        for hit, home, draw, away, cls, run_id, stage in zip(taken.found, *columns, strict=True)
    ]


def lookup_odds(data: SnapshotSet, ids: Sequence[int], settings: Settings) -> list[Odds | None]:
    names = ODDS_FILE_COLUMNS
    taken = data.odds.take(ids, names)
    template = settings.fonbet_url_template
    columns = (taken.columns[name] for name in names)
    return [
        Odds(
            home=home,
            draw=draw,
            away=away,
            fonbet_event_id=event,
            fonbet_sport_id=sport,
            fonbet_url=(
                template.format(sport_id=sport, event_id=event)
                if event is not None and sport is not None
                else None
            ),
        )
        if hit
        else None
        for hit, home, draw, away, event, sport in zip(taken.found, *columns, strict=True)
    ]


def lookup_features(data: SnapshotSet, ids: Sequence[int]) -> list[list[Feature]]:
    catalog = data.catalog
    if len(catalog) == 0:
        return [[] for _ in ids]
    positions = catalog.positions(ids)
    names = catalog.feature_names
    rows = catalog.features[np.where(positions >= 0, positions, 0)]
    out: list[list[Feature]] = []
    for pos, row in zip(positions.tolist(), rows.tolist(), strict=True):
        if pos < 0:
            out.append([])
            continue
        out.append([Feature(name=n, value=v) for n, v in zip(names, row, strict=True) if v == v])
    return out


def lookup_roi(data: SnapshotSet, keys: Sequence[str]) -> list[RegionRoi | None]:
    taken = data.roi.take(keys, ("n_bets", "roi", "profit", "n_won"))
    cols = taken.columns
    return [
        RegionRoi(bets=bets or 0, roi=roi, profit=profit, won=won) if hit else None
        for hit, bets, roi, profit, won in zip(
            taken.found, cols["n_bets"], cols["roi"], cols["profit"], cols["n_won"], strict=True
        )
    ]
