"""rest: the old REST service's `GET /cards`, reproduced as its users ran it.

FastAPI; predictions.parquet and fonbet_odds.parquet loaded into pandas at
startup; per request a `pd.merge` on match_id, `limit` rows, `to_dict("records")`,
the Fonbet URL built from the ids, and the list returned from a sync handler
(FastAPI runs it in its thread pool and encodes it with its default
`jsonable_encoder` + `json`). Deliberately not optimised: this is what users
would otherwise run.
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


def create_app() -> FastAPI:
    predictions, odds = load_frames()
    app = FastAPI(title="old REST /cards (bench reproduction)")

    @app.get("/cards", response_model=None)
    def list_cards(
        limit: int = Query(100, ge=1, le=5000),
        offset: int = Query(0, ge=0),
        future_only: bool = False,
    ) -> Any:
        merged = pd.merge(predictions, odds, on="match_id", how="left")
        if future_only:
            merged = merged[merged["is_future"].fillna(False).astype(bool)]
        page = merged.iloc[offset : offset + limit]
        page = page.astype(object).where(page.notna(), None)  # NaN is not JSON
        return [_card(row) for row in page.to_dict("records")]

    @app.get("/ready", response_model=None)
    def ready() -> Any:
        return {"status": "ready"}

    return app
