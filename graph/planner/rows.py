"""Row sets: the planned fields of each table-backed type, a whole page at a time.

A row set holds the rows of one GraphQL type that a plan is completing (catalogue
positions, looked-up columns, ...). Each planned field of the type is a method
of the same Python name (graph/planner/binding.py) that returns its values for
every row at once, computed the way the type's resolvers compute them one
object at a time (graph/lookups.py, graph/paging.py), from the same pinned
snapshot set. Row sets of Match and Region also build the Python objects the
resolvers use (`sources`), for fields that are not planned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from graph.analytics.table import values_at
from graph.context import Context
from graph.errors import bad_input
from graph.loaders import PageKeys
from graph.lookups import (
    PREDICTION_FIELDS,
    listed_region_names,
    matches_at,
    region_page,
    regions_named,
)
from graph.matches import OUTCOMES, wanted_features
from graph.paging import MatchQuery, match_page
from graph.queries import INT32_MAX, MATCH_KEY
from graph.relay import decode_global_id, encode_cursor, encode_global_id
from graph.sources.catalog import Page
from graph.sources.tables import ODDS_FILE_COLUMNS, PREDICTIONS

Args = dict[str, Any]
Indices = np.ndarray | None  # parent rows that have a child (None: all, one to one)
OUTCOME_NAMES = tuple(o.value if o is not None else None for o in OUTCOMES)


class NotPlanned(Exception):
    """This root field is handed back to graphql-core; `reason` labels the metric."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RowSet:
    """Rows of one type; subclasses add one method per planned field."""

    type_name: ClassVar[str]
    # `sources` builds the resolvers' objects: unplanned fields can be delegated.
    has_sources: ClassVar[bool] = False

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __len__(self) -> int:
        raise NotImplementedError

    def take(self, indices: np.ndarray) -> RowSet:
        """The rows at `indices`, in that order."""
        raise NotImplementedError

    def sources(self) -> list[Any]:
        """The Python objects the type's resolvers take (types with unplanned fields)."""
        raise NotPlanned("unplanned-field")


class SharedPage:
    """The PageKeys of a whole list, shared by the chunks its rows are completed in.

    Delegated fields prime their loaders with the keys of the objects' PageKeys:
    chunks sharing the whole list's keys make one batch for the list, even when
    the event loop runs between two chunks.
    """

    __slots__ = ("_keys", "_page")

    def __init__(self, keys: Callable[[], PageKeys]) -> None:
        self._keys = keys
        self._page: PageKeys | None = None

    @property
    def page(self) -> PageKeys:
        if self._page is None:
            self._page = self._keys()
        return self._page


def _outcome_names(values: list[Any]) -> list[str | None]:
    return [OUTCOME_NAMES[v] if v is not None and 0 <= v <= 2 else None for v in values]


def catalog_column(name: str) -> Callable[[MatchRows, Args], list[Any]]:
    """A planned field of Match that serves one catalogue column as it is."""

    def values(self: MatchRows, args: Args) -> list[Any]:
        return self._column(name)

    values.__name__ = name
    return values


