"""The API's Prometheus side: GET /metrics, and the count and latency of every HTTP request.

On the API's port, GET /metrics needs a key wherever the API does, as the docs do: the admin key
or a key with the "read" scope, in X-API-Key or as the password of HTTP Basic authentication
(Prometheus' `basic_auth`, any user name). The
metrics tell how busy the service is and which model serves: nothing for anyone who can reach the
port. DIGIT_KNOWER_METRICS=false switches them off, and DIGIT_KNOWER_METRICS_PORT moves
them to a port of their own, with no key, served by `digit-knower api` itself (api_command.py):
a port for the cluster's Prometheus only, which the Helm chart's NetworkPolicy lets nothing else
reach and its Ingress never routes.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client.exposition import choose_encoder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digit_knower.api.deps import key_or_password
from digit_knower.serving import metrics

router = APIRouter(tags=["monitoring"])

# Anything else (a client inventing methods) counts as OTHER, so that labels stay few.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# Prometheus sends the key as its basic_auth password.
# The metrics are statistics: a key with the "read" scope (or admin) opens them.
require_metrics_key = key_or_password(
    "Digit Knower metrics",
    "The metrics need an API key with the 'read' scope: send it in the X-API-Key header, or as "
    "the password of HTTP Basic authentication (Prometheus' basic_auth; any user name).",
    scope="read",
)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require_metrics_key)])
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
