"""Connecting to Temporal the same way everywhere: our data converter (pydantic JSON,
exact Decimals), namespace, and TLS or an API key for a production cluster or Temporal Cloud."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from config.converter import DATA_CONVERTER
from config.settings import Settings


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client of the configured cluster; ``runtime`` carries the worker's telemetry (the
    SDK's metrics), else the SDK's default runtime."""
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert or settings.temporal_tls_ca or settings.temporal_api_key:
        tls = TLSConfig(
            server_root_ca_cert=_read(settings.temporal_tls_ca),
            client_cert=_read(settings.temporal_tls_cert),
            client_private_key=_read(settings.temporal_tls_key),
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        tls=tls,
        api_key=settings.temporal_api_key,
        runtime=runtime,
    )
