"""Load benchmark of the REST API: POST a 280x280 PNG drawing, against a real PostgreSQL.

Starts a throwaway PostgreSQL server, migrates it with `digit-knower db upgrade`, starts
`digit-knower api` on 127.0.0.1, and drives it with wrk (`apt-get install wrk`: a C client,
far lighter on a 2-core machine than a Python one). Prints requests/s and the p50/p99 latency,
then checks that the database holds exactly as many predictions as there were 201 responses.

    .venv/bin/python bench/api_load.py --workers 2 --connections 8 --duration 15 --rounds 3

To count the 201s exactly, wrk stops sending new predictions at the end of --duration and
waits (--drain seconds) for the ones in flight; only then does it close its connections.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.support import servers
from tests.support.api import drawn_one
from tests.support.postgres_server import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[1]

BOUNDARY = "dkbenchboundary7d3a"

# wrk runs this in each of its threads. After `deadline` it stops sending (a huge delay), so
# every prediction it sent gets its answer before wrk closes the connections.
WRK_SCRIPT = """
local body = "%(body)s"
local deadline = os.time() + %(duration)d
created, other = 0, 0  -- globals: done() reads them with thread:get()
local threads = {}
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "%(content_type)s"
%(key_header)s

function setup(thread) table.insert(threads, thread) end
function delay() if os.time() >= deadline then return 3600000 end return 0 end
function response(status, headers, body)
  if status == 201 then created = created + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do c = c + t:get("created"); o = o + t:get("other") end
  io.write(string.format("RESULT created=%%d other=%%d p50_us=%%d p90_us=%%d p99_us=%%d max_us=%%d\\n",
    c, o, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_bytes(data: bytes) -> str:
    # Decimal escapes: a Lua long string would turn the PNG's CR LF bytes into LF.
    return "".join(f"\\{b}" for b in data)


def request_body(kind: str) -> tuple[bytes, str]:
    png = drawn_one()
    if kind == "json":
        import base64

        return json.dumps({"image": base64.b64encode(png).decode()}).encode(), "application/json"
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="digit.png"\r\n'
            f"Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def serving_stack(api_pid: int) -> str:
    """Which event loop and HTTP parser the serving processes loaded: uvicorn picks uvloop and
    httptools when they are installed (uvicorn[standard]) and falls back to pure Python silently."""
    pids = [api_pid, *(int(p) for p in _children(api_pid))]
    maps = "".join(_read(Path(f"/proc/{pid}/maps")) for pid in pids)
    loop = "uvloop" if "/uvloop/" in maps else "asyncio (no uvloop!)"
    http = "httptools" if "/httptools/" in maps else "h11 (no httptools!)"
    return f"{loop}, {http}"


def _children(pid: int) -> list[str]:
    return _read(Path(f"/proc/{pid}/task/{pid}/children")).split()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def check_one_request(port: int, body: bytes, content_type: str, key: str | None) -> None:
    headers = {"content-type": content_type, **({"X-API-Key": key} if key else {})}
    r = httpx.post(f"http://127.0.0.1:{port}/v1/predictions", content=body, headers=headers)
    if r.status_code != 201 or r.json()["digit"] != 1:
        raise SystemExit(f"the API did not read the bench drawing as a 1: {r.status_code} {r.text}")


def run_wrk(
    port: int, args: argparse.Namespace, body: bytes, content_type: str, workdir: Path
) -> dict[str, int]:
    script = workdir / "post.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "body": lua_bytes(body),
            "duration": args.duration,
            "content_type": content_type,
            "key_header": f'wrk.headers["X-API-Key"] = "{args.key_value}"' if args.key_value else "",
        }
    )
    cmd = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration + args.drain}s",
        "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}/v1/predictions",
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    out = run.stdout
    match = re.search(r"RESULT (.*)", out)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{out}")
    errors = re.search(r"Socket errors: .*", out)
    if errors:
        print("  wrk", errors.group(0))
    return {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


def process_tree_cpu_s(root: int) -> float:
    """User + system CPU seconds used so far by `root` and its children (uvicorn workers, or the
    PostgreSQL backends), read from /proc. Unlike wall-clock rates, this barely depends on how
    busy the other engineers keep the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if root in (pid, ppid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def postmaster_pid(server: PostgresServer) -> int:
    return int((server.datadir / "postmaster.pid").read_text().split()[0])


def count_rows(server: PostgresServer, database: str) -> int:
    dsn = f"host=127.0.0.1 port={server.port} user=postgres dbname={database}"
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]


@dataclass
class Round:
    created: int
    other: int
    rows: int
    backlog: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cpu_ms: tuple[float, float, float]  # per 201: the API, PostgreSQL, wrk

    @property
    def exact(self) -> bool:
        return self.rows == self.created and self.other == 0 and self.backlog == 0

    def describe(self) -> str:
        api, pg, wrk = self.cpu_ms
        return (
            f"{self.rps:.0f} requests/s, p50 {self.p50_ms:.1f} ms, p90 {self.p90_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms | 201s {self.created}, others {self.other}, "
            f"new rows {self.rows}, outbox {self.backlog}: {'exact' if self.exact else 'MISMATCH'} | "
            f"CPU per request: API {api:.2f} ms, PostgreSQL {pg:.2f} ms, wrk {wrk:.2f} ms"
        )


@dataclass
class Target:
    """The running API and its database."""

    port: int
    api_pid: int
    server: PostgresServer
    database: str
    body: bytes
    content_type: str
    work: Path


def one_round(args: argparse.Namespace, t: Target) -> Round:
    rows_before = count_rows(t.server, t.database)
    pg_pid = postmaster_pid(t.server)
    cpu_before = process_tree_cpu_s(t.api_pid), process_tree_cpu_s(pg_pid), _children_cpu_s()
    result = run_wrk(t.port, args, t.body, t.content_type, t.work)
    cpu_after = process_tree_cpu_s(t.api_pid), process_tree_cpu_s(pg_pid), _children_cpu_s()
    created = max(result["created"], 1)
    return Round(
        created=result["created"],
        other=result["other"],
        rows=count_rows(t.server, t.database) - rows_before,
        backlog=httpx.get(f"http://127.0.0.1:{t.port}/readyz").json()["outbox_backlog"],
        rps=result["created"] / args.duration,
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        cpu_ms=tuple(1000 * (a - b) / created for b, a in zip(cpu_before, cpu_after, strict=True)),
    )


def _children_cpu_s() -> float:
    """CPU seconds of the finished child processes (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench(args: argparse.Namespace) -> list[Round]:
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    body, content_type = request_body(args.body)
    server = PostgresServer()
    server.start()
    work = Path(tempfile.mkdtemp(prefix="dk-bench-"))
    try:
        url = server.create_database()
        env = {**os.environ, "DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(work / "state")}
        env["DIGIT_KNOWER_METRICS"] = "false" if args.no_metrics else "true"
        env.pop("DIGIT_KNOWER_API_KEY", None)
        subprocess.run([str(REPO_ROOT / ".venv/bin/digit-knower"), "db", "upgrade"], env=env, check=True)
        admin, args.key_value = locked(env) if args.key == "scoped" else (None, None)
        with servers.api(env, work / "api.log", workers=args.workers) as api:
            check_one_request(api.port, body, content_type, args.key_value)
            print(
                f"workers={args.workers} body={args.body} ({len(body)} B) connections={args.connections} "
                f"metrics={'off' if args.no_metrics else 'on'} key={args.key} "
                f"serving with {serving_stack(api.process.pid)}"
            )
            target = Target(
                api.port, api.process.pid, server, url.rsplit("/", 1)[1], body, content_type, work
            )
            rounds = []
            for i in range(args.rounds):
                rounds.append(one_round(args, target))
                print(f"  round {i + 1}: {rounds[-1].describe()}", flush=True)
            if not args.no_metrics:
                counted = counted_predictions(api.url, admin)
                print(f"GET /metrics, all workers: {counted:.0f} predictions counted")
            return rounds
    finally:
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)


def locked(env: dict[str, str]) -> tuple[str, str]:
    """Lock the API as a deployment is: an admin key in `env`, and a scoped `predict` key made with
    `digit-knower keys create` (looked up by its hash, as every client's is). Returns both."""
    admin = secrets.token_hex(32)
    env["DIGIT_KNOWER_API_KEY"] = admin
    made = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/digit-knower"), "keys", "create", "bench", "--scope", "predict"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return admin, made.stdout.strip().splitlines()[-1]


def counted_predictions(base_url: str, admin: str | None) -> float:
    """The predictions the API's metrics count, summed over verdicts (and over workers)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{base_url}/metrics", headers={"X-API-Key": admin} if admin else {}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "digit_knower_predictions"
        for sample in family.samples
        if sample.name == "digit_knower_predictions_total"
    )


def summarize(rounds: list[Round]) -> bool:
    rps = statistics.median(r.rps for r in rounds)
    p50 = statistics.median(r.p50_ms for r in rounds)
    p99 = statistics.median(r.p99_ms for r in rounds)
    api_cpu = statistics.median(r.cpu_ms[0] for r in rounds)
    exact = all(r.exact for r in rounds)
    print(f"median of {len(rounds)} rounds: {rps:.0f} requests/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(
        f"API CPU per request {api_cpu:.2f} ms: "
        f"at that cost one core serves at most about {1000 / api_cpu:.0f} requests/s per worker"
    )
    print("rows in PostgreSQL == 201 responses in every round:", "yes" if exact else "NO")
    print(f"target >= 800 requests/s with p99 <= 50 ms: {'met' if rps >= 800 and p99 <= 50 else 'NOT met'}")
    return exact


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="uvicorn processes (default: one per core)"
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds of sending predictions, per round")
    parser.add_argument("--drain", type=int, default=3, help="seconds to wait for the last answers")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds against the same server; the median is quoted"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--body", choices=["multipart", "json"], default="multipart", help="upload form")
    parser.add_argument(
        "--no-metrics", action="store_true", help="serve with DIGIT_KNOWER_METRICS=false (default: on)"
    )
    parser.add_argument(
        "--key",
        choices=("none", "scoped"),
        default="none",
        help="none: an open API; scoped: locked with an admin key, posting with a `predict` key "
        "made by `digit-knower keys create` (default: none)",
    )
    return 0 if summarize(bench(parser.parse_args())) else 1


if __name__ == "__main__":
    sys.exit(main())
