"""Executing a plan: whole columns per field, then one dict per row.

For the rows of one object type the run asks each planned field's row-set
method for all its values at once, checks that graphql-core would serialize
them unchanged (else the root field falls back), and zips the columns into
response dicts in the plan's key order. Joins recurse on child row sets;
lists of more than CHUNK rows are completed a chunk at a time, and the run
yields at every chunk boundary so its driver can give the event loop a turn
(graph/planner/execution.py).

Delegated fields (unplanned fields of Match and Region) run last, once the
planned part has succeeded: graphql-core's own `execute_field` on the objects
the resolvers take, at their response paths, so their errors, loaders and
awaitables behave as in a graphql-core execution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any

import numpy as np
from graphql.pyutils import Path

from graph.adapters.graphql_core import argument_values
from graph.context import Context
from graph.planner.binding import Kind
from graph.planner.plan import FieldPlan, ObjectPlan, TypePlan
from graph.planner.rows import NotPlanned, QueryRows, RowSet

CHUNK = 256  # rows of a list completed between two chances to yield
Steps = Generator[None, None, Any]  # yields at chunk boundaries, returns the values
Paths = list[Path | None] | None  # response paths of the rows (only where delegation needs them)


class PlanRun:
    """One root field's plan executed over the operation's pinned snapshot set."""

    def __init__(self, executor: Any, ctx: Context) -> None:
        self.executor = executor
        self.ctx = ctx
        self._arguments: dict[int, dict[str, Any]] = {}
        self.planned = False
        self._deferred: list[
            tuple[ObjectPlan, RowSet, list[Path | None], list[dict[str, Any]]]
        ] = []

    def root(self, root: ObjectPlan, field: FieldPlan) -> Steps:
        """The root field's value, and the delegated fields' pending awaitables."""
        values = yield from self._values(root, field, QueryRows(self.ctx), [None])
        self.planned = True  # from here on nothing falls back: delegated fields run
        pending = yield from self.delegate()
        return values[0], pending

    def _objects(self, plan: TypePlan, rows: RowSet, paths: Paths) -> Steps:
        op = plan.get(rows.type_name)
        if op is None:
            raise NotPlanned("unplanned-field")
        columns = []
        for field in op.fields:
            columns.append((yield from self._values(op, field, rows, paths)))
        if not columns:
            return [{} for _ in range(len(rows))]
        keys = op.keys
        out = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
        if op.delegated:
            assert paths is not None
            self._deferred.append((op, rows, paths, out))
        return out

    def _values(self, op: ObjectPlan, field: FieldPlan, rows: RowSet, paths: Paths) -> Steps:
        if field.typename is not None:
            return [field.typename] * len(rows)
        if field.kind is None:
            return [None] * len(rows)  # delegated: filled in by `delegate`
        method = getattr(rows, field.name)
        args = self._args(field)
        if field.kind is Kind.COLUMN:
            values = method(args)
            assert field.check is not None
            if not field.check(values):
                raise NotPlanned("data")
            return values
        assert field.child is not None
        wants_paths = paths is not None and any(p.needs_paths for p in field.child.values())
        if field.kind is Kind.JOIN:
            return (yield from self._join(op, field, rows, paths if wants_paths else None))
        return (yield from self._join_many(op, field, rows, paths if wants_paths else None))

    def _join(self, op: ObjectPlan, field: FieldPlan, rows: RowSet, paths: Paths) -> Steps:
        assert field.child is not None
        child, have = getattr(rows, field.name)(self._args(field))
        sub_paths: Paths = None
        if paths is not None:
            parents = paths if have is None else [paths[i] for i in have.tolist()]
            sub_paths = [Path(p, field.key, op.graphql_type.name) for p in parents]
        objects = yield from self._objects(field.child, child, sub_paths)
        if have is None:
            return objects
        n = len(rows)
        if len(have) < n and not field.nullable:
            raise NotPlanned("data")  # graphql-core would null an ancestor and add an error
        out: list[Any] = [None] * n
        for i, obj in zip(have.tolist(), objects, strict=True):
            out[i] = obj
        return out

    def _join_many(self, op: ObjectPlan, field: FieldPlan, rows: RowSet, paths: Paths) -> Steps:
        assert field.child is not None
        child, offsets = getattr(rows, field.name)(self._args(field))
        sub_paths: list[Path | None] | None = None
        if paths is not None:
            sub_paths = []
            for i, parent in enumerate(paths):
                list_path = Path(parent, field.key, op.graphql_type.name)
                count = offsets[i + 1] - offsets[i]
                sub_paths.extend(Path(list_path, j, None) for j in range(count))
        total = len(child)
        if total <= CHUNK:
            flat = yield from self._objects(field.child, child, sub_paths)
        else:
            flat = []
            for start in range(0, total, CHUNK):
                yield  # a chunk boundary: the driver may give the loop a turn
                stop = min(start + CHUNK, total)
                part = child.take(np.arange(start, stop))
                part_paths = sub_paths[start:stop] if sub_paths is not None else None
                flat.extend((yield from self._objects(field.child, part, part_paths)))
        return [flat[offsets[i] : offsets[i + 1]] for i in range(len(rows))]

    def _args(self, field: FieldPlan) -> dict[str, Any]:
        key = id(field)
        args = self._arguments.get(key)
        if args is None:
            assert field.field_def is not None
            args = self._arguments[key] = argument_values(
                self.executor, field.field_def, field.group
            )
        return args

    def delegate(self) -> Steps:
        """Run the delegated fields through graphql-core, CHUNK objects between yields;
        returns what is still pending (object, key, awaitable)."""
        executor = self.executor
        is_awaitable = executor.is_awaitable
        pending: list[tuple[dict[str, Any], str, Awaitable[Any]]] = []
        done = 0
        for op, rows, paths, out in self._deferred:
            parent_type = op.graphql_type
            for source, path, obj in zip(rows.sources(), paths, out, strict=True):
                for field in op.delegated:
                    field_path = Path(path, field.key, parent_type.name)
                    value = executor.execute_field(
                        parent_type, source, field.group, field_path, None
                    )
                    if is_awaitable(value):
                        pending.append((obj, field.key, value))
                    else:
                        obj[field.key] = value
                done += 1
                if done % CHUNK == 0:
                    yield
        return pending
