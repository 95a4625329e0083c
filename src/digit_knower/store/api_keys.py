"""Scoped API keys: who may do what, and the name each prediction and label is recorded under.

A key has a name (what the rows it makes carry in `owner` and `labelled_by`), scopes, and a
`trusted` mark that an admin gives to keys whose labels retraining may learn from
(`lifecycle.feedback`). The scopes:

    predict   POST /v1/predictions
    label     PUT /v1/predictions/{id}/label, on the key's own predictions
    read      GET /v1/predictions (the key's own), GET /v1/stats (global figures)
    admin     everything, on everyone's predictions

Only the SHA-256 of a key is stored; the key itself is shown once, by `digit-knower keys create`.
A plain hash, not a slow password hash: a key is 256 random bits, beyond any guessing, and the
API hashes it on every request. A revoked key stays in the table so that its name is never given
to another key: the rows it made keep pointing at it alone.

The single DIGIT_KNOWER_API_KEY of earlier versions still works: as a trusted admin key, recorded
under its own name, ADMIN_KEY_NAME. With no DIGIT_KNOWER_API_KEY and no key in the table, the API
is open (a local demo): every caller is ANONYMOUS, an admin whose labels are not trusted.

`KeyRing` is a process's view of the table for the API: each key it is shown is looked up at most
once every KEY_CACHE_S, so that a request costs a dictionary look-up, not a query, and a revoked
key stops working within KEY_CACHE_S everywhere.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update

from digit_knower.store.errors import DatabaseError, DatabaseUnavailableError
from digit_knower.store.tables import api_keys

if TYPE_CHECKING:
    from digit_knower.store.repository import Store

SCOPES = ("predict", "label", "read", "admin")
ADMIN_KEY_NAME = "DIGIT_KNOWER_API_KEY"  # upper case: no created key can be named so
ANONYMOUS = "anonymous"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_RESERVED = {ANONYMOUS}
TOKEN_PREFIX = "dk_"
# A revocation reaches every API process within this many seconds; a key's look-up costs one
# indexed query per process this often.
KEY_CACHE_S = 5.0
CACHE_SIZE = 1024


class InvalidApiKeyError(DatabaseError, ValueError):
    """A key that cannot be created as asked: a bad name or scope, or a name already given."""


class UnknownApiKeyError(DatabaseError, LookupError):
    """No key has the given name."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    trusted: bool
    created_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def allows(self, scope: str) -> bool:
        return self.is_admin or scope in self.scopes

    @property
    def active(self) -> bool:
        return self.revoked_at is None


ADMIN_KEY = ApiKey(ADMIN_KEY_NAME, frozenset({"admin"}), trusted=True)
ANONYMOUS_KEY = ApiKey(ANONYMOUS, frozenset({"admin"}), trusted=False)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def valid_name(name: str) -> str:
    if not _NAME.match(name) or name in _RESERVED:
        raise InvalidApiKeyError(
            f"{name!r} cannot name a key: use 1-64 lower-case letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit (and not {', '.join(sorted(_RESERVED))})"
        )
    return name


def valid_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(s.strip() for s in scopes if s.strip())
    unknown = sorted(chosen - set(SCOPES))
    if unknown or not chosen:
        raise InvalidApiKeyError(
            f"unknown scope {', '.join(map(repr, unknown))}" if unknown else "a key needs at least one scope"
        )
    return chosen


# ---- queries, on an open connection ----


