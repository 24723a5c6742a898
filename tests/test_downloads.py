"""Streamed, capped downloads against a real HTTP server on 127.0.0.1 that may lie about sizes."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from bot.downloads import CHUNK_BYTES, download_capped
from bot.errors import DownloadFailed, ImageTooLarge

LIMIT = 100_000


class LyingCdn:
    """Serves files whose bodies may be far larger than what the headers declare; counts bytes sent."""

    def __init__(self) -> None:
        self.bytes_sent = 0

    async def small(self, _: web.Request) -> web.Response:
        return web.Response(body=b"x" * 1000)

    async def declares_too_much(self, _: web.Request) -> web.Response:
        return web.Response(body=b"x" * (LIMIT + 1))

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """Chunked, no Content-Length: 50 MB of zeros unless the client hangs up first."""
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = bytes(CHUNK_BYTES)
        try:
            for _ in range(50_000_000 // CHUNK_BYTES):
                await response.write(chunk)
                self.bytes_sent += len(chunk)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def missing(self, _: web.Request) -> web.Response:
        return web.Response(status=404)


@pytest.fixture
async def cdn():
    fake = LyingCdn()
    app = web.Application()
    app.router.add_get("/small", fake.small)
    app.router.add_get("/declares-too-much", fake.declares_too_much)
    app.router.add_get("/endless", fake.endless)
    app.router.add_get("/missing", fake.missing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as session:
        yield fake, session, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_small_file_is_read_whole(cdn):
    _, session, base = cdn
    assert await download_capped(session, f"{base}/small", LIMIT) == b"x" * 1000


async def test_a_declared_size_over_the_limit_is_refused_before_the_body_is_read(cdn):
    _, session, base = cdn
    with pytest.raises(ImageTooLarge) as refused:
        await download_capped(session, f"{base}/declares-too-much", LIMIT)
    assert refused.value.limit_bytes == LIMIT


async def test_an_endless_body_is_cut_just_past_the_limit(cdn):
    fake, session, base = cdn
    with pytest.raises(ImageTooLarge):
        await download_capped(session, f"{base}/endless", LIMIT, name="endless.png")
    assert fake.bytes_sent < 50_000_000 // 10, "the download stopped early, not at the end of the stream"


async def test_an_http_error_or_a_closed_port_is_a_failed_download_without_the_url(cdn):
    _, session, base = cdn
    with pytest.raises(DownloadFailed, match="HTTP 404"):
        await download_capped(session, f"{base}/missing?token=secret", LIMIT)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    with pytest.raises(DownloadFailed) as failed:
        await download_capped(session, f"http://127.0.0.1:{closed}/x?token=secret", LIMIT)
    assert "secret" not in str(failed.value)
