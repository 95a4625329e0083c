"""The users' labelled drawings as training data: a stable split into training and holdout rows.

Each row's side is decided by a hash of its own id and nothing else, so a row never moves from
one side to the other as more feedback arrives: the holdout stays unseen by every later model.

Only trusted labels are used, on both sides: the training rows and the gate's feedback holdout
(`Store.labelled_feedback`, the rule in `store.deployments.trusted_label`). A label is trusted when

- it was given by a key an admin marked trusted (`digit-knower keys create NAME --scope label
  --trusted`), or by the admin key DIGIT_KNOWER_API_KEY, and that key is not revoked (revoking a
  key takes its labels out of every later retrain); or
- it confirms the model's own sure reading: the label is the digit the reader answered, with the
  verdict "digit" (sure, not "unsure"). Such a label cannot teach the model anything it did not
  already say, so anyone may give it; it keeps the model's good readings of the users' style.

Everything else is left out: labels from the page's anonymous visitors and from untrusted keys
that contradict the model, or that it was unsure of, and labels given before keys existed (they
name no labeller). So 300 wrong labels from an untrusted source change nothing that is learned.
The price: a correction from an untrusted source (the model read a 7 as a 1) teaches nothing until
a trusted key gives the same label. Rows whose picture retention dropped are left out too.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from digit_knower.store import Feedback

HOLDOUT_PERCENT = 20
# Salted, so that the split is not tied to any other use of the same hash of an id.
_SPLIT_SALT = b"digit-knower feedback split v1\0"


def in_holdout(prediction_id: uuid.UUID) -> bool:
    """Whether this prediction belongs to the feedback holdout (about 20% of ids), for good."""
    digest = hashlib.sha256(_SPLIT_SALT + prediction_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HOLDOUT_PERCENT


@dataclass(frozen=True)
class FeedbackSet:
    """Labelled 28x28 inputs, as arrays."""

    images: NDArray[np.uint8]  # (N, 28, 28), white ink on black
    labels: NDArray[np.int64]  # (N,)

    @classmethod
    def of(cls, rows: Sequence[Feedback]) -> FeedbackSet:
        images = np.frombuffer(b"".join(r.model_input for r in rows), dtype=np.uint8).reshape(-1, 28, 28)
        return cls(images.copy(), np.array([r.true_label for r in rows], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class FeedbackSplit:
    train: FeedbackSet
    holdout: FeedbackSet
    rows: int
    latest: Feedback | None  # the newest row used (by time, then id)
    sha256: str  # of every row used: ids, labels and inputs, in order

    def lineage(self) -> dict[str, object]:
        """What a model card records of the feedback it was trained on."""
        latest = None
        if self.latest is not None:
            latest = {"id": str(self.latest.id), "created_at": self.latest.created_at.isoformat()}
        return {
            "feedback_rows": self.rows,
            "feedback_train_rows": len(self.train),
            "feedback_holdout_rows": len(self.holdout),
            "feedback_latest": latest,
            "feedback_sha256": self.sha256,
        }


def split(rows: Sequence[Feedback]) -> FeedbackSplit:
    """Training and holdout rows (each in the given order), with what the card needs to name them."""
    ordered = sorted(rows, key=lambda r: (r.created_at, r.id))
    digest = hashlib.sha256()
    for row in ordered:
        digest.update(row.id.bytes + bytes([row.true_label]) + row.model_input)
    holdout = [r for r in ordered if in_holdout(r.id)]
    train = [r for r in ordered if not in_holdout(r.id)]
    return FeedbackSplit(
        train=FeedbackSet.of(train),
        holdout=FeedbackSet.of(holdout),
        rows=len(ordered),
        latest=ordered[-1] if ordered else None,
        sha256=digest.hexdigest(),
    )
