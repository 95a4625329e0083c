"""The store's errors. Each message is one line a person can act on."""

from __future__ import annotations


class DatabaseError(Exception):
    """Base class of every error the store raises on purpose."""


class DatabaseConfigError(DatabaseError):
    """DATABASE_URL is wrong: bad syntax, unsupported driver, wrong password, unknown database."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached right now (server down, host unreachable, timed out).

    Distinct from `DatabaseConfigError` so that a front end can keep predicting during an
    outage: `log_prediction` never raises it (records go to the outbox instead).
    """


class OutboxError(DatabaseError):
    """The local outbox file cannot be opened or written (the database was down as well)."""


class LocalStorageFullError(OutboxError):
    """The outbox reached its cap (DIGIT_KNOWER_OUTBOX_MAX_MB) or its disk is full: a prediction that
    the database cannot take now cannot be kept either, so it is refused (the API's 503). What the
    outbox already holds stays, and drains once the database is back."""


class UnknownOutboxEntryError(DatabaseError, LookupError):
    """An operator named a dead letter, or another database, that the outbox does not hold."""


class SchemaOutOfDateError(DatabaseError):
    """The database's migrations are not at the revision this code needs."""


class InvalidLabelError(DatabaseError, ValueError):
    """A true label that is not an integer 0-9."""


class UnknownPredictionError(DatabaseError, LookupError):
    """No prediction has the given id."""


class InvalidModelCardError(DatabaseError, ValueError):
    """A model card without the fields the store needs."""


class UnknownModelError(DatabaseError, LookupError):
    """No registered model has the given version."""


class NothingToRollBackError(DatabaseError):
    """A rollback was asked for, but no earlier model served before the one serving now."""
