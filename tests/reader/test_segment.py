"""Finding several digits side by side: the ink is cut at blank columns, and only there."""

from __future__ import annotations

import numpy as np

from digit_knower.reader.segment import digit_spans


def spans(mask: np.ndarray) -> list[slice]:
    return digit_spans(mask).spans


def ink(*boxes: tuple[int, int, int, int], size: tuple[int, int] = (60, 120)) -> np.ndarray:
    """A strong-ink mask with filled boxes (top, left, bottom, right)."""
    mask = np.zeros(size, dtype=bool)
    for top, left, bottom, right in boxes:
        mask[top:bottom, left:right] = True
    return mask


def test_one_piece_is_one_digit() -> None:
    assert spans(ink((10, 20, 50, 40))) == []


def test_two_digits_a_visible_gap_apart_are_two_spans_left_to_right() -> None:
    assert spans(ink((10, 10, 50, 30), (10, 50, 50, 70))) == [slice(10, 30), slice(50, 70)]


def test_three_digits_give_three_spans() -> None:
    found = spans(ink((10, 5, 50, 25), (10, 45, 50, 60), (12, 80, 48, 100)))
    assert found == [slice(5, 25), slice(45, 60), slice(80, 100)]


def test_pieces_closer_than_a_share_of_their_height_belong_to_one_digit() -> None:
    # A broken stroke: a 40-pixel-high digit with a 3-pixel gap in it (under 12% of 40).
    assert spans(ink((10, 10, 50, 30), (10, 33, 50, 45))) == []


def test_a_dot_or_dash_beside_a_digit_joins_it_rather_than_counting_as_a_digit() -> None:
    assert spans(ink((10, 10, 50, 30), (28, 50, 32, 60))) == []
    # ... but beside two digits it leaves them two.
    found = spans(ink((10, 10, 50, 30), (28, 40, 32, 46), (10, 60, 50, 80)))
    assert len(found) == 2 and found[0].start == 10 and found[1].stop == 80


def test_a_stray_speck_is_left_out() -> None:
    assert spans(ink((10, 10, 50, 40), (30, 100, 31, 101))) == []


def test_hatching_of_many_strokes_is_not_a_row_of_digits() -> None:
    strokes = [(10, x, 50, x + 3) for x in range(2, 118, 12)]
    assert spans(ink(*strokes)) == []  # ten "pieces": more than a number someone writes


def test_a_gap_wider_than_any_digit_breaks_is_clearly_apart() -> None:
    assert digit_spans(ink((10, 10, 50, 30), (10, 42, 50, 60))).clearly_apart  # 12 px at 40 high
    assert not digit_spans(ink((10, 10, 50, 30), (10, 36, 50, 60))).clearly_apart  # 6 px: maybe one digit
    assert not digit_spans(ink((10, 10, 50, 40))).clearly_apart


def test_cuts_are_tried_only_on_ink_wider_than_high() -> None:
    from digit_knower.reader.cuts import could_be_several

    assert could_be_several(ink((10, 10, 50, 60)))
    assert not could_be_several(ink((10, 10, 50, 40)))
    assert not could_be_several(np.zeros((10, 10), bool))


def test_blank_columns_inside_the_ink_are_found_however_narrow() -> None:
    from digit_knower.reader.cuts import has_blank_columns

    assert has_blank_columns(ink((10, 10, 50, 30), (10, 31, 50, 50)))  # one blank column
    assert not has_blank_columns(ink((10, 10, 50, 30), (10, 30, 50, 50)))  # touching
    assert not has_blank_columns(ink((10, 10, 50, 30), (40, 10, 50, 50)))  # an "L": blank above only
    assert not has_blank_columns(np.zeros((10, 10), bool))


def test_touching_boxes_are_cut_at_the_thin_place_between_them() -> None:
    from digit_knower.reader.cuts import cuts

    # Two 40-high "digits" joined by a 2-pixel-high bridge at columns 30-34: the cut falls there.
    mask = ink((10, 10, 50, 30), (29, 30, 31, 34), (10, 34, 50, 54))
    found = cuts((mask * 255).astype(np.uint8), mask)
    two_part_cuts = {found.parts[way[0]].shape[1] + 10 for way in found.ways if len(way) == 2}
    assert two_part_cuts & set(range(30, 35))
    assert all(2 <= len(way) <= 3 for way in found.ways)
