"""The optional /healthz and /metrics server, scraped over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket

import aiohttp

from bot.metrics import ServiceMetrics, start_metrics_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_healthz_says_ok_until_the_bot_stops_and_metrics_are_prometheus_text():
    metrics = ServiceMetrics(pictures_in_progress=lambda: 3)
    metrics.count_read("discord", 4.0)
    metrics.count_error("NotAnImage", "discord")
    healthy = [True]
    port = free_port()
    runner = await start_metrics_server(metrics, "127.0.0.1", port, lambda: healthy[0])
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert (response.status, await response.text()) == (200, "ok\n")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                page = await response.text()
                assert response.headers["Content-Type"].startswith("text/plain; version=")
            healthy[0] = False
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
    finally:
        await runner.cleanup()

    assert 'digitbot_pictures_read_total{platform="discord"} 1.0' in page
    assert 'digitbot_errors_total{kind="NotAnImage",platform="discord"} 1.0' in page
    assert 'digitbot_read_seconds_bucket{le="0.005"} 1.0' in page
    assert "digitbot_pictures_in_progress 3.0" in page
