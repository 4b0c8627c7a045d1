"""Root subscriptions: follow tasks, data updates and live scores over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry

from graph import live
from graph.context import Info
from graph.cost.directives import MODEL_CALL
from graph.dataupdates import DATA_UPDATED_DESCRIPTION, DataUpdate, follow_data_updates
from graph.livescore_updates import (
    LIVE_SCORE_UPDATES_DESCRIPTION,
    MATCH_IDS_DESCRIPTION,
    follow_live_scores,
)
from graph.livescores import LiveScore
from graph.tasks import ModelStage, Task


@strawberry.type(
    description="Follow work on the workers, data refreshes and live scores as they happen."
)
class Subscription:
    @strawberry.subscription(
        description="The task's current state, then each change; completes at COMPLETE, "
        "FAILED or NOT_FOUND (or after MATCHGRAPH_SUBSCRIPTION_TIMEOUT)."
    )
    async def task(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The task's id, as submitted.")
        ],
    ) -> AsyncGenerator[Task, None]:
        async for task in live.follow(info, str(id)):
            yield task

    @strawberry.subscription(
        description="Submit a prediction of one match and follow it in one operation.",
        directives=[MODEL_CALL],
    )
    async def predict_match(
        self,
        info: Info,
        match_id: Annotated[
            int, strawberry.argument(description="A catalogue match with features.")
        ],
        stage: Annotated[
            ModelStage | None, strawberry.argument(description="The model stage to predict with.")
        ] = ModelStage.CHAMPION,
    ) -> AsyncGenerator[Task, None]:
        live.check_match(info.context, match_id)
        stage_name = (stage or ModelStage.CHAMPION).value
        # its first state is the submitted task
        async for task in live.submit_and_follow(
            info, "predict_match", match_id=match_id, stage=stage_name
        ):
            yield task

    @strawberry.subscription(description=DATA_UPDATED_DESCRIPTION)
    async def data_updated(self, info: Info) -> AsyncGenerator[DataUpdate, None]:
        async for update in follow_data_updates(info):
            yield update

    @strawberry.subscription(description=LIVE_SCORE_UPDATES_DESCRIPTION)
    async def live_score_updates(
        self,
        info: Info,
        match_ids: Annotated[list[int], strawberry.argument(description=MATCH_IDS_DESCRIPTION)],
    ) -> AsyncGenerator[LiveScore, None]:
        async for score in follow_live_scores(info, match_ids):
            yield score