def create(
    connection: Connection, name: str, scopes: frozenset[str], trusted: bool, now: datetime
) -> tuple[ApiKey, str]:
    """The new key and its token (the only time the token exists outside the caller's hands)."""
    if connection.execute(select(api_keys.c.name).where(api_keys.c.name == name)).first() is not None:
        raise InvalidApiKeyError(
            f"a key named {name!r} exists already (revoked names are never given again); choose another name"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {
        "name": name,
        "token_sha256": token_sha256(token),
        "scopes": ",".join(s for s in SCOPES if s in scopes),
        "trusted": trusted,
        "created_at": now,
        "revoked_at": None,
    }
    connection.execute(insert(api_keys).values(**values))
    return ApiKey(name, scopes, trusted, now, None), token


def listing(connection: Connection) -> list[ApiKey]:
    return [_key(row) for row in connection.execute(select(api_keys).order_by(api_keys.c.name))]


def revoke(connection: Connection, name: str, now: datetime) -> ApiKey:
    row = connection.execute(select(api_keys).where(api_keys.c.name == name)).first()
    if row is None:
        raise UnknownApiKeyError(f"no key is named {name!r}; see `digit-knower keys list`")
    if row.revoked_at is None:
        connection.execute(update(api_keys).where(api_keys.c.name == name).values(revoked_at=now))
        return _key(row, revoked_at=now)
    return _key(row)


def lookup(connection: Connection, digest: str) -> ApiKey | None:
    """The active key with this hash, or None."""
    statement = select(api_keys).where(api_keys.c.token_sha256 == digest, api_keys.c.revoked_at.is_(None))
    row = connection.execute(statement).first()
    return None if row is None else _key(row)


def any_active(connection: Connection) -> bool:
    statement = select(api_keys.c.name).where(api_keys.c.revoked_at.is_(None)).limit(1)
    return connection.execute(statement).first() is not None


def trusted_names(connection: Connection) -> set[str]:
    """The names whose labels retraining trusts: active trusted keys, and the admin key."""
    statement = select(api_keys.c.name).where(api_keys.c.trusted.is_(True), api_keys.c.revoked_at.is_(None))
    return {ADMIN_KEY_NAME, *connection.execute(statement).scalars()}


def _key(row: object, revoked_at: datetime | None = None) -> ApiKey:
    values = row._asdict()  # type: ignore[attr-defined]
    return ApiKey(
        name=values["name"],
        scopes=frozenset(values["scopes"].split(",")),
        trusted=bool(values["trusted"]),
        created_at=_utc(values["created_at"]),
        revoked_at=_utc(revoked_at or values["revoked_at"]),
    )


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# ---- a process's cached view, for the API ----


class KeyRing:
    """Who a request's key names, without a query per request. Thread-safe.

    While the database cannot be reached, a key seen before is still known (its last look-up
    holds, however old); a key never seen raises DatabaseUnavailableError (the API's 503).
    """

    def __init__(self, store: Store, admin_token: str | None, cache_s: float = KEY_CACHE_S) -> None:
        self._store = store
        self._admin = token_sha256(admin_token) if admin_token else None
        self._cache_s = cache_s
        self._seen: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()
        self._any: tuple[float, bool] | None = None
        self._lock = threading.Lock()

    def required(self) -> bool:
        """Whether requests need a key: DIGIT_KNOWER_API_KEY is set, or the table holds an active
        key. Unknown (the database never answered yet, and no admin key): not required, as before
        keys existed; set DIGIT_KNOWER_API_KEY for an API that is never open."""
        known = self.required_known()
        if known is not None:
            return known
        try:
            found = self._store._read(any_active)
        except DatabaseUnavailableError:
            return self._any[1] if self._any is not None else False
        self._any = (time.monotonic() + self._cache_s, found)
        return found

    def required_known(self) -> bool | None:
        """`required()` when it needs no query (the admin key is set, or the answer is fresh), else None."""
        if self._admin is not None:
            return True
        if self._any is not None and time.monotonic() < self._any[0]:
            return self._any[1]
        return None

    def find(self, token: str) -> ApiKey | None:
        """The key `token` is, or None for a wrong or revoked one."""
        known, key = self.known(token)
        if known:
            return key
        digest = token_sha256(token)
        try:
            key = self._store._read(lookup, digest)
        except DatabaseUnavailableError:
            with self._lock:
                seen = self._seen.get(digest)
            if seen is not None:
                return seen[1]
            raise
        with self._lock:
            self._seen[digest] = (time.monotonic() + self._cache_s, key)
            self._seen.move_to_end(digest)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
        return key

    def known(self, token: str) -> tuple[bool, ApiKey | None]:
        """(True, `find(token)`) when that needs no query, else (False, None): an event loop
        looks here first, and hands only the look-ups that query to a thread."""
        digest = token_sha256(token)
        if self._admin is not None and secrets.compare_digest(digest, self._admin):
            return True, ADMIN_KEY
        with self._lock:
            seen = self._seen.get(digest)
        if seen is not None and time.monotonic() < seen[0]:
            return True, seen[1]
        return False, None
