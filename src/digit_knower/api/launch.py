"""`digit-knower api`: check the model and the database schema, then run uvicorn."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from digit_knower.store import DatabaseConfigError, SchemaOutOfDateError


def preflight() -> str | None:
    """One clear line saying why the API cannot start, or None when it can.

    Run before uvicorn so a stale schema, a wrong DATABASE_URL or a missing model is reported as
    one line, not as a traceback from each worker's lifespan. A database that is merely down
    does not stop the API: predictions wait in the outbox.
    """
    from digit_knower.api.app import build_services

    try:
        services = build_services()
    except (SchemaOutOfDateError, DatabaseConfigError) as exc:
        return str(exc)
    except (FileNotFoundError, ValueError) as exc:
        return f"cannot load the model: {exc}"
    services.close()  # uvicorn's workers build their own: this process keeps no model thread
    return None


def main(args: argparse.Namespace) -> int:
    if args.workers < 1:
        print(f"digit-knower api: --workers must be 1 or more, not {args.workers}", file=sys.stderr)
        return 2
    problem = preflight()
    if problem:
        print(f"digit-knower api: {problem}", file=sys.stderr)
        return 1
    uvicorn.run(
        "digit_knower.api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Each prediction is logged in the database already; a line per request would only cost CPU.
        access_log=False,
    )
    return 0
