"""Who can reach a server, and whether it is locked: the safe defaults of `api` and `serve`.

Both listen on LOCAL_HOST unless told otherwise; the images, compose and the Helm chart pass
`--host 0.0.0.0` themselves (a container's own network is what they publish). Listening beyond
this machine with no API key is refused by `api` (unless --insecure-no-key) and warned about by
`serve`. A secret still holding .env.example's placeholder is refused by both.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from digit_knower.settings import Settings

LOCAL_HOST = "127.0.0.1"
# .env.example's placeholders begin so; one copied unchanged is known to everyone who read it.
PLACEHOLDER_PREFIX = "change-me"
NEW_KEY = "DIGIT_KNOWER_API_KEY=$(openssl rand -hex 32)"


def is_loopback(host: str) -> bool:
    """True when `host` takes connections from this machine only (127.0.0.0/8, ::1, a name that
    resolves to nothing else). 0.0.0.0, ::, and a name that does not resolve are not."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return all(ipaddress.ip_address(str(address[4][0]).split("%")[0]).is_loopback for address in found)


def has_api_key(settings: Settings) -> bool:
    """Whether the API asks for a key (DIGIT_KNOWER_API_KEY set to more than blanks)."""
    return bool(settings.api_key and settings.api_key.strip())


def exposed_without_key(host: str, settings: Settings) -> bool:
    """Listening on `host` lets other machines in, and no API key is set."""
    return not is_loopback(host) and not has_api_key(settings)


def placeholder_problem(settings: Settings) -> str | None:
    """One line naming the secret that still holds .env.example's placeholder, or None."""
    if settings.api_key and settings.api_key.startswith(PLACEHOLDER_PREFIX):
        return f"DIGIT_KNOWER_API_KEY is still the placeholder from .env.example: set your own, {NEW_KEY}"
    password = urlsplit(settings.database_url or "").password
    if password and password.startswith(PLACEHOLDER_PREFIX):
        return (
            "the database password is still the placeholder from .env.example: set POSTGRES_PASSWORD "
            "(or the password in DATABASE_URL) to your own, e.g. `openssl rand -hex 24`"
        )
    return None
