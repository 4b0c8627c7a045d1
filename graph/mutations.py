"""Root mutations: run live predictions on the workers."""

from __future__ import annotations

import strawberry

from graph import live
from graph.context import Info
from graph.cost.directives import MODEL_CALL
from graph.errors import bad_input
from graph.tasks import ModelStage, Task


@strawberry.input(description="One named feature value of a what-if feature vector.")
class FeatureInput:
    name: str = strawberry.field(description="A model feature name, e.g. `diff_goals_w5`.")
    value: float = strawberry.field(description="Its value.")


@strawberry.type(description="Start work on the workers.")
class Mutation:
    @strawberry.mutation(
        description="Predict one match with the model behind `stage`. Validates the match "
        "first (NOT_FOUND / BAD_USER_INPUT). With `wait: true` returns the finished task, or "
        "the task as it stands after MATCHGRAPH_SYNC_TIMEOUT; else the queued task at once.",
        directives=[MODEL_CALL],
    )
    async def predict_match(
        self,
        info: Info,
        match_id: int,
        stage: ModelStage | None = ModelStage.CHAMPION,
        wait: bool | None = False,
    ) -> Task:
        live.check_match(info.context, match_id)
        return await live.submit(
            info,
            "predict_match",
            wait=bool(wait),
            match_id=match_id,
            stage=(stage or ModelStage.CHAMPION).value,
        )

    @strawberry.mutation(
        description="What-if: predict a client-supplied feature vector (names must be the "
        "model's; missing ones are NaN; unknown names are BAD_USER_INPUT).",
        directives=[MODEL_CALL],
    )
    async def predict_features(
        self,
        info: Info,
        features: list[FeatureInput],
        women: bool,
        stage: ModelStage | None = ModelStage.CHAMPION,
        wait: bool | None = False,
    ) -> Task:
        values = {f.name: f.value for f in features}
        if len(values) != len(features):
            raise bad_input("each feature name may appear once")
        live.check_features(info.context, values)
        return await live.submit(
            info,
            "predict_features",
            wait=bool(wait),
            features=values,
            women=women,
            stage=(stage or ModelStage.CHAMPION).value,
        )

    @strawberry.mutation(
        description="Ingest a WhoScored livescores payload stored at `source` "
        "(`<bucket>/<key>` in the configured storage) into the live-score table, on a worker. "
        "Follow the returned task; its `ingestResult` counts what changed."
    )
    async def ingest_livescores(self, info: Info, source: str) -> Task:
        live.check_source(source)
        return await live.submit(info, "ingest_livescores", wait=False, source=source)

    @strawberry.mutation(
        description="Merge the 1X2 odds of a Fonbet events packet stored at `source` into "
        "fonbet_odds.parquet, on a worker; unlinked events are counted, never guessed."
    )
    async def ingest_fonbet_odds(self, info: Info, source: str) -> Task:
        live.check_source(source)
        return await live.submit(info, "ingest_fonbet_odds", wait=False, source=source)
