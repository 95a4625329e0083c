"""How long an outage's backlog takes to land once PostgreSQL is back, with no traffic at all.

Starts a throwaway PostgreSQL server, migrates it, and starts `digit-knower api` on it. Then, each
round: stops PostgreSQL, posts --predictions pictures (every one must be answered 201), waits
--outage seconds with no request (so that the store's back-off reaches its longest pause),
starts PostgreSQL again and, still sending nothing, times how long until every one of those
predictions is in the database. That is the API's background flusher at work; the goal is at
most 10 s.

    .venv/bin/python bench/outbox_drain.py --workers 2 --rounds 5 --predictions 30 --outage 15
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support import servers
from tests.support.api import drawn_one
from tests.support.postgres_server import PostgresServer, own_server

REPO_ROOT = Path(__file__).resolve().parents[1]

GOAL_S = 10.0
GIVE_UP_S = 120.0


def landed(server: PostgresServer, url: str, ids: set[str]) -> bool:
    return ids <= {str(row[0]) for row in server.query(url, "SELECT id FROM predictions")}


def one_round(args: argparse.Namespace, server: PostgresServer, url: str, client: httpx.Client) -> float:
    """Seconds from PostgreSQL accepting connections again to the last prediction landing."""
    server.stop()
    ids = set()
    for _ in range(args.predictions):
        response = client.post("/v1/predictions", files={"file": ("digit.png", drawn_one(), "image/png")})
        if response.status_code != 201:
            raise SystemExit(f"a prediction during the outage got {response.status_code}: {response.text}")
        ids.add(response.json()["id"])
    time.sleep(args.outage)
    server.start()  # returns once the server accepts connections
    back = time.monotonic()
    while not landed(server, url, ids):
        if time.monotonic() - back > GIVE_UP_S:
            raise SystemExit(f"the backlog did not land within {GIVE_UP_S:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - back


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default: 2)")
    parser.add_argument("--rounds", type=int, default=5, help="outages to time (default: 5)")
    parser.add_argument("--predictions", type=int, default=30, help="predictions per outage (default: 30)")
    parser.add_argument(
        "--outage", type=float, default=15.0, help="seconds PostgreSQL stays down, idle (default: 15)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dk-outbox-bench-"))
    with own_server() as server:
        url = server.create_migrated_database()
        env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(work / "state")}
        seconds = []
        with (
            servers.api(env, work / "api.log", workers=args.workers) as api,
            httpx.Client(base_url=api.url, timeout=30) as client,
        ):
            for number in range(1, args.rounds + 1):
                seconds.append(one_round(args, server, url, client))
                print(
                    f"round {number}/{args.rounds}: {args.predictions} predictions landed "
                    f"{seconds[-1]:.2f} s after PostgreSQL was back",
                    flush=True,
                )
    median, worst = statistics.median(seconds), max(seconds)
    print(
        f"backlog landed, no traffic, {args.workers} workers, {args.outage:.0f} s outages: "
        f"median {median:.2f} s, max {worst:.2f} s (goal: at most {GOAL_S:.0f} s)"
    )
    return 0 if worst <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
