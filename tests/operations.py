"""Random VALID GraphQL operations over what the planner (graph/planner) answers.

Used by tests/test_planner_differential.py, which runs each operation with the planner
on and off and compares the responses byte for byte. `operations(vocabulary)` is a
hypothesis strategy; the vocabulary says what a data set holds (ids, names, cursors from
real responses), so arguments hit it as often as they miss it on purpose.

What an operation may hold: root fields `matches` (every argument, literal or variable,
valid and invalid values: `first` over the limit or negative, malformed cursors, unknown
teams and regions, `from` >= `to`, ...), `match(matchId:)` (catalogue, orphan, unknown
and out-of-range ids), `node(id:)` (Match and Region ids, ids of other types, malformed
ids), `regions`, and root `__typename`; below them Match scalars, `id`, `region` (`id`,
`name`, `roi`, `matches(first, after)`), `prediction`, `odds`, `features(names:)`,
connection `edges`/`node`/`cursor`, `pageInfo` and `totalCount`, `__typename` anywhere,
and now and then fields the planner leaves to graphql-core (`Match.liveScore` inside a
planned page, a root `__type`);
aliases (also ones that are another field's name), fields repeated and merged, inline
fragments (`... on Match`, `... on Node`, `... on Region`, no type condition), named
fragments (spread once or reused, also inside other fragments), `@include`/`@skip` with
variables and literals, variables that are provided, null, omitted or defaulted.

Validity is by construction, within the service's limits (depth 12, 30 aliases counted
where fragments are spread): fields that share a response name in one selection set,
fragments included, are the same field with the same arguments, and their selections
are merged with the same rule (`Scope`). The differential test fails on any
GRAPHQL_VALIDATION_FAILED error, so a generator bug cannot hide.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from graph.relay import encode_global_id

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_DEPTH = 12  # Settings.max_depth: a root field is level 0
MAX_ALIASES = 26  # Settings.max_aliases is 30; a margin for mistakes in the count
MAX_FIELDS = 45  # fields per operation, before fragments are expanded
MAX_FEATURE_NAMES = 1000  # Settings.max_feature_names

Draw = Callable[[st.SearchStrategy[Any]], Any]


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode()


MALFORMED_CURSORS = (
    "garbage",
    "!!!",
    "é",
    _b64("x:1:2"),  # wrong kind
    _b64("m:1"),  # too few parts
    _b64("m:1:2:3"),  # too many
    _b64("m:a:b"),  # not numbers
    _b64(b"\xff\xfe\xfd"),  # not UTF-8
    _b64("m:99999999999999999999999:1"),  # a start beyond int64
    _b64("m:1:99999999999999999999999"),  # an id beyond int64
    _b64("m:-5:10"),
    "bTox",  # `m:1` without padding
)
MALFORMED_NODE_IDS = (
    "",
    "%%%",
    "not base64!",
    _b64("Match"),  # no separator
    _b64(":10"),  # no type
    _b64("Match:"),  # no key
    encode_global_id("Match", "x1"),
    encode_global_id("Match", "²"),  # a digit to str.isdigit(), not to int()
    encode_global_id("Match", "1" * 31),  # longer than a match key may be
)
UNKNOWN_FEATURES = ("nope", "diff_", "DIFF_A", "")
EXTREME_TIMES = (
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:30:00+01:00",
    "1970-01-01T00:00:00Z",
    "2262-04-12T00:00:00+00:00",  # past what a pandas timestamp holds
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-05:00",
)


@dataclass(frozen=True)
class Vocabulary:
    """What a data set holds, for arguments that hit it (and ones that miss it)."""

    match_ids: tuple[int, ...]  # catalogue ids (also ones beyond 32 bits: node ids only)
    orphan_ids: tuple[int, ...]  # prediction rows without a catalogue match
    team_names: tuple[str, ...]
    region_names: tuple[str, ...]  # of the catalogue and the ROI file, as written
    feature_names: tuple[str, ...]
    cursors: tuple[str, ...]  # `cursor`s of real responses
    start_times: tuple[str, ...]  # ISO start times of some matches
    max_first: int = 5000
    # A large data set: pages stay small (`first` over 8 rarely at the root, else only as
    # an error) and one level of `Region.matches`, so a case stays a few milliseconds.
    big: bool = False


@dataclass(frozen=True)
class Operation:
    """A document and its variables; printed when a case fails."""

    query: str
    variables: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.query}\nvariables: {json.dumps(self.variables, ensure_ascii=False)}"


# ---- selections, and the merge rule that keeps them valid ----------------------------


@dataclass
class Field:
    response: str
    key: str  # field name and arguments as written: equal keys may share a response name
    head: str  # `alias: name(args) @directives`
    children: list[Item] | None = None
    region_matches: bool = False  # a `Region.matches` field


@dataclass
class Inline:
    head: str  # `... on Match @skip(if: $v1)`
    children: list[Item]


@dataclass
class Spread:
    name: str
    head: str  # `...F1 @include(if: true)`


Item = Field | Inline | Spread


class Scope:
    """Response names of one selection set (its fragments included) -> field key and the
    scope of that field's own selection, shared by every field merged under the name."""

    def __init__(self) -> None:
        self.names: dict[str, tuple[str, Scope]] = {}

    def copy(self) -> Scope:
        out = Scope()
        out.names = {k: (key, child.copy()) for k, (key, child) in self.names.items()}
        return out

    def claim(self, response: str, key: str) -> Scope | None:
        """The child scope for `key` under `response`; None when it is taken by another."""
        found = self.names.get(response)
        if found is None:
            child = Scope()
            self.names[response] = (key, child)
            return child
        return found[1] if found[0] == key else None


