"""What hostile pictures cost the API (issue 13): time and memory to read or refuse each one, and
/healthz latency on a real server while eight of them are being read.

Each picture is read in a fresh process (`Predictor.predict` on its bytes), with the kernel's
record of the peak resident size reset just before, so that the peak is the read's own.

    .venv/bin/python bench/hostile_pictures.py [--runs 5] [--no-server]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from tests.support import servers
from tests.support.hostile_pictures import (
    encoded,
    read_in_a_fresh_process,
    scan_bomb,
    sixteen_bit_png,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def pictures() -> dict[str, bytes]:
    noise = np.random.default_rng(0).integers(0, 256, (4000, 4000, 3), dtype=np.uint8)
    return {
        "scan bomb: 512x512 JPEG, 160,000 scans": scan_bomb(160_000),
        "16-bit 4000x4000 PNG of one value and a bar": sixteen_bit_png(),
        "progressive JPEG, 512x512, 100 scans (the most read)": scan_bomb(100),
        "16-megapixel JPEG of noise, quality 85": encoded(Image.fromarray(noise), "JPEG", quality=85),
    }


def read_in_fresh_processes(data: bytes, runs: int) -> tuple[float, float, str]:
    """Median seconds and peak memory (MB) of `runs` reads, each in a process of its own."""
    reads = [read_in_a_fresh_process(data) for _ in range(runs)]
    return (
        statistics.median(r["seconds"] for r in reads),
        statistics.median(r["peak_mb"] for r in reads),
        reads[0]["outcome"][:70],
    )


def healthz_while_reading(hostile: list[bytes]) -> list[float]:
    """Seconds each /healthz took on a 2-worker API while `hostile` uploads were in flight."""
    with tempfile.TemporaryDirectory() as work:
        env = {"DIGIT_KNOWER_STATE_DIR": str(Path(work) / "state"), "DIGIT_KNOWER_API_KEY": ""}
        with servers.api(env, Path(work) / "api.log", workers=2) as api:
            threads = [
                threading.Thread(
                    target=httpx.post,
                    args=(f"{api.url}/v1/predictions",),
                    kwargs={"files": {"file": ("p", picture)}, "timeout": 120},
                )
                for picture in hostile
            ]
            for thread in threads:
                thread.start()
            latencies = []
            while any(thread.is_alive() for thread in threads):
                started = time.perf_counter()
                httpx.get(f"{api.url}/healthz", timeout=120)
                latencies.append(time.perf_counter() - started)
            for thread in threads:
                thread.join()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per picture (median quoted)")
    parser.add_argument("--no-server", action="store_true", help="skip the /healthz measurement")
    args = parser.parse_args()
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    corpus = pictures()
    for name, data in corpus.items():
        seconds, peak_mb, outcome = read_in_fresh_processes(data, args.runs)
        size = f"{len(data):,} bytes"
        print(f"{name} ({size}): {seconds * 1000:.0f} ms, peak memory +{peak_mb:.0f} MB -> {outcome}")
    if not args.no_server:
        bomb, giant = list(corpus.values())[:2]
        latencies = healthz_while_reading([bomb, giant] * 4)
        print(
            f"/healthz on 2 workers during 4 scan bombs and 4 16-bit giants: {len(latencies)} answers, "
            f"median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
