"""The lattice movie spread analysis (sciml.validation.movie_spread) on tips whose answer is worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sciml.validation.movie_spread import advance_spread, analogue_errors, inner_split, scaled, split_spread

# movies A and B share their conditions; C is one standard unit away
TIPS = np.array([[0, 1, 2], [0, 2, 4], [0, 5, 5]])
Z = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])


def test_the_tip_advance_spread_of_hand_worked_pairs():
    near, far = advance_spread(TIPS, Z, edges=(0.0, 0.5, 1.5), horizons=(1, 2))
    assert (near["pairs"], far["pairs"]) == (1, 2)
    # A and B: advances 1, 1 and 2, 2 over one frame (gaps 1, 1), 2 and 4 over two (gap 2); only k = 0 has equal tips
    assert near["half_spread_px"] == {1: 0.5, 2: 1.0}
    assert near["same_tip"] == {1: 1, 2: 1} and near["half_spread_same_tip_px"] == {1: 0.5, 2: 1.0}
    # A-C gaps |1 - 5|, |1 - 0| and B-C gaps |2 - 5|, |2 - 0| over one frame; equal tips at k = 0 only (gaps 4 and 3)
    assert far["half_spread_px"][1] == pytest.approx(0.5 * (4 + 1 + 3 + 2) / 4)
    assert far["half_spread_same_tip_px"][1] == pytest.approx(0.5 * (4 + 3) / 2)
    # over two frames: A-C |2 - 5|, B-C |4 - 5|
    assert far["half_spread_px"][2] == pytest.approx(0.5 * (3 + 1) / 2)


def test_an_empty_bin_and_a_horizon_beyond_the_movie():
    (empty,) = advance_spread(TIPS, Z, edges=(2.0, 3.0), horizons=(1,))
    assert empty["pairs"] == 0 and empty["half_spread_px"] == {}
    with pytest.raises(ValueError, match="horizons must be below the 3 frames"):
        advance_spread(TIPS, Z, horizons=(3,))


def test_conditions_are_scaled_by_the_reference_standard_deviations():
    reference = np.array([[1.0, 0.0], [3.0, 10.0]])  # standard deviations 1 and 5
    assert scaled(np.array([[2.0, 5.0]]), reference) == pytest.approx(np.array([[2.0, 1.0]]))


def test_the_analogue_forecast_of_hand_worked_tips():
    # training movies 0-2 (A, B, C of TIPS), test movie D: conditions of A and B, tips 0, 1, 3
    tips = np.vstack([TIPS, [0, 1, 3]])
    z = np.vstack([Z, [0.0, 0.0]])
    # one neighbour, w = 0: A (tie with B, the lower index), advances 1, 1 and 2; D's errors: k = 0: |0 + 1 - 1|,
    # k = 1: |1 + 1 - 3|; N = 2 from k = 0: |0 + 2 - 3|
    assert analogue_errors(tips, z, np.arange(3), np.array([3]), 1, 0.0) == {1: 0.5, 2: 1.0}
    # three neighbours (all), medians of the advances of (A, B, C):
    # k = 0: median(1, 2, 5) = 2 -> |2 - 1|; k = 1: median(1, 2, 0) = 1 -> |2 - 3|; N = 2: median(2, 4, 5) = 4 -> |4 - 3|
    assert analogue_errors(tips, z, np.arange(3), np.array([3]), 3, 1.0) == {1: 1.0, 2: 1.0}
    with pytest.raises(ValueError, match="neighbours must be 1 ... 3 .*got 4"):
        analogue_errors(tips, z, np.arange(3), np.array([3]), 4, 1.0)


def test_the_inner_split_is_the_lattice_study_split(tmp_path):
    from sciml.problems.lattice import LatticeFracture
    from sciml.validation.lattice_study import INNER

    train = np.arange(3, 53)  # 50 movies of indices other than their positions
    rng = np.random.default_rng(0)
    masks = rng.random((50, 2, 3, 4)) > 0.5
    path = tmp_path / "movies.npz"
    np.savez(path, masks=masks, drive=rng.random(50), orientation=rng.random(50), branched=np.zeros(50, bool))
    fit, measured = LatticeFracture(data=str(path), **INNER).split()
    mine = inner_split(train)
    np.testing.assert_array_equal(mine[0], train[fit])
    np.testing.assert_array_equal(mine[1], train[measured])


def test_the_analogue_over_random_splits_of_hand_worked_movies():
    from sciml.problems.lattice import split_movies

    # four movies of steady tips (speeds 1, 1, 3 and 0 px per frame) at positions 5, 2, 7, 0 of a larger set: A and
    # A' share their conditions, B is 1 away, C 3; one of them measured per split, the analogue's one neighbour
    # (w = 0) the nearest of the other three: A <-> A' (error 0), B -> A (speeds 3 against 1: 2 px per frame
    # ahead, 8 px at N = 4, the largest up to N = 4 and the last), C -> B (3 px per frame, 12 px)
    tips = np.full((8, 5), 99.0)
    z = np.full((8, 2), 50.0)
    for index, speed, place in ((5, 1, 0.0), (2, 1, 0.0), (7, 3, 1.0), (0, 0, 3.0)):
        tips[index], z[index] = speed * np.arange(5), [place, 0.0]
    pool = np.array([5, 2, 7, 0])
    error = {5: 0.0, 2: 0.0, 7: 8.0, 0: 12.0}
    found = split_spread(tips, z, pool, 0.25, 3, neighbours=1, weight=0.0, splits=6)
    measured = {seed: error[int(pool[split_movies(4, 0.25, seed)[1]][0])] for seed in range(1, 8)}
    others = [measured[seed] for seed in (1, 2, 4, 5, 6, 7)]  # the used seed 3 left out
    assert found["used"] == {"max_n4": measured[3], "last": measured[3]}
    assert found["others"] == [{"max_n4": e, "last": e} for e in others]
    assert found["measured"] == 1 and found["frames_ahead_last"] == 4
    assert found["last"]["median"] == pytest.approx(np.median(others))
    assert found["last"]["share_lower"] == pytest.approx(np.mean(np.array(others) < measured[3]))
    assert len(set(others)) > 1  # the splits measured different movies