@dataclass
class Fragment:
    name: str
    type_name: str
    items: list[Item]
    depth: int  # deepest field level below the spread (0: fields at the spread's level)
    aliases: int  # aliases it adds where spread (its own spreads expanded)
    region_matches: int  # levels of Region.matches inside


@dataclass(frozen=True)
class Where:
    """Where a selection set is generated."""

    type_name: str
    level: int  # level of the fields of this selection set
    possible: frozenset[str]  # object types the selection can apply to
    region_matches: int = 0  # Region.matches levels above


POSSIBLE = {
    "Node": frozenset({"Match", "Region"}),
    "Match": frozenset({"Match"}),
    "Region": frozenset({"Region"}),
}
CONDITIONS = {
    "Match": ("Match", "Node"),
    "Region": ("Region", "Node"),
    "Node": ("Node", "Match", "Region"),
}
LEAVES = {
    "Match": (
        "id",
        "matchId",
        "startTimeUtc",
        "homeTeamName",
        "awayTeamName",
        "tournamentName",
        "women",
        "isFuture",
        "homeScore",
        "awayScore",
        "outcome",
    ),
    "Region": ("id", "name"),
    "Node": ("id",),
    "Prediction": (
        "probaHome",
        "probaDraw",
        "probaAway",
        "predictedClass",
        "predictedOutcome",
        "modelRunId",
        "modelStage",
        "computedAt",
    ),
    "Odds": ("home", "draw", "away", "fonbetEventId", "fonbetSportId", "fonbetUrl"),
    "Feature": ("name", "value"),
    "RegionRoi": ("bets", "roi", "profit", "won"),
    "PageInfo": ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "MatchConnection": ("totalCount",),
    "MatchEdge": ("cursor",),
    "Query": (),
    "LiveScore": (
        "matchId",
        "startTimeUtc",
        "homeTeamName",
        "awayTeamName",
        "homeScore",
        "awayScore",
        "status",
        "region",
        "tournamentName",
        "updatedAt",
    ),
}
RARE = frozenset({"liveScore"})  # drawn a third as often as other composite fields
# Composite fields: name -> type of the selection.
COMPOSITES = {
    "Match": {
        "region": "Region",
        "prediction": "Prediction",
        "odds": "Odds",
        "features": "Feature",
        # Not planned: graphql-core resolves it inside a planned page ("delegated").
        "liveScore": "LiveScore",
    },
    "Region": {"roi": "RegionRoi", "matches": "MatchConnection"},
    "MatchConnection": {"edges": "MatchEdge", "pageInfo": "PageInfo"},
    "MatchEdge": {"node": "Match"},
    "Query": {"matches": "MatchConnection", "match": "Match", "node": "Node", "regions": "Region"},
}


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise TypeError(value)


