"""The real feed samples, kept in the repository (tests/fixtures/feeds, see SOURCES.md there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEEDS = Path(__file__).resolve().parent / "fixtures" / "feeds"
WHOSCORED = FEEDS / "whoscored_livescores_sample.json"
FONBET = FEEDS / "fonbet_events_sample.json"


def whoscored() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(WHOSCORED.read_bytes())
    return payload


def whoscored_expected(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The sample's matches mapped by hand (DATA.md), as `LiveScore` fields, in query order."""
    out = [
        {
            "matchId": m["id"],
            "startTimeUtc": m["startTimeUtc"].replace("Z", "+00:00"),
            "homeTeamName": m["homeTeamName"],
            "awayTeamName": m["awayTeamName"],
            "homeScore": m["homeScore"],
            "awayScore": m["awayScore"],
            "status": m["elapsed"],
            "region": t["regionName"],
            "tournamentName": t["tournamentName"],
        }
        for t in payload["tournaments"]
        for m in t["matches"]
    ]
    return sorted(out, key=lambda r: (r["startTimeUtc"], r["matchId"]))


def whoscored_catalog(payload: dict[str, Any]) -> pd.DataFrame:
    """match_features.parquet rows for the sample's matches (the demo ids do not overlap)."""
    matches = [(t, m) for t in payload["tournaments"] for m in t["matches"]]
    home = np.array([m["homeScore"] for _, m in matches], dtype=float)
    away = np.array([m["awayScore"] for _, m in matches], dtype=float)
    return pd.DataFrame(
        {
            "startTimeUtc": pd.to_datetime([m["startTimeUtc"] for _, m in matches], utc=True),
            "homeTeamName": [m["homeTeamName"] for _, m in matches],
            "awayTeamName": [m["awayTeamName"] for _, m in matches],
            "region": [t["regionName"] for t, _ in matches],
            "tournamentName": [t["tournamentName"] for t, _ in matches],
            "sex": 0,
            "is_future": False,
            "homeScore": home,
            "awayScore": away,
            "outcome_1x2": np.select([home > away, home == away], [0.0, 1.0], 2.0),
            "diff_goals_w5": np.nan,
        },
        index=pd.Index([m["id"] for _, m in matches], name="match_id", dtype="int64"),
    )


def whoscored_live(scores: dict[int, tuple[int, int, str]]) -> dict[str, Any]:
    """A WhoScored payload of made-up matches (ids far from the sample's and the demo's),
    each `id: (home score, away score, elapsed)`, in the sample's first tournament."""
    payload = whoscored()
    tournament = payload["tournaments"][0]
    template = tournament["matches"][0]
    tournament["matches"] = [
        {
            **template,
            "id": match_id,
            "homeTeamName": f"Home {match_id}",
            "awayTeamName": f"Away {match_id}",
            "startTimeUtc": "2031-01-04T15:00:00Z",
            "startTime": "2031-01-04T15:00:00",
            "homeScore": home,
            "awayScore": away,
            "elapsed": elapsed,
        }
        for match_id, (home, away, elapsed) in scores.items()
    ]
    payload["tournaments"] = [tournament]
    return payload
