"""The API's Prometheus side: GET /metrics, and the count and latency of every HTTP request.

GET /metrics needs no API key (Prometheus scrapes it); DIGIT_KNOWER_METRICS=false switches it off,
and DIGIT_KNOWER_METRICS_PORT moves it to a port of its own (served by `digit-knower api` itself,
see launch.py), which an Ingress that routes the API's port never exposes.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digit_knower.serving import metrics

router = APIRouter(tags=["monitoring"])

# Anything else (a client inventing methods) counts as OTHER, so that labels stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(metrics.registry()), media_type=content_type)


class RequestMetricsMiddleware:
    """Counts and times each HTTP request by method, route template and status.

    The route is the matched template (`/v1/predictions/{prediction_id}`), never the raw path, so
    that a scan of random URLs cannot create a time series per URL: those count as `unmatched`.
    Plain ASGI rather than BaseHTTPMiddleware, which would cost every request a task and a queue.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception that escaped everything

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            labels = (method, route, str(status))
            metrics.HTTP_REQUESTS.labels(*labels).inc()
            metrics.HTTP_SECONDS.labels(*labels).observe(time.perf_counter() - started)
