"""What an operator's monitoring sees: Prometheus counters of the core, and an optional /healthz and /metrics server."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

LATENCY_BUCKETS_SECONDS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    """The core's counters, in a registry of their own so that several services (tests) never share numbers."""

    def __init__(self, pictures_in_progress: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.pictures_read = Counter(
            "digitbot_pictures_read", "Pictures read to a digit", ["platform"], registry=self.registry
        )
        self.errors = Counter(
            "digitbot_errors",
            "Requests or pictures answered with an error, by kind",
            ["kind", "platform"],
            registry=self.registry,
        )
        self.read_seconds = Histogram(
            "digitbot_read_seconds",
            "Bytes to prediction, per picture",
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=self.registry,
        )
        in_progress = Gauge(
            "digitbot_pictures_in_progress", "Pictures accepted, not yet answered", registry=self.registry
        )
        in_progress.set_function(pictures_in_progress)

    def count_read(self, platform: str, milliseconds: float) -> None:
        self.pictures_read.labels(platform).inc()
        self.read_seconds.observe(milliseconds / 1000)

    def count_error(self, kind: str, platform: str) -> None:
        self.errors.labels(kind, platform).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def start_metrics_server(
    metrics: ServiceMetrics, host: str, port: int, is_healthy: Callable[[], bool]
) -> web.AppRunner:
    """Serves /healthz (200 while the bot takes work, 503 while it stops) and /metrics; `await runner.cleanup()`."""

    async def healthz(_: web.Request) -> web.Response:
        healthy = is_healthy()
        return web.Response(status=200 if healthy else 503, text="ok\n" if healthy else "stopping\n")

    async def metrics_page(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("Serving /healthz and /metrics on %s:%d", host, port)
    return runner
