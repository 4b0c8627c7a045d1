"""The cost directives of IBM's GraphQL cost spec, declared next to the fields they weigh.

`@cost(weight: Int!)` sets what one instance of a field costs (instead of the
default: 1 for an object, 0 for a scalar or enum); `@listSize` says how many
items a list holds: the largest of its `slicingArguments` the request passes (or
their defaults), else `assumedSize`. `sizedFields` (the spec's answer for Relay
connections) hands that size down to the list fields of the object the field
returns: `matches(first:)` sizes `MatchConnection.edges`. The spec's
`requireOneSlicingArgument` is left out: a slicing argument may be absent, and
then its default counts. Both are printed in schema.graphql (definitions and uses).
"""

from __future__ import annotations

import strawberry
from strawberry.schema_directive import Location


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="The cost of one instance of this field (IBM GraphQL cost spec); without it "
    "an object weighs 1, a scalar or enum 0.",
)
class Cost:
    weight: int


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="How many items a list holds (IBM GraphQL cost spec): the largest slicing "
    "argument given (or its default), else assumedSize; sizedFields are the list fields of "
    "the returned object that this size applies to (connections).",
)
class ListSize:
    assumed_size: int | None = strawberry.UNSET
    slicing_arguments: list[str] | None = strawberry.UNSET
    sized_fields: list[str] | None = strawberry.UNSET


# A live prediction: a job on a worker and a model call (about 1 ms of model CPU plus the
# queue round trip, the work of roughly a hundred objects on the read path).
MODEL_CALL = Cost(weight=100)
