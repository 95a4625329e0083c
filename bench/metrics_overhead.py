"""What the Prometheus metrics cost one API request, in CPU time, measured on their own.

One POST /v1/predictions updates six series: the HTTP request counter and latency histogram, the
predictions and digits counters, and the preprocessing and model histograms. This times exactly
those updates, in a process of their own, in the mode `digit-knower api` runs them in: plain (one
worker) and multiprocess (several workers, values in memory-mapped files). A load test on a shared
2-core machine cannot resolve a difference this small; this can.

    .venv/bin/python bench/metrics_overhead.py [--requests 200000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

CHILD = """
import sys, time
from digit_knower.serving import metrics
from digit_knower.reader.predictor import Prediction
import numpy as np

prediction = Prediction(1, 0.99, (0.1,) * 10, np.zeros((28, 28), np.uint8), "v", "digit", (1,))
labels = ("POST", "/v1/predictions", "201")
n = int(sys.argv[1])
started = time.process_time()
for _ in range(n):
    with metrics.PREPROCESS_SECONDS.time():
        pass
    with metrics.MODEL_SECONDS.time():
        pass
    metrics.count_prediction(prediction, "api")
    metrics.HTTP_REQUESTS.labels(*labels).inc()
    metrics.HTTP_SECONDS.labels(*labels).observe(0.004)
print((time.process_time() - started) / n * 1e6)
"""


def per_request_us(requests: int, multiprocess: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(requests)], env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200_000, help="simulated requests per run")
    parser.add_argument("--runs", type=int, default=5, help="runs per mode; the median is quoted")
    args = parser.parse_args()
    for mode, multiprocess in (("one worker (plain)", False), ("several workers (multiprocess)", True)):
        runs = [per_request_us(args.requests, multiprocess) for _ in range(args.runs)]
        each = ", ".join(f"{r:.1f}" for r in runs)
        print(f"{mode}: {statistics.median(runs):.1f} us of CPU per request (runs: {each})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
