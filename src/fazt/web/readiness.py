"""A worker proves it serves before the supervisor retires the old one.

Workers share their port (SO_REUSEPORT), so "the port accepts connections" proves
nothing about the new worker. It asks `/health` over the real port until the answer
carries its own instance id: the kernel spreads new connections over the listeners.
"""

import asyncio
import json
import os
import ssl
import time

CHECK_DEADLINE = 20.0


def loopback_for(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


async def health_instance(host: str, port: int, use_tls: bool = False) -> str | None:
    """The `instance` reported by whichever worker answers one /health request."""
    context = None
    if use_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(loopback_for(host), port, ssl=context), 2.0
    )
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        raw = await asyncio.wait_for(reader.read(), 2.0)
    finally:
        writer.close()
    _, _, body = raw.partition(b"\r\n\r\n")
    try:
        return json.loads(body)["data"].get("instance")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def prove_serving(host: str, port: int, instance: str, use_tls: bool = False) -> None:
    """Return once this worker answered over the port; raise RuntimeError at the deadline."""
    deadline = time.monotonic() + CHECK_DEADLINE
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            if await health_instance(host, port, use_tls) == instance:
                return
            last_error = "answered by another worker"
        except (TimeoutError, OSError) as exc:
            last_error = str(exc) or type(exc).__name__
            await asyncio.sleep(0.02)
    raise RuntimeError(f"self-check failed: /health on port {port}: {last_error}")


def report_progress(fd: int | None, step: str) -> None:
    """Tell the supervisor that starting goes on (it gives up on a silent worker):
    "starting", "opening" (the database: a backup and migrations may take long), "opened",
    "proved" (it answered over the port; HTTPS, if on, starts next)."""
    if fd is not None:
        os.write(fd, f"{step}\n".encode())


def report_ready(fd: int | None) -> None:
    """Tell the supervisor (which passed us the write end of a pipe) that we serve."""
    if fd is None:
        return
    try:
        os.write(fd, b"ready\n")
    finally:
        os.close(fd)
