"""rest: the old REST service's `GET /cards`, reproduced as its users ran it.

FastAPI; predictions.parquet and fonbet_odds.parquet loaded into pandas at
startup and, as the old `MatchCardService` did, merged on match_id ONCE: the
merged rows are held in memory as JSON-safe card dicts (NaN -> None, the
Fonbet URL built from the ids). A request slices `limit` rows (after the
`future_only` filter) and returns them from a sync handler: FastAPI runs it in
its thread pool and pays its default `jsonable_encoder` + `json` encoding of
those rows, which is what a request cost its users. (The old service rebuilt
the merge when a source file's mtime changed; the bench's files never change,
so it is built at startup only. A first version of this baseline merged on
every request, which flattered us.) Deliberately not optimised beyond that.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import FastAPI, Query

from bench.baselines import data_dir_from_env

FONBET_URL = "https://www.fon.bet/sports/football/{sport_id}/{event_id}/"
CARD_COLUMNS = (
    "match_id",
    "startTimeUtc",
    "homeTeamName",
    "awayTeamName",
    "proba_home",
    "proba_draw",
    "proba_away",
    "predicted_class",
    "predicted_label",
    "odd_home",
    "odd_draw",
    "odd_away",
)


def _with_id_column(frame: pd.DataFrame) -> pd.DataFrame:
    return frame if "match_id" in frame.columns else frame.reset_index()


def load_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two DataFrames the old service cached in memory."""
    root = data_dir_from_env()
    predictions = _with_id_column(pd.read_parquet(root / "predictions" / "predictions.parquet"))
    odds = _with_id_column(pd.read_parquet(root / "data-raw" / "fonbet_odds.parquet"))
    # Kick-off order, so `limit` rows are the same matches our API pages first.
    predictions = predictions.sort_values(["startTimeUtc", "match_id"], kind="stable")
    return predictions.reset_index(drop=True), odds


def _card(row: dict[Any, Any]) -> dict[str, Any]:
    card = {name: row.get(name) for name in CARD_COLUMNS}
    event, sport = row.get("fonbet_event_id"), row.get("fonbet_sport_id")
    card["fonbet_url"] = (
        FONBET_URL.format(sport_id=int(sport), event_id=int(event))
        if event is not None and sport is not None
        else None
    )
    return card


def held_cards(
    predictions: pd.DataFrame, odds: pd.DataFrame
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The merged, JSON-safe cards `MatchCardService` held, in kick-off order: all of
    them, and those of future matches (`future_only`)."""
    merged = pd.merge(predictions, odds, on="match_id", how="left")
    future = (
        merged["is_future"].fillna(False).astype(bool).tolist()
        if "is_future" in merged.columns
        else [False] * len(merged)
    )
    merged = merged.astype(object).where(merged.notna(), None)  # NaN is not JSON
    cards = [_card(row) for row in merged.to_dict("records")]
    return cards, [card for card, flag in zip(cards, future, strict=True) if flag]


def create_app() -> FastAPI:
    cards, future = held_cards(*load_frames())
    app = FastAPI(title="old REST /cards (bench reproduction)")

    @app.get("/cards", response_model=None)
    def list_cards(
        limit: int = Query(100, ge=1, le=5000),
        offset: int = Query(0, ge=0),
        future_only: bool = False,
    ) -> Any:
        rows = future if future_only else cards
        return rows[offset : offset + limit]

    @app.get("/ready", response_model=None)
    def ready() -> Any:
        return {"status": "ready"}

    return app
