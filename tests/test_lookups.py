"""graph/lookups.py in-process: snapshot rows to graph objects, a batch at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from graph.lookups import (
    lookup_features,
    lookup_matches,
    lookup_odds,
    lookup_predictions,
    lookup_roi,
    matches_at,
    regions,
)
from graph.matches import Outcome
from graph.relay import decode_cursor
from graph.settings import Settings
from graph.sources.snapshots import SnapshotSet
from tests import snapshot_data
from tests.snapshot_data import ORDER, T0

TEMPLATE = "https://example.test/{sport_id}/{event_id}"


@pytest.fixture
async def data(small_data: SnapshotSet) -> SnapshotSet:
    return small_data


def test_matches_at_builds_a_page_sharing_one_page_keys(data: SnapshotSet) -> None:
    positions = np.arange(len(ORDER))
    matches, cursors = matches_at(data, positions)
    assert [m.match_id for m in matches] == ORDER
    page = matches[0].page
    assert page is not None and list(page.keys) == ORDER
    assert all(m.page is page for m in matches)
    # Cursors are (start ns, id) keys: the three matches at T0 differ by id alone.
    keys = [decode_cursor(c) for c in cursors]
    assert keys == sorted(keys)
    assert [k[0] for k in keys[1:4]] == [T0.value] * 3
    assert [k[1] for k in keys[1:4]] == [10, 15, 20]
    # Regions of one page are shared objects, one per name; a match without one has None.
    by_id = {m.match_id: m for m in matches}
    assert by_id[10].region is by_id[20].region
    assert by_id[10].region is not None and by_id[10].region.name == "England"
    assert by_id[15].region is None


def test_matches_at_maps_display_columns(data: SnapshotSet) -> None:
    (match,), _ = matches_at(data, np.array([1]))
    assert (match.match_id, match.home_team_name, match.away_team_name) == (
        10,
        "Arsenal",
        "Chelsea",
    )
    assert match.start_time_utc == "2026-03-01T12:00:00+00:00"
    assert (match.home_score, match.away_score, match.outcome) == (2, 1, Outcome.HOME)
    assert (match.women, match.is_future, match.tournament_name) == (False, False, "Cup")


def test_an_empty_page_has_no_matches_and_no_cursors(data: SnapshotSet) -> None:
    assert matches_at(data, np.array([], dtype=np.intp)) == ([], [])


def test_lookup_matches_keeps_key_order_and_falls_back_to_orphan_predictions(
    data: SnapshotSet,
) -> None:
    found = lookup_matches(data, [40, 99, 12345, 10, 98, 40])
    assert [m.match_id if m else None for m in found] == [40, 99, None, 10, 98, 40]
    orphan, nameless = found[1], found[4]
    assert orphan is not None and nameless is not None
    assert (orphan.home_team_name, orphan.away_team_name) == ("Orphan FC", "Nobody")
    assert orphan.start_time_utc == "2026-03-03T12:00:00+00:00"
    assert orphan.is_future is True
    # An orphan knows no catalogue fields, and belongs to no page (it was not primed).
    assert (orphan.region, orphan.tournament_name, orphan.outcome, orphan.page) == (
        None,
        None,
        None,
        None,
    )
    assert (nameless.home_team_name, nameless.away_team_name) == ("", "")
    assert nameless.start_time_utc is None


def test_a_prediction_row_without_a_class_is_no_match_and_no_prediction(
    data: SnapshotSet,
) -> None:
    # 20 is in the catalogue: a match, but its prediction row had no class.
    assert lookup_predictions(data, [20]) == [None]
    assert sorted(data.orphan_ids.tolist()) == snapshot_data.ORPHANS


def test_lookup_predictions(data: SnapshotSet) -> None:
    home, missing, away = lookup_predictions(data, [10, 15, 30])
    assert missing is None
    assert home is not None and away is not None
    assert (home.proba_home, home.proba_draw, home.proba_away) == (0.5, 0.3, 0.2)
    assert (home.predicted_class, home.predicted_outcome) == (0, Outcome.HOME)
    assert (away.predicted_class, away.predicted_outcome) == (2, Outcome.AWAY)
    assert (home.model_run_id, home.model_stage) == ("run-a", "champion")
    modified = data.modified_at("predictions")
    assert modified is not None and home.computed_at == modified.isoformat()


def test_lookup_predictions_for_orphans(data: SnapshotSet) -> None:
    (orphan,) = lookup_predictions(data, [99])
    assert orphan is not None and orphan.predicted_outcome is Outcome.HOME


def test_lookup_features_drops_nan_values(data: SnapshotSet) -> None:
    by_id = dict(
        zip([30, 10, 20, 99, 777], lookup_features(data, [30, 10, 20, 99, 777]), strict=True)
    )
    assert [(f.name, f.value) for f in by_id[30]] == [("diff_a", 0.5), ("diff_b", -0.5)]
    assert [(f.name, f.value) for f in by_id[10]] == [("diff_a", 1.0)]
    assert by_id[20] == []  # every feature NaN
    assert by_id[99] == []  # an orphan has no feature row
    assert by_id[777] == []  # unknown


async def test_lookups_before_any_file_exists(tmp_path: Path) -> None:
    _, data = await snapshot_data.load(tmp_path)
    settings = Settings(fonbet_url_template=TEMPLATE)
    assert lookup_features(data, [1, 2]) == [[], []]
    assert lookup_matches(data, [1]) == [None]
    assert lookup_predictions(data, [1]) == [None]
    assert lookup_odds(data, [1], settings) == [None]
    assert lookup_roi(data, ["england"]) == [None]
    assert regions(data) == []


def test_lookup_odds_missing_partial_and_fonbet_links(data: SnapshotSet) -> None:
    settings = Settings(fonbet_url_template=TEMPLATE)
    linked, unlinked, no_draw, missing = lookup_odds(data, [10, 30, 40, 15], settings)
    assert missing is None
    assert linked is not None and unlinked is not None and no_draw is not None
    assert (linked.home, linked.draw, linked.away) == (1.9, 3.2, 4.1)
    assert (linked.fonbet_event_id, linked.fonbet_sport_id) == (123, 7)
    assert linked.fonbet_url == "https://example.test/7/123"
    assert (unlinked.fonbet_event_id, unlinked.fonbet_sport_id, unlinked.fonbet_url) == (
        None,
        None,
        None,
    )
    assert (no_draw.home, no_draw.draw, no_draw.away) == (1.5, None, 6.0)
    assert (no_draw.fonbet_event_id, no_draw.fonbet_url) == (456, None)  # no sport id: no link


def test_lookup_roi_by_case_folded_region(data: SnapshotSet) -> None:
    england, spain, portugal = lookup_roi(data, ["england", "spain", "portugal"])
    assert portugal is None
    assert england is not None and spain is not None
    assert (england.bets, england.roi, england.profit, england.won) == (10, 0.1, 1.0, None)
    assert (spain.bets, spain.roi) == (4, -0.25)


def test_regions_join_the_catalog_and_the_roi_file(data: SnapshotSet) -> None:
    found = regions(data)
    assert [r.name for r in found] == ["England", "Portugal", "Spain"]
    page = found[0].page
    assert page is not None and list(page.keys) == ["england", "portugal", "spain"]
