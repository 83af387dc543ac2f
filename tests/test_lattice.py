"""Theory checks of the triangular-lattice fracture simulator (sciml/classical/lattice.py).

References: lambda = mu = sqrt(3) k / 4, c_s = a sqrt(k/m) sqrt(3/8), c_R = 0.9194 c_s, Yoffe speed
0.631 c_s (../shared/reference/fracture/README.md; Freund 1990); the Griffith strain of the strip
(Marder & Gross 1995) derived in the module docstring. Strips of 120 a x 24 a, seed 30 a.
"""

import math

import numpy as np
import pytest

from sciml import data as bundled
from sciml.classical import lattice as L

C = L.wave_speeds()
STRIP = {"length": 120.0, "height": 24.0, "seed_crack": 30.0}


@pytest.fixture(scope="module")
def runs():
    """Orientation-0 runs shared by the tests, keyed by (drive, start): 'moving' is the default
    moving start, 'static' the static seed (initiation 0)."""
    cases = [(0.9, "moving"), (1.1, "moving"), (1.2, "moving"), (1.25, "moving"), (1.3, "moving"),
             (1.45, "moving"), (1.7, "static"), (1.9, "static")]
    return {(d, start): L.simulate(d, **STRIP, **({"initiation": 0.0} if start == "static" else {}))
            for d, start in cases}


def test_moduli_match_closed_form():
    lam, mu = L.measured_moduli(strain=1e-4)
    assert L.lame_constants() == (math.sqrt(3) / 4, math.sqrt(3) / 4)
    assert lam == pytest.approx(math.sqrt(3) / 4, rel=1e-4)  # measured 2.5e-5 (geometric nonlinearity)
    assert mu == pytest.approx(math.sqrt(3) / 4, rel=1e-4)  # measured 6e-10


def test_shear_wave_speed_matches_closed_form():
    n = 64
    c = L.transverse_wave_speed(n_cells=n)
    q = 2 * math.pi / n
    assert c == pytest.approx(math.sqrt(6) * math.sin(q / 4) / q, rel=1e-5)  # the lattice's own dispersion
    assert c == pytest.approx(C["c_s"], rel=2e-4)  # long-wave limit sqrt(3/8) a sqrt(k/m)


@pytest.mark.parametrize("orientation", [0.0, 30.0])
def test_energy_release_at_griffith_strain_equals_surface_energy(orientation):
    """Static linear solves with the seed at 100 a and 140 a: the elastic energy released per unit
    crack advance at drive 1 is the surface energy 2 gamma = n(theta) k a^2 eps_c^2 / 2."""
    strip = L.make_strip(240.0, 24.0, orientation)
    eps = L.griffith_strain(strip.grip_distance, 0.1, orientation)
    energy = []
    for seed in (100.0, 140.0):
        cut = L.seed_bonds(strip, seed)
        u = L.static_displacement(strip, eps, ~cut)
        p, q = strip.bonds[~cut, 0], strip.bonds[~cut, 1]
        stretch = np.einsum("ij,ij->i", strip.positions[q] - strip.positions[p], u[q] - u[p])
        energy.append(0.5 * np.sum(stretch ** 2))
    release = (energy[0] - energy[1]) / 40.0
    assert release / (L.bonds_per_length(orientation) * 0.5 * 0.1 ** 2) == pytest.approx(1.0, abs=1e-2)


def test_no_growth_below_griffith(runs):
    assert runs[(0.9, "moving")].grew < 1.0  # the moving start arrests at once
    assert runs[(1.1, "moving")].grew < 15.0  # and still arrests at 1.1 (dynamic threshold above 1.1)


def test_static_seed_is_trapped_up_to_the_static_tip_strain(runs):
    """Lattice trapping: the linear static tip-bond strain reaches eps_c at drive 1.82; a static
    seed does not move at 1.7 and runs at 1.9 (it first moves at 1.75: the geometric nonlinearity
    left out of the linear initial state adds a few per cent)."""
    trapped = runs[(1.7, "static")]
    assert not np.isfinite(trapped.break_time).any()  # no bond broke during the run (seed: -inf)
    assert runs[(1.9, "static")].grew > 50.0


def test_crack_speed_below_rayleigh_and_rising_with_drive(runs):
    speeds = [L.crack_speed(runs[(d, "moving")]) for d in (1.2, 1.25, 1.3)]
    assert all(0.45 < s < L.RAYLEIGH for s in speeds), speeds  # measured 0.555, 0.628, 0.681 c_s
    assert speeds[0] < speeds[1] < speeds[2], speeds
    assert all(L.branch_width(runs[(d, "moving")]) < 2.0 for d in (1.2, 1.25, 1.3))  # straight cracks


def test_branching_only_at_high_drive_near_yoffe_speed(runs):
    """The straight crack at drive 1.3 is the fastest; at 1.45 bonds off the line break (spread of
    several rows), and the speed at the onset is within 15 % of the Yoffe speed 0.631 c_s."""
    assert L.branch_width(runs[(1.45, "moving")]) > 3.0
    onset = L.crack_speed(runs[(1.3, "moving")])
    assert onset == pytest.approx(L.YOFFE, rel=0.15)


