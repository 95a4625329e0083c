"""`digit-knower serve`: run the Streamlit page through Streamlit's own CLI, in this process.

Streamlit is imported only when the page starts: `--help` and the base install need none of it.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import socket
import sys
from pathlib import Path

from digit_knower.serving import exposure
from digit_knower.settings import get_settings

PAGE = Path(__file__).with_name("app.py")
# The page's packages are the `web` extra: the base install (and the API image) has none of them.
MISSING_WEB_EXTRA = (
    "the web page needs the 'web' extra (Streamlit): pip install 'digit-knower[web]' "
    "(from a checkout: pip install -e '.[web]')"
)

# Serving is not developing: no browser to open, no file watcher (it would crawl the
# installed packages, torch among them, and reload on edits), no usage telemetry, no
# developer menu and no stack traces in front of users. The page is light or dark as the
# visitor's system is, and its colours pass contrast on both (app.py's style): no theme base,
# and the accent set for the light and the dark theme each. Set in [theme] itself, it would
# make one custom theme, light whatever the system says (seen in Chromium with Streamlit 1.67;
# tests/e2e/test_page_theme_in_chromium.py).
_FIXED_OPTIONS = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.runOnSave": "false",
    "server.maxUploadSize": "10",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",
    "theme.light.primaryColor": "#4f8cff",
    "theme.dark.primaryColor": "#4f8cff",
}


def streamlit_argv(host: str, port: int) -> list[str]:
    """The `streamlit run ...` arguments that serve the page on host:port."""
    options = {**_FIXED_OPTIONS, "server.address": host, "server.port": str(port)}
    argv = ["run", str(PAGE)]
    for name, value in options.items():
        argv += [f"--{name}", value]
    return argv


def listen_problem(host: str, port: int) -> str | None:
    """Why the page could not listen on host:port, in one line; None when it can.

    Checked before Streamlit starts, because Streamlit reports these with a stack trace.
    """
    if not 0 < port < 65536:
        return f"--port {port} is not a TCP port: use 1-65535 (default 8501)."
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        return (
            f"--host {host} is not a known address: use 127.0.0.1 (this machine only) or 0.0.0.0 (everyone)."
        )
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except PermissionError:
            return f"no permission to listen on port {port}: use a port above 1023, e.g. --port 8501."
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (
                    f"port {port} is already in use: stop the program that uses it, or pick another --port."
                )
            return f"cannot listen on {host}:{port}: {error.strerror}."
    return None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and its options to the `digit-knower` command line."""
    parser = subparsers.add_parser(
        "serve",
        help="start the web page (Streamlit)",
        description="Start the Streamlit page where a person draws a digit, presses Predict, sees the "
        "answer and can give the true label, with the history and live accuracy below. It runs "
        "headless (open the printed URL yourself) with no file watcher. Predictions go to "
        "DATABASE_URL (PostgreSQL: run `digit-knower db upgrade` first), or else to the embedded "
        "SQLite file; the model comes from DIGIT_KNOWER_MODEL_DIR (default: the shipped model). "
        "It listens on 127.0.0.1 (this machine only) unless --host says otherwise, and warns, in "
        "its log and on the page, when it listens beyond this machine with no API key set.",
    )
    parser.add_argument(
        "--host",
        default=exposure.LOCAL_HOST,
        help="address to listen on, the metrics port's too; 0.0.0.0: every network of this machine",
    )
    parser.add_argument("--port", type=int, default=8501, help="port to listen on")


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower serve` until the server stops; its exit status."""
    if importlib.util.find_spec("streamlit") is None:
        print(f"digit-knower serve: {MISSING_WEB_EXTRA}", file=sys.stderr)
        return 2
    problem = listen_problem(args.host, args.port)
    if problem:
        print(f"digit-knower serve: {problem}", file=sys.stderr)
        return 2
    placeholder = exposure.placeholder_problem(get_settings())
    if placeholder:
        print(f"digit-knower serve: {placeholder}", file=sys.stderr)
        return 2
    warning = exposure_warning(args.host)
    if warning:
        print(f"digit-knower serve: WARNING: {warning}", file=sys.stderr)
    serve_metrics(args.host)
    from streamlit.web import cli as streamlit_cli

    print(f"Digit Knower: serving the page on http://{args.host}:{args.port} (Ctrl+C stops it)")
    # standalone_mode=False: return here when the server stops instead of sys.exit inside click.
    streamlit_cli.main(
        args=streamlit_argv(args.host, args.port), prog_name="streamlit", standalone_mode=False
    )
    return 0


def exposed_without_key(host: str) -> bool:
    """The page listens on `host` beyond this machine, and no API key is set: the deployment has
    not been locked. The page reads its own address with st.get_option("server.address")."""
    return exposure.exposed_without_key(host, get_settings())


def exposure_warning(host: str) -> str | None:
    """The warning for the log and the page when exposed_without_key(host), in words; else None."""
    if not exposed_without_key(host):
        return None
    return (
        f"this page listens on {host}, reachable from other machines, with no API key set "
        "(DIGIT_KNOWER_API_KEY): nothing is locked, and anyone who reaches the page can draw and "
        "give labels. Before opening it to people you do not trust, serve it on "
        f"{exposure.LOCAL_HOST} (the default) behind a proxy, and set a key: {exposure.NEW_KEY}."
    )


def serve_metrics(host: str) -> None:
    """The page's Prometheus metrics on DIGIT_KNOWER_WEB_METRICS_PORT, from this process.

    Streamlit has no route of our own to offer, so prometheus-client's own server runs beside it,
    in a thread. A port already in use costs the metrics, not the page: it says so in one line.
    """
    settings = get_settings()
    if not settings.metrics_enabled:
        return
    from prometheus_client import start_http_server

    from digit_knower.serving import metrics

    try:
        start_http_server(settings.web_metrics_port, addr=host, registry=metrics.registry())
    except OSError as error:
        print(
            f"digit-knower serve: no metrics: cannot listen on port {settings.web_metrics_port} "
            f"(DIGIT_KNOWER_WEB_METRICS_PORT): {error.strerror}",
            file=sys.stderr,
        )
        return
    print(f"Digit Knower: metrics on http://{host}:{settings.web_metrics_port}/metrics")
