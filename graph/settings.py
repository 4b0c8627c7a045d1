"""One Settings class shared by every process (api, worker, CLI).

Environment names follow SCHEMA.md's operating contract; the old REST
service's names (`SOCCER_POSTGRES_*`, `MLFLOW_*`, `MINIO_*`, `FASTAPI_*`,
`CORS_ALLOWED_ORIGINS`, `PROMETHEUS_MULTIPROC_DIR`) keep working.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.connection import parse_url

from graph.taskqueue.names import NAMESPACE_PATTERN, RedisNames, default_namespace

KEY_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "changethis", "secret", "token", "password"})
DEFAULT_FONBET_URL_TEMPLATE = "https://www.fon.bet/sports/football/{sport_id}/{event_id}/"

CsvList = Annotated[list[str], NoDecode]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob of the service; local defaults need no configuration."""

    # hide_input_in_errors: a refused setting must not print the API keys beside it.
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, hide_input_in_errors=True
    )

    env: Literal["local", "production"] = Field("local", validation_alias=_env("MATCHGRAPH_ENV"))
    data_dir: Path = Field(Path("./data"), validation_alias=_env("MATCHGRAPH_DATA_DIR"))
    storage: Literal["local", "s3"] = Field("local", validation_alias=_env("MATCHGRAPH_STORAGE"))
    minio_endpoint_url: str | None = Field(None, validation_alias=_env("MINIO_ENDPOINT_URL"))
    minio_access_key: str | None = Field(None, validation_alias=_env("MINIO_ACCESS_KEY"))
    minio_secret_key: SecretStr | None = Field(None, validation_alias=_env("MINIO_SECRET_KEY"))
    minio_region: str = Field("us-east-1", validation_alias=_env("MINIO_REGION"))
    # Where browsers reach the S3/MinIO endpoint: presigned report URLs are signed for
    # this host (MINIO_ENDPOINT_URL is often an in-cluster address). Unset: the same.
    minio_public_endpoint_url: str | None = Field(
        None, validation_alias=_env("MINIO_PUBLIC_ENDPOINT_URL")
    )

    database_url: str | None = Field(None, validation_alias=_env("MATCHGRAPH_DATABASE_URL"))
    postgres_user: str | None = Field(None, validation_alias=_env("SOCCER_POSTGRES_USER"))
    postgres_password: SecretStr | None = Field(
        None, validation_alias=_env("SOCCER_POSTGRES_PASSWORD")
    )
    postgres_host: str | None = Field(None, validation_alias=_env("SOCCER_POSTGRES_HOST"))
    postgres_port: int = Field(5432, validation_alias=_env("SOCCER_POSTGRES_PORT"))
    postgres_db: str | None = Field(None, validation_alias=_env("SOCCER_POSTGRES_DB"))

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", validation_alias=_env("MATCHGRAPH_REDIS_URL")
    )
    # Prefix of every Redis queue, channel and key we name (unset: derived from the
    # database of redis_url, see effective_redis_namespace).
    redis_namespace: str | None = Field(
        None, pattern=NAMESPACE_PATTERN, validation_alias=_env("MATCHGRAPH_REDIS_NAMESPACE")
    )

    mlflow_tracking_uri: str | None = Field(None, validation_alias=_env("MLFLOW_TRACKING_URI"))
    mlflow_model_name: str = Field("soccer-1x2", validation_alias=_env("MLFLOW_MODEL_NAME"))
    mlflow_model_stages: CsvList = Field(
        ["champion", "challenger"], validation_alias=_env("MLFLOW_MODEL_STAGES")
    )

    header_token: SecretStr | None = Field(None, validation_alias=_env("FASTAPI_HEADER_TOKEN"))
    query_token: SecretStr | None = Field(None, validation_alias=_env("FASTAPI_QUERY_TOKEN"))
    # Named API keys, `name:key,name:key` (e.g. `web:…,notebook:…`): the name labels the
    # key's rate-limit budget and metrics, never the key itself. FASTAPI_HEADER_TOKEN and
    # FASTAPI_QUERY_TOKEN still work, as keys named `header` and `query`.
    api_keys: SecretStr | None = Field(None, validation_alias=_env("MATCHGRAPH_API_KEYS"))
    # Cost units (graph/cost) per minute per key, or per client address when the API is
    # open; kept in Redis so every replica shares it. 0: no rate limit.
    rate_limit_cost_per_minute: int = Field(
        0, ge=0, validation_alias=_env("MATCHGRAPH_RATE_LIMIT_COST_PER_MINUTE")
    )
    # Peers whose X-Forwarded-For is believed (addresses or CIDR networks); others' is not.
    trusted_proxies: CsvList = Field([], validation_alias=_env("MATCHGRAPH_TRUSTED_PROXIES"))
    # Trusted documents: a manifest (Apollo's persisted-query manifest or GraphQL Codegen's
    # persisted-documents.json); with persisted_only, nothing else executes.
    persisted_documents: Path | None = Field(
        None, validation_alias=_env("MATCHGRAPH_PERSISTED_DOCUMENTS")
    )
    persisted_only: bool = Field(False, validation_alias=_env("MATCHGRAPH_PERSISTED_ONLY"))
    # Automatic persisted queries: how long Redis keeps a registration, and how many
    # documents each process keeps in memory in front of it.
    apq_ttl_seconds: int = Field(86_400, ge=1, validation_alias=_env("MATCHGRAPH_APQ_TTL_SECONDS"))
    apq_cache_size: int = Field(1000, ge=0, validation_alias=_env("MATCHGRAPH_APQ_CACHE_SIZE"))
    # On SIGTERM: how long running operations may take to finish before open streams are
    # closed and the process exits (keep the deploy's grace period above it).
    drain_seconds: float = Field(10.0, ge=0, validation_alias=_env("MATCHGRAPH_DRAIN_SECONDS"))
    # OpenTelemetry tracing (spans for parse, validate, cost, execute, loader batches); the
    # exporter is configured by the standard OTEL_* environment.
    otel_enabled: bool = Field(False, validation_alias=_env("MATCHGRAPH_OTEL_ENABLED"))
    # Distinct operation names a process labels its metrics with; beyond: `other`.
    metrics_max_operation_names: int = Field(
        100, ge=1, validation_alias=_env("MATCHGRAPH_METRICS_MAX_OPERATION_NAMES")
    )
    cors_allowed_origins: CsvList = Field([], validation_alias=_env("CORS_ALLOWED_ORIGINS"))
    prometheus_multiproc_dir: Path | None = Field(
        None, validation_alias=_env("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")
    )
    metrics_auth: bool = Field(False, validation_alias=_env("MATCHGRAPH_METRICS_AUTH"))

    refresh_seconds: float = Field(60.0, gt=0, validation_alias=_env("MATCHGRAPH_REFRESH_SECONDS"))
    sync_timeout: float = Field(10.0, gt=0, validation_alias=_env("MATCHGRAPH_SYNC_TIMEOUT"))
    subscription_timeout: float = Field(
        600.0, gt=0, validation_alias=_env("MATCHGRAPH_SUBSCRIPTION_TIMEOUT")
    )
    model_info_ttl: float = Field(300.0, ge=0, validation_alias=_env("MATCHGRAPH_MODEL_INFO_TTL"))
    short_job_timeout: float = Field(
        30.0, gt=0, validation_alias=_env("MATCHGRAPH_SHORT_JOB_TIMEOUT")
    )
    long_job_timeout: float = Field(
        1800.0, gt=0, validation_alias=_env("MATCHGRAPH_LONG_JOB_TIMEOUT")
    )
    worker_idle_poll: float = Field(0.5, gt=0, validation_alias=_env("MATCHGRAPH_WORKER_IDLE_POLL"))
    worker_max_jobs: int = Field(20, ge=1, validation_alias=_env("MATCHGRAPH_WORKER_MAX_JOBS"))
    # OpenMP/BLAS threads for live predictions on the worker's event loop (batch inference,
    # in its own thread, keeps every core).
    # How long a live prediction on a busy worker may wait for the jobs starting behind it
    # to share its model call (jobs/batcher.py); a job alone never waits. 0: no waiting.
    worker_batch_window: float = Field(
        0.01, ge=0, le=1, validation_alias=_env("MATCHGRAPH_WORKER_BATCH_WINDOW")
    )
    worker_model_threads: int = Field(
        1, ge=1, validation_alias=_env("MATCHGRAPH_WORKER_MODEL_THREADS")
    )
    # Failure drills only: every job waits this long after it starts.
    job_delay_seconds: float = Field(
        0.0, ge=0, validation_alias=_env("MATCHGRAPH_JOB_DELAY_SECONDS")
    )
    fonbet_url_template: str = Field(
        DEFAULT_FONBET_URL_TEMPLATE, validation_alias=_env("MATCHGRAPH_FONBET_URL_TEMPLATE")
    )

    max_first: int = Field(5000, ge=1, validation_alias=_env("MATCHGRAPH_MAX_FIRST"))
    max_depth: int = Field(12, ge=1, validation_alias=_env("MATCHGRAPH_MAX_DEPTH"))
    max_aliases: int = Field(30, ge=1, validation_alias=_env("MATCHGRAPH_MAX_ALIASES"))
    max_tokens: int = Field(5000, ge=1, validation_alias=_env("MATCHGRAPH_MAX_TOKENS"))
    # Budget of the check that fields sharing a response name can merge (graph/validation.py,
    # graphql-core's units: 2 per pair of fields compared, more with arguments); real
    # queries stay far below it, a field repeated a hundred times does not.
    max_field_merge_cost: int = Field(
        20_000, ge=1, validation_alias=_env("MATCHGRAPH_MAX_FIELD_MERGE_COST")
    )
    max_feature_names: int = Field(
        1000, ge=1, validation_alias=_env("MATCHGRAPH_MAX_FEATURE_NAMES")
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, validation_alias=_env("MATCHGRAPH_MAX_BODY_BYTES")
    )
    # Cost analysis before execution (graph/cost): the estimate of an operation (IBM cost
    # spec) at most max_cost; `measure` executes anyway and only counts what is over.
    max_cost: int = Field(200_000, ge=1, validation_alias=_env("MATCHGRAPH_MAX_COST"))
    cost_mode: Literal["measure", "enforce"] = Field(
        "enforce", validation_alias=_env("MATCHGRAPH_COST_MODE")
    )
    introspection: bool = Field(True, validation_alias=_env("MATCHGRAPH_INTROSPECTION"))
    # Whether a request may ask for debug extensions (`loaderBatches`) with the header
    # `X-Matchgraph-Debug: 1`; unset: see effective_debug_extensions.
    debug_extensions: bool | None = Field(
        None, validation_alias=_env("MATCHGRAPH_DEBUG_EXTENSIONS")
    )
    # Compiled execution (graph/planner): table-backed selections answered from column
    # gathers instead of graphql-core's per-field path. Off: every operation runs in
    # graphql-core (the differential tests and the bench compare the two).
    planner: bool = Field(True, validation_alias=_env("MATCHGRAPH_PLANNER"))
    max_subscriptions: int = Field(20, ge=1, validation_alias=_env("MATCHGRAPH_MAX_SUBSCRIPTIONS"))
    operation_timeout: float = Field(
        30.0, gt=0, validation_alias=_env("MATCHGRAPH_OPERATION_TIMEOUT")
    )
    document_cache_size: int = Field(
        256, ge=1, validation_alias=_env("MATCHGRAPH_DOCUMENT_CACHE_SIZE")
    )
    response_cache_mb: float = Field(
        64.0, ge=0, validation_alias=_env("MATCHGRAPH_RESPONSE_CACHE_MB")
    )

    host: str = Field("127.0.0.1", validation_alias=_env("MATCHGRAPH_HOST"))
    port: int = Field(8000, validation_alias=_env("MATCHGRAPH_PORT"))
    # Base of every absolute URL the API builds (never the request's Host header);
    # unset: see effective_public_url.
    public_url: str | None = Field(None, validation_alias=_env("MATCHGRAPH_PUBLIC_URL"))

    @field_validator("redis_namespace", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("public_url", "minio_public_endpoint_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(f"an absolute http(s) URL is needed, got {value!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"a base URL takes no query or fragment, got {value!r}")
        return value.strip().rstrip("/")

    @field_validator(
        "mlflow_model_stages", "cors_allowed_origins", "trusted_proxies", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_open_production(self) -> Settings:
        if self.env != "production":
            return self
        tokens = list(self.named_api_keys.values())
        if not tokens:
            raise ValueError(
                "MATCHGRAPH_ENV=production needs MATCHGRAPH_API_KEYS, FASTAPI_HEADER_TOKEN "
                "or FASTAPI_QUERY_TOKEN"
            )
        if any(t.strip().lower() in _PLACEHOLDER_SECRETS for t in tokens):
            raise ValueError("refusing a placeholder API token in production")
        return self

    @model_validator(mode="after")
    def _well_formed_api_keys(self) -> Settings:
        self.named_api_keys  # noqa: B018 - raises on a malformed MATCHGRAPH_API_KEYS
        return self

    @property
    def named_api_keys(self) -> dict[str, str]:
        """Every key by its name: MATCHGRAPH_API_KEYS's, then FASTAPI_HEADER_TOKEN as
        `header` and FASTAPI_QUERY_TOKEN as `query` (a name given twice is refused).
        Read per request: parsed once per distinct value (`_named_keys` caches)."""
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        header = self.header_token.get_secret_value() if self.header_token else ""
        query = self.query_token.get_secret_value() if self.query_token else ""
        return dict(_named_keys(raw, header, query))

    @property
    def auth_enabled(self) -> bool:
        """Any key configured."""
        return bool(self.named_api_keys)

    @property
    def effective_database_url(self) -> str:
        """MATCHGRAPH_DATABASE_URL, else SOCCER_POSTGRES_*, else SQLite in the data dir."""
        if self.database_url:
            return self.database_url
        if self.postgres_host and self.postgres_db:
            password = self.postgres_password.get_secret_value() if self.postgres_password else ""
            user = quote(self.postgres_user or "postgres", safe="")
            auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
            return (
                f"postgresql+asyncpg://{auth}{self.postgres_host}:{self.postgres_port}/"
                f"{self.postgres_db}"
            )
        return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'livescores.sqlite'}"

    @property
    def redis_db(self) -> int:
        """The database number of redis_url (path `/N` or `?db=N`; 0 when it names none)."""
        try:  # redis-py's own reading of the URL, so we agree with the client on the database
            db = parse_url(self.redis_url).get("db")  # type: ignore[no-untyped-call]
        except ValueError:  # not a Redis URL: connecting will say so
            return 0
        return int(db or 0)

    @property
    def effective_redis_namespace(self) -> str:
        """MATCHGRAPH_REDIS_NAMESPACE, else `matchgraph` on database 0 and `matchgraph:db<N>`
        on database N (pub/sub channels are server-wide: stacks on two databases of one
        Redis must not hear each other)."""
        return self.redis_namespace or default_namespace(self.redis_db)

    @property
    def redis_names(self) -> RedisNames:
        """The queues, channels and keys of effective_redis_namespace."""
        return RedisNames(self.effective_redis_namespace)

    @property
    def effective_public_url(self) -> str | None:
        """MATCHGRAPH_PUBLIC_URL without its trailing `/`; unset, in local mode where we
        serve (`http://MATCHGRAPH_HOST:MATCHGRAPH_PORT`, a wildcard bind as loopback),
        in production None: links are then root-relative paths."""
        if self.public_url:
            return self.public_url
        if self.env != "local":
            return None
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:  # an IPv6 literal
            host = f"[{host.strip('[]')}]"
        return f"http://{host}:{self.port}"

    @property
    def effective_debug_extensions(self) -> bool:
        """MATCHGRAPH_DEBUG_EXTENSIONS; unset, true in local mode and false in production."""
        if self.debug_extensions is not None:
            return self.debug_extensions
        return self.env == "local"

    @property
    def effective_mlflow_uri(self) -> str:
        """MLFLOW_TRACKING_URI, else a SQLite registry in the data dir."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.data_dir.resolve() / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.data_dir.resolve() / "mlflow" / "artifacts"


@lru_cache(maxsize=8)
def _named_keys(raw: str, header: str, query: str) -> tuple[tuple[str, str], ...]:
    """MATCHGRAPH_API_KEYS parsed, then the FASTAPI_* tokens as `header` and `query`."""
    keys: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, key = item.partition(":")
        name, key = name.strip(), key.strip()
        if not sep or not KEY_NAME.fullmatch(name) or not key:
            raise ValueError(
                "MATCHGRAPH_API_KEYS takes `name:key` pairs separated by commas, names of "
                f"letters, digits, `_` and `-`; got an entry named {name!r}"
            )
        if name in keys:
            raise ValueError(f"MATCHGRAPH_API_KEYS names {name!r} twice")
        keys[name] = key
    for name, secret in (("header", header), ("query", query)):
        if secret:
            if name in keys:
                raise ValueError(f"the key name {name!r} is taken by FASTAPI_*_TOKEN")
            keys[name] = secret
    return tuple(keys.items())
