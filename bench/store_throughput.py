"""How many `log_prediction` calls per second the store takes, from 1 and from 8 threads.

    .venv/bin/python bench/store_throughput.py                  # SQLite file + a throwaway PostgreSQL 15
    .venv/bin/python bench/store_throughput.py --database-url postgresql+psycopg://u:p@host/db

Each figure is the median of --repeats runs of --calls calls, on a fresh database; the records are
made before the clock starts. The throwaway server runs with fsync=off (as in the tests), so its
figures are an upper bound for a server that syncs every commit.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from digit_knower.store import PredictionRecord, Store, uuid7

REPO = Path(__file__).resolve().parents[1]


def make_records(n: int, rng: random.Random) -> list[PredictionRecord]:
    records = []
    for _ in range(n):
        digit = rng.randrange(10)
        probabilities = [0.02] * 10
        probabilities[digit] = 0.82
        records.append(
            PredictionRecord(
                id=uuid7(),
                created_at=datetime.now(UTC),
                source="api",
                model_version="dk-bench",
                digit=digit,
                confidence=0.82,
                probabilities=probabilities,
                model_input=rng.randbytes(784),
                latency_ms=0.5,
            )
        )
    return records


def calls_per_second(store: Store, records: list[PredictionRecord], threads: int) -> float:
    """Log `records` from `threads` threads at once; calls per second of wall time."""
    shares = [records[i::threads] for i in range(threads)]
    start = threading.Barrier(threads + 1)

    def log(share: list[PredictionRecord]) -> None:
        start.wait()
        for record in share:
            store.log_prediction(record)

    workers = [threading.Thread(target=log, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    return len(records) / (time.perf_counter() - began)


def measure(name: str, url: str, args: argparse.Namespace, rng: random.Random) -> list[str]:
    lines = []
    with Store(url, outbox_path=Path(tempfile.mkdtemp()) / "outbox.sqlite3") as store:
        store.upgrade()
        for threads in args.threads:
            runs = [
                calls_per_second(store, make_records(args.calls, rng), threads)
                for _ in tqdm(range(args.repeats), desc=f"{name}, {threads} thread(s)", leave=False)
            ]
            if store.outbox_backlog():
                raise SystemExit(
                    f"{name}: {store.outbox_backlog()} records went to the outbox: not a valid run"
                )
            median, low, high = statistics.median(runs), min(runs), max(runs)
            lines.append(f"{name:<11} {threads:>7}  {median:>16,.0f}  {low:>9,.0f}  {high:>9,.0f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="log_prediction calls per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (the median is printed)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8], help="thread counts to measure")
    parser.add_argument("--database-url", help="a PostgreSQL to measure instead of a throwaway server")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="measure one database only")
    args = parser.parse_args()
    rng = random.Random(0)

    lines = [f"{'database':<11} {'threads':>7}  {'calls/s (median)':>16}  {'min':>9}  {'max':>9}"]
    with tempfile.TemporaryDirectory() as folder:
        if args.only != "postgresql":
            lines += measure("SQLite", f"sqlite:///{folder}/bench.sqlite3", args, rng)
        if args.only != "sqlite":
            if args.database_url:
                lines += measure("PostgreSQL", args.database_url, args, rng)
            else:
                from tests.support.postgres_server import PostgresServer

                server = PostgresServer()
                try:
                    server.start()
                    lines += measure("PostgreSQL", server.create_database(), args, rng)
                finally:
                    server.destroy()
    print(f"log_prediction throughput, {args.calls} calls x {args.repeats} runs per figure")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
