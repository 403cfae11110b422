"""Starlette ASGI app: channel webhooks, /healthz and /metrics; workers run in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots import metrics
from bots.app import Runner, Services
from bots.pipeline.store import backlog

log = logging.getLogger(__name__)


def create_app(services: Services, *, run_workers: bool = True) -> Starlette:
    """The HTTP face of relaydesk; `run_workers=False` serves HTTP only (tests, ingest-only)."""

    async def healthz(_request: Request) -> Response:
        try:
            async with services.db.session() as session:
                await session.execute(text("SELECT 1"))
                queues = await backlog(session)
        except Exception as exc:
            log.warning("healthz: database check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "channels": sorted(services.channels), **queues})

    async def metrics_endpoint(_request: Request) -> Response:
        try:
            async with services.db.session() as session:
                queues = await backlog(session)
            metrics.INBOX_PENDING.set(queues["inbox_pending"])
            metrics.INBOX_LAG.set(queues["inbox_lag_seconds"])
            metrics.OUTBOX_PENDING.set(queues["outbox_pending"])
            metrics.OUTBOX_LAG.set(queues["outbox_lag_seconds"])
        except Exception:
            log.warning("metrics: could not read queue depth")
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        runner = Runner(services)
        if run_workers:
            await runner.start()
        try:
            yield
        finally:
            await runner.stop()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *services.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)
