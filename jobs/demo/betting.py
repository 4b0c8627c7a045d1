"""Flat-stake betting on the model's picks where they beat the odds: ROI per region."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.sources.tables import ODDS_PRICE_COLUMNS, PROBA_COLUMNS, ROI_COLUMNS


def roi_by_region(
    catalog: pd.DataFrame, predictions: pd.DataFrame, odds: pd.DataFrame, played: np.ndarray
) -> pd.DataFrame:
    """Bet 1 unit on the predicted outcome when its expected value is positive.

    `played` selects the matches to bet on (finished, out of sample); only
    matches with odds can be bet on. One row per region with at least one bet.
    """
    ids = catalog.index[played].intersection(odds.index)
    pick = predictions.loc[ids, "predicted_class"].to_numpy()
    proba = predictions.loc[ids, list(PROBA_COLUMNS)].to_numpy()
    prices = odds.loc[ids, list(ODDS_PRICE_COLUMNS)].to_numpy()
    rows = np.arange(ids.size)
    price = prices[rows, pick]
    bet = proba[rows, pick] * price > 1.0
    won = (catalog.loc[ids, "outcome_1x2"].to_numpy() == pick)[bet]
    bets = pd.DataFrame(
        {
            "region": catalog.loc[ids, "region"].to_numpy()[bet],
            "won": won.astype(np.int64),
            "profit": np.where(won, price[bet] - 1.0, -1.0),
        }
    )
    table = bets.groupby("region", sort=True).agg(
        n_bets=("won", "size"), n_won=("won", "sum"), profit=("profit", "sum")
    )
    table["roi"] = table["profit"] / table["n_bets"]
    table = table.reset_index().round({"profit": 2, "roi": 4})
    return table[list(ROI_COLUMNS)]