def _case(draw: Draw, name: str) -> str:
    """`name` in another case (the service matches names case-insensitively)."""
    fold: Callable[[str], str] = draw(
        st.sampled_from([str, str.lower, str.upper, str.swapcase, str.casefold])
    )
    return fold(name)


class _Builder:
    def __init__(self, draw: Draw, vocab: Vocabulary) -> None:
        self.draw = draw
        self.vocab = vocab
        self.variables: list[str] = []  # `$v1: Int = 3`
        self.values: dict[str, Any] = {}
        self.fragments: dict[str, Fragment] = {}
        self.aliases = 0
        self.fields = 0
        self.max_region_matches = 1 if vocab.big else 2

    # ---- arguments -------------------------------------------------------------

    def value(self, type_name: str, value: Any, *, nullable: bool = True) -> str:
        """`value` for an argument of `type_name`: as a literal or through a variable
        (provided, or for a null value, sometimes omitted or given as a default)."""
        draw = self.draw
        how = draw(st.sampled_from(["literal", "literal", "variable", "variable", "default"]))
        if how == "literal":
            return _literal(value)
        name = f"v{len(self.variables) + 1}"
        var_type = type_name if nullable else f"{type_name}!"
        if how == "default" and nullable:
            # Declared with the value as default and never sent (null: sometimes sent).
            self.variables.append(f"${name}: {var_type} = {_literal(value)}")
            if value is None and draw(st.booleans()):
                self.values[name] = None
            return f"${name}"
        self.variables.append(f"${name}: {var_type}")
        if value is None and nullable and draw(st.booleans()):
            pass  # omitted: the argument is as if not given (its default applies)
        else:
            self.values[name] = value
        return f"${name}"

    def arguments(self, specs: Sequence[tuple[str, str, Any, bool]]) -> str:
        """`(name: value, ...)` of (name, GraphQL type, value, nullable) in the given order."""
        parts = [f"{n}: {self.value(t, v, nullable=null)}" for n, t, v, null in specs]
        return f"({', '.join(parts)})" if parts else ""

    def first(self, *, nested: bool) -> int | None:
        draw, vocab = self.draw, self.vocab
        limit = vocab.max_first
        bad = [limit + 1, -1, INT32_MIN, INT32_MAX]
        if vocab.big:
            ok = draw(st.integers(0, 4 if nested else 8))
            if not nested and draw(st.integers(0, 11)) == 0:
                ok = draw(st.sampled_from([257, 700, limit]))  # long lists, in chunks
        else:
            ok = draw(st.one_of(st.integers(0, 6), st.sampled_from([0, 1, 50, limit])))
        kind = draw(st.sampled_from(["ok"] * 10 + ["bad", "null"]))
        if kind == "bad":
            return int(draw(st.sampled_from(bad)))
        if kind == "null":
            return None
        return int(ok)

    def after(self) -> str | None:
        draw = self.draw
        kind = draw(st.sampled_from(["real"] * 6 + ["malformed", "empty", "null"]))
        if kind == "real" and self.vocab.cursors:
            return str(draw(st.sampled_from(self.vocab.cursors)))
        if kind == "malformed":
            return str(draw(st.sampled_from(MALFORMED_CURSORS)))
        if kind == "empty":
            return ""
        return None

    def connection_args(self, *, root: bool) -> str:
        """Arguments of `matches` (root) or `Region.matches`, a random subset in random order."""
        draw, vocab = self.draw, self.vocab
        specs: list[tuple[str, str, Any, bool]] = []
        first_needed = vocab.big  # big data: never the default page of 50 below the root
        if (first_needed and not root) or draw(st.integers(0, 9)) < 8:
            value = self.first(nested=not root)
            if vocab.big and not root and (value is None or 8 < value <= vocab.max_first):
                value = 3
            specs.append(("first", "Int", value, True))
        if draw(st.integers(0, 9)) < 4:
            specs.append(("after", "String", self.after(), True))
        if root:
            if draw(st.integers(0, 9)) < 3:
                future = draw(st.sampled_from([True, False, None]))
                specs.append(("futureOnly", "Boolean", future, True))
            if draw(st.integers(0, 9)) < 3:
                specs.append(("region", "String", self.region_name(), True))
            if draw(st.integers(0, 9)) < 3:
                specs.append(("team", "String", self.team_name(), True))
            for name in ("from", "to"):
                if draw(st.integers(0, 9)) < 2:
                    specs.append((name, "DateTime", self.time(), True))
        order = draw(st.permutations(range(len(specs))))
        return self.arguments([specs[i] for i in order])

    def region_name(self) -> str | None:
        draw = self.draw
        kind = draw(st.sampled_from(["known"] * 6 + ["unknown", "null"]))
        if kind == "known" and self.vocab.region_names:
            return _case(draw, draw(st.sampled_from(self.vocab.region_names)))
        if kind == "unknown":
            return str(draw(st.sampled_from(["Nowhere", "", "Engl", "England "])))
        return None

    def team_name(self) -> str | None:
        draw = self.draw
        kind = draw(st.sampled_from(["known"] * 6 + ["unknown", "null"]))
        if kind == "known" and self.vocab.team_names:
            return _case(draw, draw(st.sampled_from(self.vocab.team_names)))
        if kind == "unknown":
            names = self.vocab.team_names
            part = names[0].split()[0][:3] if names else "x"
            return str(draw(st.sampled_from(["Nobody FC", "", part])))  # no substring search
        return None

    def time(self) -> str | None:
        draw = self.draw
        kind = draw(st.sampled_from(["near"] * 5 + ["extreme", "null"]))
        if kind == "near" and self.vocab.start_times:
            # A start time of the data, or a second, an hour or a day off it, in any offset.
            base = datetime.fromisoformat(draw(st.sampled_from(self.vocab.start_times)))
            shift = draw(st.sampled_from([0, 0, 1, -1, 3600, -3600, 86400, -86400]))
            hours = draw(st.sampled_from([0, 0, 1, -3, 14]))
            moment = (base + timedelta(seconds=shift)).astimezone(timezone(timedelta(hours=hours)))
            text = moment.isoformat()
            return text.replace("+00:00", "Z") if draw(st.booleans()) else text
        if kind == "extreme":
            return str(draw(st.sampled_from(EXTREME_TIMES)))
        return None

    def match_id(self) -> int:
        draw, vocab = self.draw, self.vocab
        catalogue = [i for i in vocab.match_ids if INT32_MIN <= i <= INT32_MAX]
        pools: list[Sequence[int]] = [
            catalogue,
            catalogue,
            vocab.orphan_ids,
            (12345, 0, INT32_MAX, 11),
            (-1, INT32_MIN),  # out of range: BAD_USER_INPUT
        ]
        pool = draw(st.sampled_from([p for p in pools if p]))
        return int(draw(st.sampled_from(list(pool))))

    def node_id(self) -> str:
        draw, vocab = self.draw, self.vocab
        kind = draw(st.sampled_from(["match"] * 4 + ["region"] * 3 + ["other", "malformed"]))
        if kind == "match":
            pool = [*vocab.match_ids, *vocab.orphan_ids, 12345, -1, int("1" * 25)]
            key = str(draw(st.sampled_from(pool)))
            key = draw(st.sampled_from([key, key, "0" + key if key[0] != "-" else key]))
            return encode_global_id("Match", key)
        if kind == "region":
            names = [*vocab.region_names, "Nowhere"]
            return encode_global_id("Region", _case(draw, draw(st.sampled_from(names))))
        if kind == "other":
            return encode_global_id(draw(st.sampled_from(["Prediction", "match", "Team"])), "10")
        return str(draw(st.sampled_from(MALFORMED_NODE_IDS)))

    def feature_names(self) -> Any:
        draw, vocab = self.draw, self.vocab
        kind = draw(st.sampled_from(["known"] * 8 + ["unknown", "single", "null", "empty", "many"]))
        known = list(vocab.feature_names) or ["diff_a"]
        if kind == "known":
            return draw(st.lists(st.sampled_from(known), min_size=1, max_size=4))
        if kind == "unknown":
            names = draw(st.lists(st.sampled_from(known), max_size=2))
            return [*names, draw(st.sampled_from(UNKNOWN_FEATURES))]
        if kind == "single":  # one String where the type is a list: coerced to a list
            return draw(st.sampled_from(known))
        if kind == "many":  # over the limit, or exactly at it
            count = draw(st.sampled_from([MAX_FEATURE_NAMES, MAX_FEATURE_NAMES + 1]))
            return [known[i % len(known)] for i in range(count)]
        return None if kind == "null" else []

    def features_args(self) -> str:
        if self.draw(st.integers(0, 3)) == 0:
            return ""
        names = self.feature_names()
        if isinstance(names, list) and len(names) > 50:
            # As a variable only: a literal this long would break the token limit.
            var = f"v{len(self.variables) + 1}"
            self.variables.append(f"${var}: [String!]")
            self.values[var] = names
            return f"(names: ${var})"
        return self.arguments([("names", "[String!]", names, True)])

    def directives(self) -> str:
        draw = self.draw
        if draw(st.integers(0, 9)) != 0:
            return ""
        out = []
        for name in draw(st.sampled_from([["include"], ["skip"], ["include", "skip"]])):
            if draw(st.booleans()):
                value = _literal(draw(st.booleans()))
            else:
                var = f"v{len(self.variables) + 1}"
                self.variables.append(f"${var}: Boolean!")
                self.values[var] = draw(st.booleans())
                value = f"${var}"
            out.append(f" @{name}(if: {value})")
        return "".join(out)

    # ---- selections ------------------------------------------------------------

    def selection(self, where: Where, scope: Scope) -> list[Item]:
        draw = self.draw
        crowded = self.fields >= MAX_FIELDS
        count = 1 if crowded else draw(st.integers(1, 4 if where.level < 4 else 3))
        items: list[Item] = []
        for _ in range(count):
            kind = draw(st.sampled_from(["field"] * 12 + ["inline", "new fragment", "fragment"]))
            item: Item | None
            if kind == "inline":
                item = self.inline(where, scope)
            elif kind == "new fragment":
                item = self.new_fragment(where, scope)
            elif kind == "fragment":
                item = self.reuse_fragment(where, scope)
            else:
                item = self.field(where, scope)
            if item is not None:
                items.append(item)
        if not items:
            items.append(self.typename(scope))
        return items

    def typename(self, scope: Scope) -> Field:
        scope.claim("__typename", "__typename")
        return Field("__typename", "__typename", "__typename")

    def field(self, where: Where, scope: Scope) -> Field | None:
        draw = self.draw
        type_name = where.type_name
        composites = dict(COMPOSITES.get(type_name, {}))
        if where.level + 1 > MAX_DEPTH or self.fields >= MAX_FIELDS:
            composites = {}
        if type_name == "Region" and where.region_matches >= self.max_region_matches:
            composites.pop("matches", None)
        leaves = [*LEAVES[type_name], "__typename"]
        names = [*leaves, *composites]
        weights = [1] * len(leaves) + [1 if c in RARE else 3 for c in composites]
        name = draw(
            st.sampled_from([n for n, w in zip(names, weights, strict=True) for _ in range(w)])
        )
        declared = len(self.variables)
        same_field = [k for k, _ in scope.names.values() if k == name or k.startswith(name + "(")]
        if same_field and draw(st.booleans()):
            # The arguments of a field already here: the two may merge under one name.
            args = str(draw(st.sampled_from(sorted(same_field))))[len(name) :]
        else:
            args = self.field_args(type_name, name)
        key = f"{name}{args}"
        response = self.response_name(scope, name, key, leaves)
        if response is None:  # dropped: so are the variables its arguments declared
            for var in self.variables[declared:]:
                self.values.pop(var.split(":")[0].lstrip("$"), None)
            del self.variables[declared:]
            return None
        child_scope = scope.claim(response, key)
        assert child_scope is not None
        self.fields += 1
        head = name if response == name else f"{response}: {name}"
        head += args + self.directives()
        if name not in composites:
            return Field(response, key, head)
        child_type = composites[name]
        region_matches = type_name == "Region" and name == "matches"
        inner = Where(
            child_type,
            where.level + 1,
            POSSIBLE.get(child_type, frozenset({child_type})),
            where.region_matches + region_matches,
        )
        children = self.selection(inner, child_scope)
        return Field(response, key, head, children, region_matches)

    def field_args(self, type_name: str, name: str) -> str:
        if type_name == "Query":
            if name == "matches":
                return self.connection_args(root=True)
            if name == "match":
                return self.arguments([("matchId", "Int", self.match_id(), False)])
            if name == "node":
                return self.arguments([("id", "ID", self.node_id(), False)])
        if type_name == "Region" and name == "matches":
            return self.connection_args(root=False)
        if type_name == "Match" and name == "features":
            return self.features_args()
        return ""

    def response_name(self, scope: Scope, name: str, key: str, leaves: Sequence[str]) -> str | None:
        """No alias, the same field merged under its name, or an alias (a fresh one, or
        another field's name); None when only an alias would do and none is left."""
        draw = self.draw
        taken = scope.names.get(name)
        if taken is None and draw(st.integers(0, 5)) > 0:
            return name
        same = sorted(r for r, (k, _) in scope.names.items() if k == key)
        if same and draw(st.booleans()):
            merged = str(draw(st.sampled_from(same)))  # merged with the same field
            if merged == name:
                return name
            if self.aliases < MAX_ALIASES:
                self.aliases += 1
                return merged
        if self.aliases >= MAX_ALIASES:
            return name if taken is None else None
        free = [n for n in leaves if n not in scope.names and n != "__typename"]
        if free and draw(st.integers(0, 3)) == 0:
            alias = str(draw(st.sampled_from(free)))  # e.g. `homeTeamName: awayTeamName`
        else:
            alias = f"a{self.aliases + 1}"
        if alias in scope.names:
            return None
        self.aliases += 1
        return alias

    def condition(self, where: Where) -> str:
        options = [c for c in CONDITIONS.get(where.type_name, ()) if POSSIBLE[c] & where.possible]
        options = options or [where.type_name]
        return str(self.draw(st.sampled_from(options)))

    def inline(self, where: Where, scope: Scope) -> Inline:
        draw = self.draw
        condition = None if draw(st.integers(0, 3)) == 0 else self.condition(where)
        head = "..." + (f" on {condition}" if condition else "") + self.directives()
        inner = where
        if condition is not None:
            inner = replace(
                where,
                type_name=condition,
                possible=where.possible & POSSIBLE.get(condition, frozenset({condition})),
            )
        return Inline(head, self.selection(inner, scope))

    def new_fragment(self, where: Where, scope: Scope) -> Spread:
        """A fragment defined here and spread here: generated into this very scope."""
        condition = self.condition(where)
        name = f"F{len(self.fragments) + 1}"
        inner = Where(
            condition,
            where.level,
            POSSIBLE.get(condition, frozenset({condition})),
            where.region_matches,
        )
        aliases_before = self.aliases
        fragment = Fragment(name, condition, [], 0, 0, 0)
        self.fragments[name] = fragment  # reserved: spreads inside it see a later name
        fragment.items = self.selection(inner, scope)
        fragment.aliases = self.aliases - aliases_before
        fragment.depth, fragment.region_matches = self.shape(fragment.items)
        return Spread(name, f"...{name}{self.directives()}")

    def reuse_fragment(self, where: Where, scope: Scope) -> Spread | None:
        draw = self.draw
        fitting = [
            f
            for f in self.fragments.values()
            if f.items  # not the one being generated around us
            and POSSIBLE.get(f.type_name, frozenset({f.type_name})) & where.possible
            and where.level + f.depth <= MAX_DEPTH
            and where.region_matches + f.region_matches <= self.max_region_matches
            and self.aliases + f.aliases <= MAX_ALIASES
            and (
                f.type_name == where.type_name or f.type_name in CONDITIONS.get(where.type_name, ())
            )
        ]
        if not fitting:
            return None
        fragment: Fragment = draw(st.sampled_from(fitting))
        trial = scope.copy()
        if not self.merge(trial, fragment.items):
            return None
        scope.names = trial.names
        self.aliases += fragment.aliases
        return Spread(fragment.name, f"...{fragment.name}{self.directives()}")

    def merge(self, scope: Scope, items: list[Item]) -> bool:
        for item in items:
            if isinstance(item, Field):
                child = scope.claim(item.response, item.key)
                if child is None or not self.merge(child, item.children or []):
                    return False
            elif isinstance(item, Inline):
                if not self.merge(scope, item.children):
                    return False
            elif not self.merge(scope, self.fragments[item.name].items):
                return False
        return True

    def shape(self, items: list[Item]) -> tuple[int, int]:
        """(deepest field level, Region.matches levels) of `items`, relative to them."""
        depth, nested = 0, 0
        for item in items:
            if isinstance(item, Field) and item.children is not None:
                d, n = self.shape(item.children)
                depth, nested = max(depth, d + 1), max(nested, n + item.region_matches)
            elif isinstance(item, Inline):
                d, n = self.shape(item.children)
                depth, nested = max(depth, d), max(nested, n)
            elif isinstance(item, Spread):
                fragment = self.fragments[item.name]
                depth = max(depth, fragment.depth)
                nested = max(nested, fragment.region_matches)
        return depth, nested

    # ---- the document ----------------------------------------------------------

    def operation(self) -> Operation:
        draw = self.draw
        scope = Scope()
        root = Where("Query", 0, frozenset({"Query"}))
        items: list[Item] = []
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["field"] * 12 + ["typename", "inline", "introspection"]))
            if kind == "typename":
                items.append(self.typename(scope))
            elif kind == "introspection":  # never planned: graphql-core answers it
                key = '__type(name: "Match")'
                if scope.claim("__type", key) is not None:
                    items.append(Field("__type", key, key, [Field("name", "name", "name")]))
            elif kind == "inline":
                inside = self.field(root, scope)
                if inside is not None:
                    head = "..." + draw(st.sampled_from(["", " on Query"])) + self.directives()
                    items.append(Inline(head, [inside]))
            else:
                found = self.field(root, scope)
                if found is not None:
                    items.append(found)
        if not items:
            found = self.field(root, scope)
            items.append(found if found is not None else self.typename(scope))
        body = _render(items, 1)
        header = f"query Diff({', '.join(self.variables)}) " if self.variables else ""
        parts = [header + "{\n" + body + "}"]
        for fragment in self.fragments.values():
            parts.append(
                f"fragment {fragment.name} on {fragment.type_name} {{\n"
                + _render(fragment.items, 1)
                + "}"
            )
        order = draw(st.permutations(range(len(parts))))
        return Operation("\n".join(parts[i] for i in order), dict(self.values))


def _render(items: list[Item], indent: int) -> str:
    pad = "  " * indent
    out = []
    for item in items:
        if isinstance(item, Spread):
            out.append(f"{pad}{item.head}\n")
            continue
        children = item.children
        if children is None:
            out.append(f"{pad}{item.head}\n")
        else:
            out.append(f"{pad}{item.head} {{\n{_render(children, indent + 1)}{pad}}}\n")
    return "".join(out)


def operations(vocabulary: Vocabulary) -> st.SearchStrategy[Operation]:
    """Valid operations over the planned subset, arguments drawn from `vocabulary`."""

    @st.composite
    def build(draw: Draw) -> Operation:
        return _Builder(draw, vocabulary).operation()

    return build()


def cursors_of(response: dict[str, Any]) -> list[str]:
    """Every `cursor` value anywhere in a response."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "cursor" and isinstance(inner, str):
                    found.append(inner)
                else:
                    walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(response)
    return found


__all__ = ["Operation", "Vocabulary", "cursors_of", "operations"]
