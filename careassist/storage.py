"""Reading and writing files at a location that is a local folder or an ``s3://bucket/prefix``.

Writers are atomic for readers that follow the platform's rule: a snapshot exists only once its
manifest exists, and a pointer file is replaced in one operation (``os.replace`` or one PUT).
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from careassist.settings import Settings


class StorageError(RuntimeError):
    """A location could not be read or written; the message names the URI."""


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def join(base: str, *parts: str) -> str:
    """Join path parts onto a folder path or an S3 URI."""
    if is_s3(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if not parts.netloc:
        raise StorageError(f"{uri!r} names no bucket")
    return parts.netloc, parts.path.lstrip("/")


@functools.lru_cache(maxsize=8)
def _client(endpoint_url: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region, config=config)


def s3_client(settings: Settings | None = None) -> Any:
    """The boto3 S3 client for the configured endpoint (cached per endpoint)."""
    if settings is None:
        from careassist.settings import get_settings

        settings = get_settings()
    return _client(settings.s3_endpoint_url, settings.s3_region)


def _s3_call(uri: str, settings: Settings | None, fn: str, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    client = s3_client(settings)
    try:
        return getattr(client, fn)(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise FileNotFoundError(uri) from None
        raise StorageError(f"S3 refused {fn} on {uri}: {code or exc}") from None
    except BotoCoreError as exc:
        raise StorageError(f"cannot reach the S3 endpoint for {uri}: {exc}") from None


class Location:
    """A folder or S3 prefix with the few operations the data layer needs."""

    def __init__(self, uri: str, settings: Settings | None = None) -> None:
        self.uri = uri.rstrip("/") if is_s3(uri) else str(Path(uri))
        self.settings = settings

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    def child(self, *parts: str) -> Location:
        return Location(join(self.uri, *parts), self.settings)

    def path_of(self, name: str) -> str:
        return join(self.uri, name)

    # -- reading ---------------------------------------------------------------------------
    def read_bytes(self, name: str) -> bytes:
        uri = self.path_of(name)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            return _s3_call(uri, self.settings, "get_object", Bucket=bucket, Key=key)["Body"].read()
        try:
            return Path(uri).read_bytes()
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise StorageError(f"cannot read {uri}: {exc.strerror}") from None

    def exists(self, name: str) -> bool:
        try:
            if is_s3(self.uri):
                uri = self.path_of(name)
                bucket, key = split_s3(uri)
                _s3_call(uri, self.settings, "head_object", Bucket=bucket, Key=key)
                return True
            return Path(self.path_of(name)).exists()
        except FileNotFoundError:
            return False

    def list_files(self) -> list[str]:
        """Names (relative to this location) of all files below it, sorted."""
        if is_s3(self.uri):
            bucket, prefix = split_s3(self.uri + "/")
            names: list[str] = []
            token: dict[str, str] = {}
            while True:
                page = _s3_call(self.uri, self.settings, "list_objects_v2", Bucket=bucket, Prefix=prefix, **token)
                names += [obj["Key"][len(prefix) :] for obj in page.get("Contents", [])]
                if not page.get("IsTruncated"):
                    return sorted(names)
                token = {"ContinuationToken": page["NextContinuationToken"]}
        root = Path(self.uri)
        if not root.is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    # -- writing ---------------------------------------------------------------------------
    def write_bytes(self, name: str, data: bytes) -> str:
        """Write one file in one step: a temporary file renamed into place, or one PUT."""
        uri = self.path_of(name)
        if is_s3(uri):
            bucket, key = split_s3(uri)
            _s3_call(uri, self.settings, "put_object", Bucket=bucket, Key=key, Body=data)
            return uri
        path = Path(uri)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot write {uri}: {exc.strerror}") from None
        return uri

    def delete(self) -> None:
        """Remove everything below this location (a no-op when it is absent)."""
        if is_s3(self.uri):
            bucket, _ = split_s3(self.uri)
            for name in self.list_files():
                key = split_s3(self.path_of(name))[1]
                _s3_call(self.uri, self.settings, "delete_object", Bucket=bucket, Key=key)
            return
        shutil.rmtree(self.uri, ignore_errors=True)

    def move_to(self, target: Location, last: str | None = None) -> None:
        """Move this folder to ``target``: a rename locally; on S3 a copy (``last`` copied last,
        so a reader that waits for it never sees a partial folder), then a delete."""
        if not is_s3(self.uri) and not is_s3(target.uri):
            Path(target.uri).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.uri, target.uri)
            return
        names = sorted(self.list_files(), key=lambda name: name == last)
        for name in names:
            target.write_bytes(name, self.read_bytes(name))
        self.delete()


def ensure_bucket(settings: Settings) -> None:
    """Create the configured bucket if it does not exist (production set-up and tests)."""
    uri = f"s3://{settings.s3_bucket}"
    try:
        _s3_call(uri, settings, "head_bucket", Bucket=settings.s3_bucket)
    except (FileNotFoundError, StorageError):
        _s3_call(uri, settings, "create_bucket", Bucket=settings.s3_bucket)
