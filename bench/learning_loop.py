"""The learning loop at full size, through the real API into a real PostgreSQL, then a promotion
under load.

A simulated user with a consistent style the shipped model misreads (tests/seven_segment.py:
calculator-style digits drawn with a mouse) does what a new user would:

1. logs 300 drawings through `POST /v1/predictions` and gives each its true label;
2. reads 200 fresh drawings of the same style (the model before);
3. `digit-knower retrain --promote` runs as a separate process (its wall time is the figure);
4. once the running API serves the candidate, the same 200 fresh drawings are read again.

Then the promotion under load: back on the old model (`models rollback`), a fresh API with
--workers processes takes wrk's load for --duration seconds, and `models promote` runs after
--swap-at seconds. Each wrk thread has one keep-alive connection, so one worker answers it: every
response must be 2xx, and on each connection the model_version must be the old one until the
swap and the new one after (never old after new). The database must hold as many rows per
version as there were responses.

    .venv/bin/python bench/learning_loop.py [--workers 2] [--duration 15] [--swap-at 5] [--refresh 2]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psycopg

from bench.api_load import lua_bytes
from tests.support import (
    learning_loop,
    servers,
)
from tests.support.postgres_server import PostgresServer
from tests.support.seven_segment import canvas_png, seven_segment

REPO_ROOT = Path(__file__).resolve().parents[1]

# Each wrk thread (one connection each) counts the versions it was answered by, in order.
WRK_SCRIPT = """
local body = "%(body)s"
local deadline = os.time() + %(duration)d
local old, new = "%(old)s", "%(new)s"
n_old, n_new, n_unknown, non2xx, old_after_new = 0, 0, 0, 0, 0
local seen_new = false
local threads = {}
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

function setup(thread) table.insert(threads, thread) end
function delay() if os.time() >= deadline then return 3600000 end return 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 return end
  local version = string.match(body, '"model_version"%%s*:%%s*"([^"]+)"')
  if version == old then
    n_old = n_old + 1
    if seen_new then old_after_new = old_after_new + 1 end
  elseif version == new then
    n_new = n_new + 1
    seen_new = true
  else
    n_unknown = n_unknown + 1
  end
