"""Every model version at a glance: its card's figures, its live accuracy, whether it serves.

The one source for `digit-knower models list` and the page's Models view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from digit_knower.serving.registry import Registry
from digit_knower.store import Deployment, RegisteredModel, Store


@dataclass(frozen=True)
class VersionRow:
    version: str
    created_at: datetime | None
    parent: str | None  # None: trained from scratch (e.g. the shipped model)
    test_accuracy: float | None  # MNIST test set, from its card
    holdout_accuracy: float | None  # the feedback holdout of its retrain (retrained models only)
    robustness_accuracy: float | None  # the mouse-style set of its retrain (retrained models only)
    predictions: int  # every prediction it made
    labelled: int  # ... of which labelled
    live_accuracy: float | None  # correct / labelled
    serving: bool
    on_disk: bool  # its folder is in the registry (or it is this process's shipped model)


@dataclass(frozen=True)
class Catalog:
    versions: list[VersionRow]  # newest first
    serving: str
    history: list[Deployment]  # newest first
    latest_retrain: dict[str, Any] | None  # the card of the newest retrained model

    def comparison(self) -> list[tuple[str, str, float]] | None:
        """(set name, "parent"/"candidate", accuracy) of the latest retrain, for a plot."""
        if self.latest_retrain is None:
            return None
        evaluation = self.latest_retrain["evaluation"]
        return [
            (name, role, evaluation[role][name]["accuracy"])
            for name in evaluation["candidate"]
            for role in ("parent", "candidate")
            if evaluation[role][name]["accuracy"] is not None
        ]


def catalog(store: Store, registry: Registry) -> Catalog:
    """Read the registered models, their live figures and the deployments (DatabaseError if it cannot)."""
    models = store.registered_models()
    stats = {m.model_version: m for m in store.stats().per_model}
    history = store.deployments()
    serving = history[0].version if history else registry.baseline_version
    on_disk = registry.versions_on_disk() | {registry.baseline_version}
    rows = []
    for model in sorted(models, key=_created, reverse=True):
        live = stats.get(model.version)
        rows.append(
            VersionRow(
                version=model.version,
                created_at=_created(model),
                parent=(model.card.get("lineage") or {}).get("parent_version"),
                test_accuracy=model.card.get("test_accuracy"),
                holdout_accuracy=_evaluated(model.card, "feedback_holdout"),
                robustness_accuracy=_evaluated(model.card, "robustness"),
                predictions=live.predictions if live else 0,
                labelled=live.labelled if live else 0,
                live_accuracy=live.accuracy if live else None,
                serving=model.version == serving,
                on_disk=model.version in on_disk,
            )
        )
    retrained = [m for m in models if "evaluation" in m.card]
    latest = max(retrained, key=_created).card if retrained else None
    return Catalog(rows, serving, history, latest)


def _created(model: RegisteredModel) -> datetime:
    created = model.card.get("created_at")
    try:
        moment = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # cards without a zone were written in UTC
    return moment or model.registered_at


def _evaluated(card: dict[str, Any], name: str) -> float | None:
    try:
        return card["evaluation"]["candidate"][name]["accuracy"]
    except (KeyError, TypeError):
        return None
