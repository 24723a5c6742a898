"""Downloading a picture a user posted: streamed, and stopped at the size limit whatever the server declared."""

from __future__ import annotations

import aiohttp

from bot.errors import DownloadFailed, ImageTooLarge

CHUNK_BYTES = 64 * 1024


async def download_capped(session: aiohttp.ClientSession, url: str, max_bytes: int, *, name: str = "") -> bytes:
    """The body at `url`, read chunk by chunk; at `max_bytes` + 1 bytes the download stops and is refused.

    Raises ImageTooLarge (too big, declared or not) or DownloadFailed (HTTP error, network); the caller sets the
    time limit. The URL is never in the error, since a platform's file URL may carry a token.
    """
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise DownloadFailed(f"{name}: the server answered HTTP {response.status}")
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise ImageTooLarge(f"{name} has {declared} bytes", limit_bytes=max_bytes)
            body = bytearray()
            async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                body += chunk
                if len(body) > max_bytes:
                    body.clear()  # a traceback keeps this frame alive for a while: not its megabytes
                    raise ImageTooLarge(f"{name} has over {max_bytes} bytes", limit_bytes=max_bytes)
            return bytes(body)
    except aiohttp.ClientError as error:
        raise DownloadFailed(f"{name} was not downloaded: {type(error).__name__}") from None
