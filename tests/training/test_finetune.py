"""Fine-tuning reads its parent's recipe back from the parent's card, data mix included."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import RealHands
from digit_knower.training.finetune import parent_config, real_hands_for


def card_of(cfg: TrainConfig) -> dict:
    return {
        "hyperparameters": {k: v for k, v in asdict(cfg).items() if k not in ("seed", "threads")},
        "seed": 3,
    }


def test_a_parent_s_recipe_comes_back_from_its_card() -> None:
    cfg = TrainConfig(epochs=3, widths=(8, 16, 32), pen_share=0.2, omniglot_share=0.1)
    recipe = parent_config(card_of(cfg))
    assert recipe.widths == (8, 16, 32) and recipe.seed == 3
    assert (recipe.pen_share, recipe.omniglot_share) == (0.2, 0.1)


def test_a_parent_trained_before_the_real_hands_never_read_them(tmp_path: Path) -> None:
    old = card_of(TrainConfig())
    for share in ("pen_share", "omniglot_share", "pen_redraws"):
        del old["hyperparameters"][share]
    recipe = parent_config(old)
    assert (recipe.pen_share, recipe.omniglot_share) == (0.0, 0.0)
    # Nothing to load for it: an empty data folder is never read.
    assert real_hands_for(old, tmp_path / "nothing here") is None


def test_a_parent_that_read_the_real_hands_gets_them_again(data_dir: Path) -> None:
    hands = real_hands_for(card_of(TrainConfig()), data_dir)
    assert isinstance(hands, RealHands)
    assert len(hands.pen.labels) == 7_494 and len(hands.omniglot.train) == 30_000