end
function done(summary, latency, requests)
  local t = {n_old = 0, n_new = 0, n_unknown = 0, non2xx = 0, old_after_new = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(t) do t[key] = t[key] + thread:get(key) end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT old=%%d new=%%d unknown=%%d non2xx=%%d old_after_new=%%d socket_errors=%%d " ..
    "p50_us=%%d p99_us=%%d max_us=%%d\\n",
    t.n_old, t.n_new, t.n_unknown, t.non2xx, t.old_after_new,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def digit_knower(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [servers.digit_knower_command(), *args], env={**os.environ, **env}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"digit-knower {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-2000:]}")
    return done


def load(os_note: str) -> str:
    one, five, _ = os.getloadavg()
    return f"{os_note}: load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def the_loop(url: str, work: Path, args: argparse.Namespace) -> learning_loop.LoopRun:
    print(load("before the loop"), flush=True)
    run = learning_loop.run(
        url,
        work,
        args.data_dir,
        logged=args.logged,
        fresh=args.fresh,
        refresh_s=args.refresh,
        log=work / "loop-api.log",
    )
    card = json.loads(
        (Path(run.env["DIGIT_KNOWER_MODEL_REGISTRY"]) / run.candidate / "model_card.json").read_text()
    )
    print(run.retrain.stdout.strip())
    print(load("after the loop"))
    print()
    print(
        f"1. logged {args.logged} labelled drawings: the shipped model read {run.logged.accuracy:.1%} of them"
    )
    print(f"2. {args.fresh} fresh drawings before: {run.before.accuracy:.1%} ({run.parent})")
    print(f"3. `retrain --promote` wall time: {run.retrain_seconds:.0f} s (goal: at most 300 s)")
    print(
        f"4. the same fresh drawings after: {run.after.accuracy:.1%} ({run.candidate}; goal: at least 98%), "
        f"served {run.switch_seconds:.1f} s after retrain ended"
    )
    print(f"   MNIST test set after: {card['test_accuracy']:.2%} (goal: at least 99.6%)", flush=True)
    return run


def under_load(url: str, work: Path, run: learning_loop.LoopRun, args: argparse.Namespace) -> bool:
    """The promotion under load; True when no response failed and none came from the wrong model."""
    env = run.env
    digit_knower("models", "rollback", "--reason", "bench: back to the old model", env=env)
    body = json.dumps(
        {"image": base64.b64encode(canvas_png(seven_segment(6, np.random.default_rng(99)))).decode()}
    )
    script = work / "promote.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "body": lua_bytes(body.encode()),
            "duration": args.duration,
            "old": run.parent,
            "new": run.candidate,
        }
    )
    with servers.api(env, work / "load-api.log", workers=args.workers) as api:
        started = time.time()
        command = [
            "wrk", f"-t{args.connections}", f"-c{args.connections}", f"-d{args.duration + 3}s",
            "--timeout", "10s", "-s", str(script), f"{api.url}/v1/predictions",
        ]  # fmt: skip
        swap: dict[str, float] = {}

        def promote_later() -> None:
            time.sleep(args.swap_at)
            swap["at"] = time.time() - started
            digit_knower("models", "promote", run.candidate, "--reason", "bench: under load", env=env)
            swap["done"] = time.time() - started

        promoter = threading.Thread(target=promote_later)
        promoter.start()
        wrk = subprocess.run(command, capture_output=True, text=True)
        promoter.join()
        swaps = api.log_text().count(f"now serving model {run.candidate}")
    match = re.search(r"RESULT (.*)", wrk.stdout)
    if wrk.returncode != 0 or not match:
        raise SystemExit(f"wrk failed ({wrk.returncode}):\n{wrk.stdout}\n{wrk.stderr}")
    r = {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    rows = rows_per_version(url, started)
    print(
        f"\npromotion under load: {args.workers} workers, {args.connections} connections, {args.duration} s, "
        f"`models promote` from {swap['at']:.1f} s to {swap['done']:.1f} s, "
        f"model checks every {args.refresh:g} s"
    )
    print(
        f"  responses: {r['old'] + r['new']} 2xx ({r['old']} from {run.parent}, {r['new']} from "
        f"{run.candidate}), {r['non2xx']} non-2xx, {r['socket_errors']} socket errors, "
        f"{r['unknown']} from another version"
    )
    print(f"  an old-model answer after a new-model one on the same connection: {r['old_after_new']} times")
    print(f"  workers that swapped: {swaps} of {args.workers}")
    print(
        f"  latency: p50 {r['p50_us'] / 1000:.1f} ms, p99 {r['p99_us'] / 1000:.1f} ms, "
        f"max {r['max_us'] / 1000:.1f} ms"
    )
    print(
        f"  rows per version in PostgreSQL: {rows} "
        f"(responses: {run.parent}={r['old']}, {run.candidate}={r['new']})"
    )
    print(load("after the load"))
    clean = (
        r["non2xx"] == 0
        and r["socket_errors"] == 0
        and r["unknown"] == 0
        and r["old_after_new"] == 0
        and r["old"] > 0
        and r["new"] > 0
        and swaps == args.workers
        and rows == {run.parent: r["old"], run.candidate: r["new"]}
    )
    print("zero non-2xx, every response from the old model before its worker's swap and the new one after:",
          "yes" if clean else "NO")  # fmt: skip
    return clean


def rows_per_version(url: str, since: float) -> dict[str, int]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT model_version, count(*) FROM predictions WHERE created_at >= to_timestamp(%s) "
            "GROUP BY model_version",
            (since,),
        )
        return dict(found.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logged", type=int, default=300, help="labelled drawings of the simulated user")
    parser.add_argument("--fresh", type=int, default=200, help="fresh drawings read before and after")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes for the load")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections (one wrk thread each)")
    parser.add_argument("--duration", type=int, default=15, help="seconds of load")
    parser.add_argument("--swap-at", type=float, default=5.0, help="when `models promote` runs, in the load")
    parser.add_argument("--refresh", type=float, default=2.0, help="DIGIT_KNOWER_MODEL_REFRESH_S of the API")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DIGIT_KNOWER_DATA_DIR", REPO_ROOT.parent / "shared/data/mnist")),
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    server = PostgresServer()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="dk-loop-bench-"))
    try:
        url = server.create_database()
        digit_knower(
            "db", "upgrade", env={"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(work / "state")}
        )
        run = the_loop(url, work, args)
        return 0 if under_load(url, work, run, args) else 1
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
