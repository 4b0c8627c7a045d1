"""Storage over S3 or MinIO through aiobotocore (one client per process)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from graph.sources.errors import ObjectNotFound
from graph.sources.storage import ObjectStat, Storage, check_bucket, check_key

_MISSING = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})


class S3Storage(Storage):
    """Buckets are the logical bucket names of DATA.md, created on first write."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        access_key: str | None,
        secret_key: str | None,
        region: str = "us-east-1",
        public_endpoint_url: str | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "region_name": region,
            # SigV4 for presigned URLs too (botocore would presign with deprecated SigV2).
            "config": AioConfig(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3},
                signature_version="s3v4",
            ),
        }
        # Presigned URLs are for browsers: signed for the public endpoint (a second
        # client that only signs, offline) when the service reaches S3 elsewhere.
        self._public_endpoint_url = public_endpoint_url
        self._stack = AsyncExitStack()
        self._client: Any = None
        self._signer: Any = None
        self._known_buckets: set[str] = set()

    async def _s3(self) -> Any:
        if self._client is None:
            client_cm = get_session().create_client("s3", **self._options)
            self._client = await self._stack.enter_async_context(client_cm)
        return self._client

    async def _signing_client(self) -> Any:
        if self._public_endpoint_url is None:
            return await self._s3()
        if self._signer is None:
            options = {**self._options, "endpoint_url": self._public_endpoint_url}
            client_cm = get_session().create_client("s3", **options)
            self._signer = await self._stack.enter_async_context(client_cm)
        return self._signer

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
        self._signer = None

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        key = check_key(bucket, key)
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise ObjectNotFound(f"{bucket}/{key}") from exc
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def put_bytes(self, bucket: str, key: str, data: bytes, *, content_type: str) -> None:
        key = check_key(bucket, key)  # before _ensure_bucket: never create a refused bucket
        s3 = await self._s3()
        await self._ensure_bucket(s3, bucket)
        await s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    async def stat(self, bucket: str, key: str) -> ObjectStat | None:
        key = check_key(bucket, key)
        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        return ObjectStat(
            bucket=bucket,
            key=key,
            size=int(head["ContentLength"]),
            last_modified=head["LastModified"],
            etag=str(head["ETag"]).strip('"'),
        )

    async def list(self, bucket: str, prefix: str = "") -> list[ObjectStat]:
        check_bucket(bucket)
        s3 = await self._s3()
        found: list[ObjectStat] = []
        paginator = s3.get_paginator("list_objects_v2")
        try:
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                found.extend(_listed(bucket, item) for item in page.get("Contents", []))
        except ClientError as exc:
            if _is_missing(exc):
                return []
            raise
        return sorted(found, key=lambda s: s.key)

    async def presigned_url(self, bucket: str, key: str, *, expires: int = 3600) -> str | None:
        key = check_key(bucket, key)
        s3 = await self._signing_client()
        url: str = await s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": bucket, "Key": key},
            ExpiresIn=expires,
        )
        return url

    async def _ensure_bucket(self, s3: Any, bucket: str) -> None:
        if bucket in self._known_buckets:
            return
        try:
            await s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if not _is_missing(exc):
                raise
            try:
                await s3.create_bucket(Bucket=bucket)
            except ClientError as race:  # another process created it in between
                if _code(race) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        self._known_buckets.add(bucket)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _is_missing(exc: ClientError) -> bool:
    return _code(exc) in _MISSING


def _listed(bucket: str, item: dict[str, Any]) -> ObjectStat:
    return ObjectStat(
        bucket=bucket,
        key=item["Key"],
        size=int(item["Size"]),
        last_modified=item["LastModified"],
        etag=str(item["ETag"]).strip('"'),
    )