class MatchRows(RowSet):
    """Catalogue rows (positions into the sorted match catalogue)."""

    type_name = "Match"
    has_sources = True

    def __init__(
        self, ctx: Context, positions: np.ndarray, shared: SharedPage | None = None
    ) -> None:
        super().__init__(ctx)
        self.positions = positions
        self.shared = shared or _match_page(ctx, positions)
        self._ids: list[int] | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def take(self, indices: np.ndarray) -> MatchRows:
        return MatchRows(self.ctx, self.positions[indices], self.shared)

    def sources(self) -> list[Any]:
        return list(matches_at(self.ctx.data, self.positions, self.shared.page)[0])

    @property
    def ids(self) -> list[int]:
        if self._ids is None:
            self._ids = self.ctx.data.catalog.ids[self.positions].tolist()
        return self._ids

    def _column(self, name: str) -> list[Any]:
        values: list[Any] = self.ctx.data.catalog.columns[name].take(self.positions).tolist()
        return values

    def match_id(self, args: Args) -> list[int]:
        return self.ids

    def id(self, args: Args) -> list[str]:
        return [encode_global_id("Match", str(i)) for i in self.ids]

    start_time_utc = catalog_column("start_iso")
    home_team_name = catalog_column("homeTeamName")
    away_team_name = catalog_column("awayTeamName")
    tournament_name = catalog_column("tournamentName")
    women = catalog_column("women")
    is_future = catalog_column("is_future")
    home_score = catalog_column("homeScore")
    away_score = catalog_column("awayScore")

    def outcome(self, args: Args) -> list[Any]:
        return _outcome_names(self._column("outcome"))

    def region(self, args: Args) -> tuple[RegionRows, Indices]:
        names = self._column("region")
        have = np.flatnonzero(np.array([n is not None for n in names], dtype=bool))
        return RegionRows(self.ctx, [names[i] for i in have.tolist()]), have

    def prediction(self, args: Args) -> tuple[PredictionRows, Indices]:
        taken = self.ctx.data.predictions.take(self.ids, PREDICTION_FIELDS)
        have = np.flatnonzero(np.array(taken.found, dtype=bool))
        return PredictionRows(self.ctx, _pick(taken.columns, have)), have

    def odds(self, args: Args) -> tuple[OddsRows, Indices]:
        taken = self.ctx.data.odds.take(self.ids, ODDS_FILE_COLUMNS)
        have = np.flatnonzero(np.array(taken.found, dtype=bool))
        return OddsRows(self.ctx, _pick(taken.columns, have)), have

    def value(self, args: Args) -> tuple[ValueRows, Indices]:
        """graph/analytics/value.py over these rows, as `match_value` computes it per match."""
        value = values_at(self.ctx.data, self.positions)
        have = np.flatnonzero(value.ok)
        edges = value.edges[have]
        columns = {
            "home": edges[:, 0].tolist(),
            "draw": edges[:, 1].tolist(),
            "away": edges[:, 2].tolist(),
            "best": [OUTCOME_NAMES[b] for b in value.best[have].tolist()],
            "best_edge": value.best_edge[have].tolist(),
            "kelly": value.kelly[have].tolist(),
        }
        return ValueRows(self.ctx, columns), have

    def features(self, args: Args) -> tuple[FeatureRows, list[int]]:
        names = args.get("names")
        wanted = None if names is None else wanted_features(self.ctx, names)
        catalog = self.ctx.data.catalog
        n = len(self.positions)
        if len(catalog) == 0 or not catalog.feature_names or n == 0:
            return FeatureRows(self.ctx, [], []), [0] * (n + 1)
        values = catalog.features[self.positions]
        keep = ~np.isnan(values)
        if wanted is not None:
            keep &= np.array([name in wanted for name in catalog.feature_names], dtype=bool)
        rows, cols = np.nonzero(keep)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
        feature_names = np.array(catalog.feature_names, dtype=object)
        return (
            FeatureRows(self.ctx, feature_names[cols].tolist(), values[rows, cols].tolist()),
            offsets.tolist(),
        )


def _pick(columns: dict[str, list[Any]], indices: np.ndarray) -> dict[str, list[Any]]:
    idx = indices.tolist()
    return {name: [values[i] for i in idx] for name, values in columns.items()}


def _match_page(ctx: Context, positions: np.ndarray) -> SharedPage:
    return SharedPage(lambda: PageKeys(ctx.data.catalog.ids[positions].tolist()))


def column(name: str) -> Callable[[ColumnRows, Args], list[Any]]:
    """A planned field that serves one gathered column as it is."""

    def values(self: ColumnRows, args: Args) -> list[Any]:
        return self.columns[name]

    values.__name__ = name
    return values


class ColumnRows(RowSet):
    """Rows already gathered into Python columns (one list per column)."""

    def __init__(self, ctx: Context, columns: dict[str, list[Any]]) -> None:
        super().__init__(ctx)
        self.columns = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))

    def take(self, indices: np.ndarray) -> ColumnRows:
        return type(self)(self.ctx, _pick(self.columns, indices))


class PredictionRows(ColumnRows):
    type_name = "Prediction"

    proba_home = column("proba_home")
    proba_draw = column("proba_draw")
    proba_away = column("proba_away")
    predicted_class = column("predicted_class")
    model_run_id = column("model_run_id")
    model_stage = column("model_stage")

    def predicted_outcome(self, args: Args) -> list[Any]:
        return [OUTCOME_NAMES[c] for c in self.columns["predicted_class"]]

    def computed_at(self, args: Args) -> list[Any]:
        modified = self.ctx.data.modified_at(PREDICTIONS.name)
        return [modified.isoformat() if modified else None] * len(self)


