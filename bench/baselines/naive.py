"""naive: what a first GraphQL port looks like.

A straightforward Strawberry schema of the same shape as ours (the benchmark
queries run unchanged against it): `async def` resolvers, plain aiodataloader
DataLoaders per field created per request, batch functions over the same
pandas DataFrames, Strawberry's default ASGI view and JSON encoding.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import pandas as pd
import strawberry
from aiodataloader import DataLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from bench.baselines import data_dir_from_env

FONBET_URL = "https://www.fon.bet/sports/football/{sport_id}/{event_id}/"


@strawberry.enum
class Outcome(Enum):
    HOME = "HOME"
    DRAW = "DRAW"
    AWAY = "AWAY"


OUTCOMES = [Outcome.HOME, Outcome.DRAW, Outcome.AWAY]


@strawberry.type
class Prediction:
    proba_home: float
    proba_draw: float
    proba_away: float
    predicted_class: int
    predicted_outcome: Outcome
    model_run_id: str | None
    model_stage: str | None


@strawberry.type
class Odds:
    home: float | None
    draw: float | None
    away: float | None
    fonbet_event_id: int | None
    fonbet_sport_id: int | None
    fonbet_url: str | None


@strawberry.type
class RegionRoi:
    bets: int
    roi: float
    profit: float | None
    won: int | None


@strawberry.type
class Region:
    name: str

    @strawberry.field
    async def roi(self, info: strawberry.Info) -> RegionRoi | None:
        result: RegionRoi | None = await info.context["roi"].load(self.name.casefold())
        return result


@strawberry.type
class Feature:
    name: str
    value: float


@strawberry.type
class Match:
    match_id: int
    start_time_utc: datetime | None
    home_team_name: str
    away_team_name: str
    tournament_name: str | None
    region_name: strawberry.Private[str | None]

    @strawberry.field
    async def region(self) -> Region | None:
        return Region(name=self.region_name) if self.region_name else None

    @strawberry.field
    async def prediction(self, info: strawberry.Info) -> Prediction | None:
        result: Prediction | None = await info.context["prediction"].load(self.match_id)
        return result

    @strawberry.field
    async def odds(self, info: strawberry.Info) -> Odds | None:
        result: Odds | None = await info.context["odds"].load(self.match_id)
        return result

    @strawberry.field
    async def features(self, info: strawberry.Info) -> list[Feature]:
        result: list[Feature] = await info.context["features"].load(self.match_id)
        return result


@strawberry.type
class MatchEdge:
    cursor: str
    node: Match


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class MatchConnection:
    edges: list[MatchEdge]
    page_info: PageInfo
    total_count: int


@dataclass
class Data:
    catalog: pd.DataFrame  # sorted by kick-off, then match id
    predictions: pd.DataFrame
    odds: pd.DataFrame
    roi: pd.DataFrame  # indexed by casefolded region name


def _none(value: Any) -> Any:
    return None if pd.isna(value) else value


def _match(match_id: int, row: dict[Any, Any]) -> Match:
    start = row["startTimeUtc"]
    return Match(
        match_id=match_id,
        start_time_utc=None if pd.isna(start) else start.to_pydatetime(),
        home_team_name=row["homeTeamName"],
        away_team_name=row["awayTeamName"],
        tournament_name=_none(row.get("tournamentName")),
        region_name=_none(row.get("region")),
    )


@strawberry.type
class Query:
    @strawberry.field
    async def matches(self, info: strawberry.Info, first: int = 50) -> MatchConnection:
        catalog: pd.DataFrame = info.context["data"].catalog
        page = catalog.iloc[:first]
        edges = [
            MatchEdge(cursor=base64.b64encode(f"m:{key}".encode()).decode(), node=_match(key, row))
            for key, row in zip(page.index.tolist(), page.to_dict("records"), strict=True)
        ]
        return MatchConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(catalog) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=len(catalog),
        )


def _loaders(data: Data) -> dict[str, DataLoader[Any, Any]]:
    async def load_predictions(keys: list[int]) -> list[Prediction | None]:
        rows = data.predictions[data.predictions.index.isin(keys)].to_dict("index")
        return [_prediction(rows[k]) if k in rows else None for k in keys]

    async def load_odds(keys: list[int]) -> list[Odds | None]:
        rows = data.odds[data.odds.index.isin(keys)].to_dict("index")
        return [_odds(rows[k]) if k in rows else None for k in keys]

    async def load_roi(keys: list[str]) -> list[RegionRoi | None]:
        rows = data.roi[data.roi.index.isin(keys)].to_dict("index")
        return [_roi(rows[k]) if k in rows else None for k in keys]

    async def load_features(keys: list[int]) -> list[list[Feature]]:
        names = [c for c in data.catalog.columns if str(c).startswith("diff_")]
        rows = data.catalog.loc[data.catalog.index.isin(keys), names].to_dict("index")
        return [
            [Feature(name=str(n), value=v) for n, v in rows.get(k, {}).items() if not pd.isna(v)]
            for k in keys
        ]

    return {
        "prediction": DataLoader(load_predictions),
        "odds": DataLoader(load_odds),
        "roi": DataLoader(load_roi),
        "features": DataLoader(load_features),
    }


def _prediction(row: dict[Any, Any]) -> Prediction:
    cls = int(row["predicted_class"])
    return Prediction(
        proba_home=row["proba_home"],
        proba_draw=row["proba_draw"],
        proba_away=row["proba_away"],
        predicted_class=cls,
        predicted_outcome=OUTCOMES[cls],
        model_run_id=_none(row.get("model_run_id")),
        model_stage=_none(row.get("model_stage")),
    )


def _odds(row: dict[Any, Any]) -> Odds:
    event, sport = _none(row.get("fonbet_event_id")), _none(row.get("fonbet_sport_id"))
    return Odds(
        home=_none(row["odd_home"]),
        draw=_none(row["odd_draw"]),
        away=_none(row["odd_away"]),
        fonbet_event_id=None if event is None else int(event),
        fonbet_sport_id=None if sport is None else int(sport),
        fonbet_url=(
            FONBET_URL.format(sport_id=int(sport), event_id=int(event))
            if event is not None and sport is not None
            else None
        ),
    )


def _roi(row: dict[Any, Any]) -> RegionRoi:
    return RegionRoi(
        bets=int(row["n_bets"]),
        roi=float(row["roi"]),
        profit=_none(row.get("profit")),
        won=None if pd.isna(row.get("n_won")) else int(row["n_won"]),
    )


def _by_match_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("match_id") if "match_id" in frame.columns else frame


def load_data() -> Data:
    root = data_dir_from_env()
    catalog = _by_match_id(pd.read_parquet(root / "predictions" / "match_features.parquet"))
    catalog = catalog.reset_index().sort_values(["startTimeUtc", "match_id"], kind="stable")
    roi_path = root / "predictions" / "analysis" / "live_betting" / "roi_by_region.csv"
    roi = pd.read_csv(roi_path) if roi_path.exists() else pd.DataFrame(columns=["region"])
    roi.index = roi["region"].astype(str).str.casefold()
    return Data(
        catalog=catalog.set_index("match_id"),
        predictions=_by_match_id(pd.read_parquet(root / "predictions" / "predictions.parquet")),
        odds=_by_match_id(pd.read_parquet(root / "data-raw" / "fonbet_odds.parquet")),
        roi=roi[~roi.index.duplicated(keep="last")],
    )


class NaiveGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, data: Data) -> None:
        super().__init__(strawberry.Schema(query=Query))
        self.data = data

    async def get_context(self, request: Request | WebSocket, response: Any) -> dict[str, Any]:
        return {"data": self.data, "request": request, **_loaders(self.data)}


def create_app() -> Starlette:
    graphql = NaiveGraphQL(load_data())

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/ready", ready)]
    )