def test_masks_are_irreversible_and_tip_matches():
    result = L.simulate(1.3, length=60.0, height=16.0, seed_crack=15.0)
    times = np.linspace(0.0, result.t_end, 9)
    masks = L.crack_masks(result, times, (12, 20))
    assert masks.shape == (9, 12, 20) and masks.dtype == bool
    assert np.all(masks[1:] >= masks[:-1])  # a pixel once cracked stays cracked
    assert masks[0].any() and masks[-1].sum() > masks[0].sum()
    tip = result.tip(times)
    assert np.all(np.diff(tip) >= 0) and tip[0] == pytest.approx(14.5, abs=1.0)
    cracked_columns = np.flatnonzero(masks[-1].any(axis=0))
    assert (cracked_columns.max() + 1) * 60.0 / 20 >= tip[-1]  # the mask reaches the tip


def test_tiny_dataset():
    data = L.generate_dataset(2, seed=3, t_end=60.0, shape=(6, 8), frames=3, n_tip=5,
                              length=40.0, height=12.0, seed_crack=10.0)
    assert data["masks"].shape == (2, 3, 6, 8)
    assert data["tip_history"].shape == (2, 5) and data["tip"].shape == (2, 3)
    assert np.all((0.8 <= data["drive"]) & (data["drive"] <= 2.4))
    assert np.all((0.0 <= data["orientation"]) & (data["orientation"] <= 30.0))
    assert np.all(data["masks"][:, 1:] >= data["masks"][:, :-1])
    again = L.generate_dataset(2, seed=3, t_end=60.0, shape=(6, 8), frames=3, n_tip=5,
                               length=40.0, height=12.0, seed_crack=10.0)
    assert np.array_equal(again["masks"], data["masks"]) and np.array_equal(again["tip_history"], data["tip_history"])


@pytest.mark.parametrize("orientation", [11.7, 22.5])
def test_a_seed_cut_that_leaves_an_atom_hanging_still_solves_and_runs(orientation):
    """At these orientations the seed cut of the data set's strip leaves the atom at the strip's left
    end on the mid-line held by one bond, loose across it in the linearised lattice. The static start
    must be finite and in balance, with the hanging atom at rest across its bond and its bond
    unstretched; and a crack at drive 2.33 must run on from the forced start as its neighbours in
    the data set do. (A singular solve once gave that atom an arbitrary displacement or filled the
    lattice with NaN, which froze it: no bond broke after the forced start.)"""
    strip = L.make_strip(120.0, 30.0, orientation)
    alive = ~L.seed_bonds(strip, 30.0)
    hanging = np.flatnonzero(np.bincount(strip.bonds[alive].ravel(), minlength=len(strip.positions)) == 1)
    assert len(hanging) == 1
    u = L.static_displacement(strip, 0.05, alive)
    free = np.repeat(~(strip.grip_bottom | strip.grip_top), 2)
    assert np.all(np.isfinite(u))
    assert np.abs((L._stiffness(strip, alive, 1.0) @ u.ravel())[free]).max() < 1e-8
    p, q = strip.bonds[alive][(strip.bonds[alive] == hanging[0]).any(axis=1)][0]
    along = strip.positions[q] - strip.positions[p]
    across = np.array([-along[1], along[0]])
    assert abs(u[hanging[0]] @ across) < 1e-6 and abs((u[q] - u[p]) @ along) < 1e-8
    assert L.simulate(2.33, orientation, t_end=120.0, **L.DATASET_GEOMETRY).grew > 30.0


@pytest.mark.parametrize("kwargs, word", [({"drive": -1.0}, "drive"), ({"drive": 1.0, "dt": 1.0}, "dt"),
                                          ({"drive": 1.0, "orientation": 45.0}, "orientation"),
                                          ({"drive": 1.0, "seed_crack": 500.0}, "seed_crack")])
def test_bad_input_names_the_value(kwargs, word):
    with pytest.raises(ValueError, match=word):
        L.simulate(**{"length": 40.0, "height": 12.0, **kwargs})


def test_bundled_movies():
    """The bundled set (data/lattice_fracture.md) matches its checksum and the theory: masks
    irreversible, no movie runs below the Griffith drive, straight cracks below c_R."""
    data = np.load(bundled.path("lattice_fracture"))
    masks = data["masks"]
    assert masks.shape[1:] == (9, 30, 40) and len(masks) == len(data["drive"])
    assert np.all(masks[:, 1:] >= masks[:, :-1])
    assert np.all(data["speed"][data["drive"] < 1.0] == 0.0)
    straight = (data["speed"] > 0) & ~data["branched"]
    assert straight.any() and np.all(data["speed"][straight] < L.RAYLEIGH)
    assert np.array_equal(data["branched"], data["branch_width"] > 3.0)
