"""moto's S3 server (an emulation of S3) in a subprocess on a free loopback port.

Used by tests/test_object_store.py and benchmarks/bench_object_store.py: no real object store
is reachable from the development and CI machines, so the readers' URL paths are exercised
against this emulation, which s3fs talks to over HTTP as it would to S3.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""Dummy credentials: the emulation accepts any; real ones must never be needed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_s3_server(timeout_s: float = 60) -> Iterator[str]:
    """Run ``python -m moto.server`` on 127.0.0.1 until the block ends; yields its URL."""
    port = _free_port()
    env = {**os.environ, **KEYS, "AWS_DEFAULT_REGION": "us-east-1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto's S3 server did not start (exit code {server.poll()})"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def storage_options(endpoint: str) -> dict[str, Any]:
    """fsspec / s3fs storage options of the emulated store at ``endpoint``."""
    return {
        "endpoint_url": endpoint,
        "key": KEYS["AWS_ACCESS_KEY_ID"],
        "secret": KEYS["AWS_SECRET_ACCESS_KEY"],
    }
