"""Root subscriptions: follow tasks over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from graph import live
from graph.context import Info
from graph.tasks import ModelStage, Task


@strawberry.type(description="Follow work on the workers as it happens.")
class Subscription:
    @strawberry.subscription(
        description="The task's current state, then each change; completes at COMPLETE, "
        "FAILED or NOT_FOUND (or after MATCHGRAPH_SUBSCRIPTION_TIMEOUT)."
    )
    async def task(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Task, None]:
        async for task in live.follow(info, str(id)):
            yield task

    @strawberry.subscription(
        description="Submit a prediction of one match and follow it in one operation."
    )
    async def predict_match(
        self, info: Info, match_id: int, stage: ModelStage | None = ModelStage.CHAMPION
    ) -> AsyncGenerator[Task, None]:
        live.check_match(info.context, match_id)
        stage_name = (stage or ModelStage.CHAMPION).value
        # its first state is the submitted task
        async for task in live.submit_and_follow(
            info, "predict_match", match_id=match_id, stage=stage_name
        ):
            yield task
