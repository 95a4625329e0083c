"""`digit-knower api`: check the model and the database schema, then run uvicorn.

The server's packages (uvicorn, FastAPI, the store) are imported only when it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

from digit_knower.serving import exposure
from digit_knower.settings import get_settings

# By name, so that each worker process imports it itself.
PROTOCOL = "digit_knower.api.protocol:GuardedHttpToolsProtocol"


def preflight() -> str | None:
    """One clear line saying why the API cannot start, or None when it can.

    Run before uvicorn so a stale schema, a wrong DATABASE_URL or a missing model is reported as
    one line, not as a traceback from each worker's lifespan. A database that is merely down
    does not stop the API: predictions wait in the outbox.
    """
    from digit_knower.serving.startup import build_services
    from digit_knower.store import DatabaseConfigError, SchemaOutOfDateError

    try:
        services = build_services()
    except (SchemaOutOfDateError, DatabaseConfigError) as exc:
        return str(exc)
    except (FileNotFoundError, ValueError) as exc:
        return f"cannot load the model: {exc}"
    services.close()  # uvicorn's workers build their own: this process keeps no model thread
    return None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `api` and its options to the `digit-knower` command line."""
    parser = subparsers.add_parser(
        "api",
        help="start the REST API (FastAPI + uvicorn)",
        description="Start the REST API (uvicorn) on the same inference core and the same store as "
        "the web page. Endpoints under /v1, OpenAPI docs at /docs, liveness at /healthz, readiness "
        "at /readyz. It listens on 127.0.0.1 (this machine only) unless --host says otherwise; "
        "beyond this machine it needs an API key, or --insecure-no-key. Uses DATABASE_URL (or the "
        "embedded SQLite file) and DIGIT_KNOWER_MODEL_DIR; set DIGIT_KNOWER_API_KEY to require that "
        "key in the X-API-Key header (the docs and /metrics too), DIGIT_KNOWER_API_DOCS=false to "
        "serve no docs, and DIGIT_KNOWER_API_READ_TIMEOUT_S (default 15) for how long a client may "
        "take to send its request. A PostgreSQL schema that is out of date stops start-up: run "
        "`digit-knower db upgrade` first. A database that is down does not: predictions wait in a "
        "local outbox.",
    )
    parser.add_argument(
        "--host",
        default=exposure.LOCAL_HOST,
        help="address to listen on, the metrics port's too; 0.0.0.0: every network of this machine",
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--insecure-no-key",
        action="store_true",
        help="listen beyond this machine with no API key (a demo on a network you trust): anyone "
        "who reaches it can read every drawing and change labels",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (each loads the model once)"
    )


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower api` until the server stops; its exit status."""
    if args.workers < 1:
        print(f"digit-knower api: --workers must be 1 or more, not {args.workers}", file=sys.stderr)
        return 2
    refusal = exposure_refusal(args.host, args.insecure_no_key)
    if refusal:
        print(f"digit-knower api: {refusal}", file=sys.stderr)
        return 2
    with worker_metrics(args.workers):
        problem = preflight()
        if problem:
            print(f"digit-knower api: {problem}", file=sys.stderr)
            return 1
        import uvicorn

        with metrics_port(args.host):
            uvicorn.run(
                "digit_knower.api.app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                # httptools, with a read timeout and a header size limit (see api/protocol.py).
                http=PROTOCOL,
                # No "server: uvicorn" on every answer: it tells an attacker what to try.
                server_header=False,
                # Each prediction is logged in the database already; a line per request would only cost CPU.
                access_log=False,
            )
    return 0


def exposure_refusal(host: str, insecure_no_key: bool) -> str | None:
    """Why the API must not start on `host` with these settings, in words; None when it may.

    With no key, anyone who reaches the API can post, list every drawing and relabel them (a probe
    did all three): so beyond this machine a key is needed, or an explicit
    --insecure-no-key, which still gets a warning.
    """
    settings = get_settings()
    placeholder = exposure.placeholder_problem(settings)
    if placeholder:
        return placeholder
    if not exposure.exposed_without_key(host, settings):
        return None
    if insecure_no_key:
        print(
            f"digit-knower api: WARNING: listening on {host} with no API key (--insecure-no-key): "
            "anyone who can reach it can read every drawing and change labels.",
            file=sys.stderr,
        )
        return None
    return (
        f"refusing to listen on {host} with no API key: anyone who can reach it could read every "
        f"drawing and change labels. Set a key ({exposure.NEW_KEY}; clients send it in the "
        f"X-API-Key header), or listen on {exposure.LOCAL_HOST} only (the default), or pass "
        "--insecure-no-key for a demo on a network you trust."
    )


@contextlib.contextmanager
def worker_metrics(workers: int) -> Iterator[None]:
    """prometheus-client's multiprocess mode for several workers, in a fresh folder (see metrics.py).

    It must be set before prometheus-client is first imported, here and in every worker (they
    inherit the environment), and the folder must start empty: so it is made anew for each run,
    under the temporary folder (an emptyDir in Kubernetes), and removed at exit.
    """
    if workers == 1 or not get_settings().metrics_enabled:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        yield
        return
    folder = tempfile.mkdtemp(prefix="digit-knower-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def metrics_port(host: str) -> Iterator[None]:
    """With DIGIT_KNOWER_METRICS_PORT, serve the metrics there, from this (the main) process.

    It reads every worker's values from the multiprocess folder, and the outbox through a store of
    its own (the outbox file is the one the workers share).
    """
    settings = get_settings()
    if not settings.metrics_enabled or settings.metrics_port is None:
        yield
        return
    from prometheus_client import start_http_server

    from digit_knower.serving import metrics
    from digit_knower.store import Store

    with Store.from_settings(settings) as store:
        metrics.watch_store(store)
        try:
            server, thread = start_http_server(settings.metrics_port, addr=host, registry=metrics.registry())
        except OSError as err:
            raise SystemExit(
                f"digit-knower api: cannot serve the metrics on port {settings.metrics_port} "
                f"(DIGIT_KNOWER_METRICS_PORT): {err.strerror}"
            ) from None
        try:
            yield
        finally:
            server.shutdown()
            thread.join()
