"""The classical cavity solver (stream function-vorticity, Newton) against Ghia, Ghia & Shin (1982)."""

import numpy as np
import pytest

from sciml.classical.cavity import BUNDLED_RE, bundled, ghia_deviation, ghia_table, solve_cavity


def test_re100_matches_ghia_on_a_coarse_grid():
    # 65 x 65 nodes, well under a second: every Table I/II point within 1% of the lid speed.
    flow = solve_cavity(100, n=65)
    dev = ghia_deviation(flow)
    assert dev["u"] <= 0.01 and dev["v"] <= 0.01, dev
    # No net flux through the walls: the stream function vanishes on all four.
    assert np.abs(flow.psi[[0, -1], :]).max() < 1e-14 and np.abs(flow.psi[:, [0, -1]]).max() < 1e-14
    # Primary vortex at Re 100: psi_min = -0.103423 at (0.6172, 0.7344) (Ghia et al., Table III).
    i, j = np.unravel_index(np.argmin(flow.psi), flow.psi.shape)
    assert abs(flow.x[i] - 0.6172) < 0.02 and abs(flow.x[j] - 0.7344) < 0.02
    assert flow.psi.min() == pytest.approx(-0.103423, abs=2e-3)


@pytest.mark.parametrize("re", BUNDLED_RE)
def test_bundled_fields_match_ghia(re):
    dev = ghia_deviation(bundled(re))
    assert dev["u"] <= 0.01 and dev["v"] <= 0.01, dev


def test_bundled_re100_is_what_the_solver_gives():
    flow = bundled(100)
    again = solve_cavity(100, n=flow.x.size)
    np.testing.assert_allclose(again.u, flow.u, atol=1e-12)
    np.testing.assert_allclose(again.omega, flow.omega, atol=1e-9)


def test_ghia_table_is_the_published_one():
    table = ghia_table()
    assert table["u"].shape == (17, 3) and table["v"].shape == (17, 3)
    # Spot values of Tables I and II (Re 100, 400, 1000 columns).
    assert table["u"][8].tolist() == [-0.20581, -0.11477, -0.0608]
    assert table["v"][9].tolist() == [-0.24533, -0.38598, -0.31966]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="re must be a positive"):
        solve_cavity(-1)
    with pytest.raises(ValueError, match="n must be an integer"):
        solve_cavity(100, n=4)
    with pytest.raises(ValueError, match="bundled cavity solutions"):
        bundled(250)