class OddsRows(ColumnRows):
    type_name = "Odds"

    home = column("odd_home")
    draw = column("odd_draw")
    away = column("odd_away")
    fonbet_event_id = column("fonbet_event_id")
    fonbet_sport_id = column("fonbet_sport_id")

    def fonbet_url(self, args: Args) -> list[Any]:
        template = self.ctx.settings.fonbet_url_template
        return [
            template.format(sport_id=sport, event_id=event)
            if event is not None and sport is not None
            else None
            for event, sport in zip(
                self.columns["fonbet_event_id"], self.columns["fonbet_sport_id"], strict=True
            )
        ]


class ValueRows(ColumnRows):
    type_name = "MatchValue"

    home = column("home")
    draw = column("draw")
    away = column("away")
    best = column("best")
    best_edge = column("best_edge")
    kelly = column("kelly")


class FeatureRows(RowSet):
    type_name = "Feature"

    def __init__(self, ctx: Context, names: list[str], values: list[float]) -> None:
        super().__init__(ctx)
        self.names = names
        self.values = values

    def __len__(self) -> int:
        return len(self.names)

    def take(self, indices: np.ndarray) -> FeatureRows:
        idx = indices.tolist()
        return FeatureRows(self.ctx, [self.names[i] for i in idx], [self.values[i] for i in idx])

    def name(self, args: Args) -> list[str]:
        return self.names

    def value(self, args: Args) -> list[float]:
        return self.values


class RegionRows(RowSet):
    """Regions by display name (the catalogue's spelling, or the ROI file's)."""

    type_name = "Region"
    has_sources = True

    def __init__(self, ctx: Context, names: list[str], shared: SharedPage | None = None) -> None:
        super().__init__(ctx)
        self.names = names
        self.shared = shared or SharedPage(lambda: region_page(names))

    def __len__(self) -> int:
        return len(self.names)

    def take(self, indices: np.ndarray) -> RegionRows:
        return RegionRows(self.ctx, [self.names[i] for i in indices.tolist()], self.shared)

    def sources(self) -> list[Any]:
        return list(regions_named(self.names, self.shared.page))

    def name(self, args: Args) -> list[str]:
        return self.names

    def id(self, args: Args) -> list[str]:
        return [encode_global_id("Region", n) for n in self.names]

    def roi(self, args: Args) -> tuple[RoiRows, Indices]:
        keys = [n.casefold() for n in self.names]
        taken = self.ctx.data.roi.take(keys, ("n_bets", "roi", "profit", "n_won"))
        have = np.flatnonzero(np.array(taken.found, dtype=bool))
        return RoiRows(self.ctx, _pick(taken.columns, have)), have

    def matches(self, args: Args) -> tuple[ConnectionRows, Indices]:
        pages: dict[str, Page] = {}
        for name in self.names:
            if name not in pages:
                query = MatchQuery(first=args.get("first"), after=args.get("after"), region=name)
                pages[name] = match_page(self.ctx, query)
        return ConnectionRows(self.ctx, [pages[n] for n in self.names]), None


class RoiRows(ColumnRows):
    type_name = "RegionRoi"

    def bets(self, args: Args) -> list[Any]:
        return [b or 0 for b in self.columns["n_bets"]]

    roi = column("roi")
    profit = column("profit")
    won = column("n_won")


class ConnectionRows(RowSet):
    """One `matches` connection per row: a catalogue page each."""

    type_name = "MatchConnection"

    def __init__(self, ctx: Context, pages: Sequence[Page]) -> None:
        super().__init__(ctx)
        self.pages = pages

    def __len__(self) -> int:
        return len(self.pages)

    def take(self, indices: np.ndarray) -> ConnectionRows:
        return ConnectionRows(self.ctx, [self.pages[i] for i in indices.tolist()])

    def edges(self, args: Args) -> tuple[EdgeRows, list[int]]:
        sizes = [len(p.positions) for p in self.pages]
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        if len(self.pages) == 1:
            positions = self.pages[0].positions
        else:
            positions = np.concatenate([p.positions for p in self.pages] or [np.empty(0, int)])
        return EdgeRows(self.ctx, positions), offsets.tolist()

    def page_info(self, args: Args) -> tuple[PageInfoRows, Indices]:
        return PageInfoRows(self.ctx, self.pages), None

    def total_count(self, args: Args) -> list[int]:
        return [p.total_count for p in self.pages]


def _cursors(ctx: Context, positions: np.ndarray) -> list[str]:
    catalog = ctx.data.catalog
    starts = catalog.start_ns[positions].tolist()
    ids = catalog.ids[positions].tolist()
    return [encode_cursor(s, m) for s, m in zip(starts, ids, strict=True)]


