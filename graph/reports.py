"""Drift status and the Evidently HTML reports.

`drift` is a snapshot table (reports/drift/latest.json), so it is versioned,
refreshed and cacheable like the other tables. `reports` lists storage at
request time: the listing is not part of the data version and its presigned
URLs expire, so a response holding it is never put in the response cache.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from urllib.parse import quote

import strawberry

from graph.context import Info
from graph.cost.directives import ListSize
from graph.errors import Code, GraphError
from graph.settings import Settings
from graph.sources.drift import DriftReport
from graph.sources.storage import ObjectStat, Storage
from graph.sources.tables import DRIFT, EVIDENTLY_PREFIX, REPORTS_BUCKET

log = logging.getLogger(__name__)

REPORT_SUFFIX = ".html"
PRESIGNED_SECONDS = 3600  # as the old service: links stay valid for an hour
MAX_NAME_LENGTH = 255


@strawberry.type(description="One feature's drift test (reference window vs current window).")
class FeatureDrift:
    name: str = strawberry.field(description="Feature name, e.g. `diff_goals_w5`.")
    drifted: bool = strawberry.field(description="Whether this feature's distribution drifted.")
    statistic: float | None = strawberry.field(
        description="Test statistic (Kolmogorov-Smirnov D for the demo pipeline); null when "
        "a window had no values."
    )
    p_value: float | None = strawberry.field(
        description="p-value of the test; the feature drifts below the file's threshold."
    )
    reference_mean: float | None = strawberry.field(
        description="Mean over the reference (training) window."
    )
    current_mean: float | None = strawberry.field(description="Mean over the current window.")


@strawberry.type(
    description="The pipeline's latest data-drift verdict (reports/drift/latest.json)."
)
class DriftStatus:
    computed_at: datetime | None = strawberry.field(
        description="When the pipeline computed it (`computed_at`; when absent from the file, "
        "when the file was written)."
    )
    dataset_drift: bool = strawberry.field(
        description="Whether the data set as a whole drifted (enough features drifted)."
    )
    drifted_features: list[str] = strawberry.field(
        description="Names of the features that drifted."
    )
    share_drifted: float | None = strawberry.field(
        description="Share of the features that drifted, 0..1."
    )
    features: list[FeatureDrift] = strawberry.field(
        description="Each feature's statistics, in the file's order (empty when it has none).",
        directives=[ListSize(assumed_size=20)],  # as `Match.features`
    )
    method: str | None = strawberry.field(description="Test used, e.g. `ks_2samp`.")
    p_threshold: float | None = strawberry.field(
        description="p-value below which a feature counts as drifted."
    )
    reference_rows: int | None = strawberry.field(
        description="Rows in the reference (training) window."
    )
    current_rows: int | None = strawberry.field(description="Rows in the current window.")


@strawberry.type(
    description="An Evidently HTML report the pipeline wrote under reports/evidently/."
)
class Report:
    filename: str = strawberry.field(description="File name, e.g. `data_drift_2025-06-01.html`.")
    last_modified: datetime | None = strawberry.field(
        description="When the file was written (mtime or S3 LastModified)."
    )
    url: str = strawberry.field(
        description="Where to open it: a presigned S3 URL valid for one hour (on "
        "MINIO_PUBLIC_ENDPOINT_URL when set), or with local storage this service's "
        "`/reports/<filename>` under MATCHGRAPH_PUBLIC_URL (which needs the API key when one "
        "is configured)."
    )


def drift_status(report: DriftReport, written_at: datetime | None) -> DriftStatus:
    return DriftStatus(
        computed_at=report.computed_at or written_at,
        dataset_drift=report.dataset_drift,
        drifted_features=list(report.drifted_features),
        share_drifted=report.share_drifted,
        features=[
            FeatureDrift(
                name=f.name,
                drifted=f.drifted,
                statistic=f.statistic,
                p_value=f.p_value,
                reference_mean=f.reference_mean,
                current_mean=f.current_mean,
            )
            for f in report.features
        ],
        method=report.method,
        p_threshold=report.p_threshold,
        reference_rows=report.reference_rows,
        current_rows=report.current_rows,
    )


def resolve_drift(info: Info) -> DriftStatus | None:
    data = info.context.data
    report = data.drift
    return None if report is None else drift_status(report, data.modified_at(DRIFT.name))


DRIFT_DESCRIPTION = (
    "The pipeline's latest data-drift verdict (reports/drift/latest.json); null when it has "
    "not been produced. Refreshed like the other files; an invalid file keeps the last good one."
)


def report_name_problem(name: str) -> str | None:
    """Why `name` is not a plain report file name, or None when it is one."""
    if not name or len(name) > MAX_NAME_LENGTH:
        return "a report name is 1 to 255 characters"
    if "/" in name or "\\" in name or ".." in name:
        return "a report name cannot contain path separators or `..`"
    if name.startswith(".") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "a report name cannot start with `.` or contain control characters"
    if not name.lower().endswith(REPORT_SUFFIX):
        return "only `.html` reports are served"
    return None


def report_key(name: str) -> str:
    return EVIDENTLY_PREFIX + name


async def list_reports(storage: Storage) -> list[ObjectStat]:
    """Report files directly under reports/evidently/, newest first (ties by name)."""
    listed = await storage.list(REPORTS_BUCKET, EVIDENTLY_PREFIX)
    found = [s for s in listed if report_name_problem(s.key[len(EVIDENTLY_PREFIX) :]) is None]
    found.sort(key=lambda s: s.key)
    found.sort(key=lambda s: s.last_modified, reverse=True)  # stable: ties stay by name
    return found


def own_url(settings: Settings, name: str) -> str:
    """This service's `/reports/<name>` under MATCHGRAPH_PUBLIC_URL (root-relative when
    there is none). Never built from the request: its Host header is the client's to set."""
    path = f"/reports/{quote(name, safe='')}"
    base = settings.effective_public_url
    return path if base is None else base + path


async def resolve_reports(info: Info) -> list[Report]:
    info.context.uncacheable()  # a live listing with expiring URLs, not a snapshot
    storage = info.context.sources.storage
    try:
        found = await list_reports(storage)
        signed = await asyncio.gather(
            *(storage.presigned_url(s.bucket, s.key, expires=PRESIGNED_SECONDS) for s in found)
        )
    except Exception as exc:  # storage outage: this field fails, with a code
        log.warning("listing reports failed: %s: %s", type(exc).__name__, exc)
        raise GraphError(
            "reports are unavailable: the report storage cannot be reached",
            Code.SERVICE_UNAVAILABLE,
        ) from exc
    names = [s.key[len(EVIDENTLY_PREFIX) :] for s in found]
    return [
        Report(
            filename=name,
            last_modified=stat.last_modified,
            url=url or own_url(info.context.settings, name),
        )
        for name, stat, url in zip(names, found, signed, strict=True)
    ]


REPORTS_DESCRIPTION = (
    "Evidently HTML reports under reports/evidently/, newest first, with a URL to open each "
    "(presigned for one hour on S3). Listed at request time, so never served from the "
    "response cache. A storage failure is a SERVICE_UNAVAILABLE error on this field; the field "
    "is non-null, so the error nulls the whole `data`: ask for it in its own operation."
)
