"""The promotion gate: what passes, what is refused, and the reason it gives."""

from __future__ import annotations

import pytest

from digit_knower.lifecycle.gate import Change, Score, Scores, judge

PARENT = Scores(mnist_test=Score(9965, 10_000), feedback_holdout=Score(46, 50), robustness=Score(587, 600))


def candidate(mnist: int = 9965, holdout: int = 50, robustness: int = 587) -> Scores:
    return Scores(Score(mnist, 10_000), Score(holdout, 50), Score(robustness, 600))


def test_a_candidate_better_on_feedback_and_as_good_elsewhere_passes() -> None:
    verdict = judge(PARENT, candidate())
    assert verdict.passed and verdict.failures == ()
    assert verdict.summary() == "the gate passed"


def test_losing_up_to_a_tenth_of_a_point_on_mnist_still_passes_but_more_does_not() -> None:
    assert judge(PARENT, candidate(mnist=9955)).passed  # 10 images: exactly 0.1 point
    verdict = judge(PARENT, candidate(mnist=9954))
    assert not verdict.passed
    [failure] = verdict.failures
    assert failure == (
        "MNIST test set: 99.54% is 0.11 points below the parent's 99.65% "
        "(11 of 10000 images; at most 0.1 points allowed)"
    )


def test_losing_more_than_a_fifth_of_a_point_on_the_robustness_set_is_refused() -> None:
    assert judge(PARENT, candidate(robustness=586)).passed  # 1 of 600 images: 0.17 point
    [failure] = judge(PARENT, candidate(robustness=585)).failures  # 2 images: 0.33 point
    assert failure.startswith("mouse-style robustness set: 97.50% is 0.33 points below the parent's 97.83%")


def test_a_candidate_only_as_good_on_the_feedback_holdout_is_refused() -> None:
    [failure] = judge(PARENT, candidate(holdout=46)).failures
    assert failure == (
        "feedback holdout: 92.00% is not better than the parent's 92.00% "
        "(46 against 46 of 50; it must be strictly better)"
    )


def test_every_failed_condition_is_named() -> None:
    verdict = judge(PARENT, candidate(mnist=9900, holdout=40, robustness=500))
    assert [f.split(":")[0] for f in verdict.failures] == [
        "MNIST test set",
        "mouse-style robustness set",
        "feedback holdout",
    ]
    assert verdict.summary().startswith("the gate refused: MNIST test set: 99.00%")


def test_an_empty_holdout_cannot_show_a_gain() -> None:
    empty = Scores(Score(9965, 10_000), Score(0, 0), Score(587, 600))
    [failure] = judge(empty, empty).failures
    assert "feedback holdout: empty" in failure


def test_scores_on_different_sets_are_a_bug_not_a_verdict() -> None:
    other = Scores(Score(9965, 10_000), Score(50, 51), Score(587, 600))
    with pytest.raises(ValueError, match="feedback_holdout"):
        judge(PARENT, other)


def test_a_candidate_that_changes_more_than_2_percent_of_the_reference_answers_is_left_for_a_person() -> None:
    assert judge(PARENT, candidate(), Change(60, 3000)).passed  # exactly 2%
    verdict = judge(PARENT, candidate(), Change(61, 3000))
    assert not verdict.passed
    [failure] = verdict.failures
    assert failure == (
        "reference set (mouse-style robustness set): the candidate changes the answer on 2.03% of it "
        "(61 of 3000 pictures; at most 2% without a person's review: digit-knower models promote VERSION)"
    )