class EdgeRows(RowSet):
    type_name = "MatchEdge"

    def __init__(
        self, ctx: Context, positions: np.ndarray, shared: SharedPage | None = None
    ) -> None:
        super().__init__(ctx)
        self.positions = positions
        self.shared = shared or _match_page(ctx, positions)

    def __len__(self) -> int:
        return len(self.positions)

    def take(self, indices: np.ndarray) -> EdgeRows:
        return EdgeRows(self.ctx, self.positions[indices], self.shared)

    def cursor(self, args: Args) -> list[str]:
        return _cursors(self.ctx, self.positions)

    def node(self, args: Args) -> tuple[MatchRows, Indices]:
        return MatchRows(self.ctx, self.positions, self.shared), None


class PageInfoRows(RowSet):
    type_name = "PageInfo"

    def __init__(self, ctx: Context, pages: Sequence[Page]) -> None:
        super().__init__(ctx)
        self.pages = pages

    def __len__(self) -> int:
        return len(self.pages)

    def take(self, indices: np.ndarray) -> PageInfoRows:
        return PageInfoRows(self.ctx, [self.pages[i] for i in indices.tolist()])

    def has_next_page(self, args: Args) -> list[bool]:
        return [p.has_next for p in self.pages]

    def has_previous_page(self, args: Args) -> list[bool]:
        return [p.has_previous for p in self.pages]

    def _ends(self, at: int) -> list[str | None]:
        return [
            _cursors(self.ctx, p.positions[at : at + 1 or None])[0] if len(p.positions) else None
            for p in self.pages
        ]

    def start_cursor(self, args: Args) -> list[str | None]:
        return self._ends(0)

    def end_cursor(self, args: Args) -> list[str | None]:
        return self._ends(-1)


class QueryRows(RowSet):
    """The query root: one row."""

    type_name = "Query"

    def __len__(self) -> int:
        return 1

    def take(self, indices: np.ndarray) -> QueryRows:
        return self

    def matches(self, args: Args) -> tuple[ConnectionRows, Indices]:
        query = MatchQuery(
            first=args.get("first"),
            after=args.get("after"),
            future_only=args.get("futureOnly"),
            region=args.get("region"),
            team=args.get("team"),
            start_from=args.get("from"),
            start_to=args.get("to"),
            min_edge=args.get("minEdge"),
        )
        return ConnectionRows(self.ctx, [match_page(self.ctx, query)]), None

    def match(self, args: Args) -> tuple[MatchRows, Indices]:
        match_id = args["matchId"]
        if not 0 <= match_id <= INT32_MAX:
            raise bad_input(f"`matchId` must be between 0 and {INT32_MAX}")
        return self._match_by_id(match_id)

    def _match_by_id(self, match_id: int) -> tuple[MatchRows, Indices]:
        data = self.ctx.data
        positions = data.catalog.positions([match_id])
        if positions[0] >= 0:
            return MatchRows(self.ctx, positions), None
        if match_id in data.predictions:
            raise NotPlanned("orphan")  # a Match built from its prediction row
        return MatchRows(self.ctx, positions[:0]), np.empty(0, dtype=np.intp)

    def node(self, args: Args) -> tuple[RowSet, Indices]:
        global_id = args["id"]
        type_name, key = decode_global_id(global_id)
        if type_name == "Match":
            if not MATCH_KEY.fullmatch(key):
                raise bad_input(f"malformed node id {global_id[:100]!r}")
            match_id = int(key)
            if not -(2**63) <= match_id < 2**63:
                raise NotPlanned("data")
            return self._match_by_id(match_id)
        if type_name == "Region":
            wanted = key.casefold()
            name = next((n for n in self.ctx.data.region_names if n.casefold() == wanted), None)
            if name is not None:
                return RegionRows(self.ctx, [name]), None
        return RegionRows(self.ctx, []), np.empty(0, dtype=np.intp)

    def regions(self, args: Args) -> tuple[RegionRows, list[int]]:
        names = listed_region_names(self.ctx.data)
        return RegionRows(self.ctx, names), [0, len(names)]


ROW_SETS: dict[str, type[RowSet]] = {
    cls.type_name: cls
    for cls in (
        QueryRows,
        MatchRows,
        PredictionRows,
        OddsRows,
        ValueRows,
        FeatureRows,
        RegionRows,
        RoiRows,
        ConnectionRows,
        EdgeRows,
        PageInfoRows,
    )
}
