"""Build the storage backend the settings name."""

from __future__ import annotations

from graph.settings import Settings
from graph.sources.local import LocalStorage
from graph.sources.s3 import S3Storage
from graph.sources.storage import Storage


def build_storage(settings: Settings) -> Storage:
    if settings.storage == "s3":
        secret = settings.minio_secret_key.get_secret_value() if settings.minio_secret_key else None
        return S3Storage(
            endpoint_url=settings.minio_endpoint_url,
            access_key=settings.minio_access_key,
            secret_key=secret,
            region=settings.minio_region,
            public_endpoint_url=settings.minio_public_endpoint_url,
        )
    return LocalStorage(settings.data_dir)
