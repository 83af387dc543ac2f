"""The lattice studies' rules (issue 16): the weighting study adopts the weighted arm only when its medians
over the seeds beat equal weights on branching and tip error without losing more than 0.02 of IoU; the
tip-offsets and analogue studies adopt their second arm when its median tip error is lower without losing
more than 0.02 of branching accuracy or IoU; the analogue-k study when its median tip error at N = 8 is
lower at a cost of at most 0.05 px up to N = 4 and 0.02 of branching accuracy or IoU; the decoding study
when its median tip error up to N = 4 is lower, at N = 8 not higher, without losing more than 0.02 of branching
accuracy or IoU."""

from __future__ import annotations

import pytest

from sciml.validation.lattice_study import SEEDS, STUDIES, decide, training_movies

WEIGHTING = STUDIES["weighting"]
BASE, NEW = WEIGHTING.arms


def runs(branching: list[float], tip: list[float], iou: list[float], seeds=SEEDS) -> list[dict]:
    """Runs of both arms: equal weights at branching 0.85, tip 2.5 px, IoU 0.40 (seeds alike), the weighted
    arm at the given values per seed."""
    base = {"branching_accuracy": 0.85, "tip_error_px_max_n4": 2.5, "tip_error_px_n8": 2.5, "iou_min": 0.40,
            "speed_rel_error_max": 0.4, "backcast_ratio_max": 0.3}
    out = [{"arm": BASE, "seed": s, "metrics": dict(base)} for s in SEEDS]
    for s, b, t, i in zip(seeds, branching, tip, iou):
        out.append({"arm": NEW, "seed": s, "metrics": {**base, "branching_accuracy": b,
                                                         "tip_error_px_max_n4": t, "iou_min": i}})
    return out


def test_medians_decide():
    # medians 0.9, 1.6 px, 0.39: better branching and tip, IoU 0.01 lower -> adopted
    found = decide(WEIGHTING, runs([0.8, 0.9, 0.95], [1.5, 1.6, 3.0], [0.39, 0.39, 0.5]))
    assert found["adopt"] is True
    arm = found["arms"][NEW]
    assert arm["branching_accuracy"] == {"median": 0.9, "min": 0.8, "max": 0.95}
    assert arm["tip_error_px_max_n4"]["median"] == pytest.approx(1.6)


@pytest.mark.parametrize("branching, tip, iou", [
    ([0.85, 0.85, 0.99], [1.5, 1.5, 1.5], [0.4, 0.4, 0.4]),    # branching median only equal
    ([0.9, 0.9, 0.9], [2.5, 2.6, 1.0], [0.4, 0.4, 0.4]),       # tip median not lower
    ([0.9, 0.9, 0.9], [1.5, 1.5, 1.5], [0.37, 0.379, 0.5]),    # IoU median 0.021 lower
])
def test_not_adopted(branching, tip, iou):
    assert decide(WEIGHTING, runs(branching, tip, iou))["adopt"] is False


def test_incomplete_study_has_no_verdict():
    found = decide(WEIGHTING, runs([0.9, 0.9], [1.5, 1.5], [0.4, 0.4], seeds=SEEDS[:2]))
    assert found["complete"] is False and found["adopt"] is None


@pytest.mark.parametrize("branching, tip, iou, adopt", [
    ([0.84, 0.83, 0.99], [1.5, 1.6, 3.0], [0.39, 0.38, 0.5], True),   # tip lower; branching and IoU medians 0.01 lower
    ([0.9, 0.9, 0.9], [2.5, 2.5, 1.0], [0.4, 0.4, 0.4], False),       # tip median only equal
    ([0.82, 0.829, 0.9], [1.5, 1.5, 1.5], [0.4, 0.4, 0.4], False),    # branching median 0.021 lower
    ([0.9, 0.9, 0.9], [1.5, 1.5, 1.5], [0.37, 0.379, 0.5], False),    # IoU median 0.021 lower
])
@pytest.mark.parametrize("key", ["tip-offsets", "analogue"])
def test_tip_error_rule(key, branching, tip, iou, adopt):
    study = STUDIES[key]
    renamed = [{**r, "arm": dict(zip(WEIGHTING.arms, study.arms))[r["arm"]]} for r in runs(branching, tip, iou)]
    assert decide(study, renamed)["adopt"] is adopt


def verdict(key: str, n4: float, n8: float, branching: float, iou: float) -> bool | None:
    """Study ``key``'s verdict when its base arm scores branching 0.85, tip 2.5 px up to N = 4 and at N = 8, IoU 0.40
    at every seed and its second arm the given values at every seed."""
    study = STUDIES[key]
    base = runs([0.85] * 3, [2.5] * 3, [0.40] * 3)[0]["metrics"]
    mine = {**base, "branching_accuracy": branching, "tip_error_px_max_n4": n4, "tip_error_px_n8": n8, "iou_min": iou}
    found = [{"arm": arm, "seed": seed, "metrics": metrics}
             for arm, metrics in zip(study.arms, (base, mine)) for seed in SEEDS]
    return decide(study, found)["adopt"]


@pytest.mark.parametrize("n8, n4, branching, iou, adopt", [
    (2.4, 2.55, 0.84, 0.39, True),    # N = 8 lower; N <= 4 0.05 px higher; branching and IoU 0.01 lower
    (2.5, 2.0, 0.9, 0.5, False),      # N = 8 only equal
    (2.4, 2.56, 0.85, 0.40, False),   # N <= 4 0.06 px higher
    (2.4, 2.5, 0.829, 0.40, False),   # branching 0.021 lower
    (2.4, 2.5, 0.85, 0.379, False),   # IoU 0.021 lower
])
def test_analogue_k_rule(n8, n4, branching, iou, adopt):
    """The recall of 9 movies wins on a lower median tip error at N = 8 (the base arm's: 2.5 px) that costs
    at most 0.05 px up to N = 4 and 0.02 of branching accuracy or IoU."""
    assert verdict("analogue-k", n4, n8, branching, iou) is adopt


@pytest.mark.parametrize("n4, n8, branching, iou, adopt", [
    (2.4, 2.5, 0.84, 0.39, True),     # N <= 4 lower; N = 8 equal; branching and IoU 0.01 lower
    (2.5, 2.0, 0.9, 0.5, False),      # N <= 4 only equal
    (2.4, 2.51, 0.85, 0.40, False),   # N = 8 higher
    (2.4, 2.5, 0.829, 0.40, False),   # branching 0.021 lower
    (2.4, 2.5, 0.85, 0.379, False),   # IoU 0.021 lower
])
def test_decoding_rule(n4, n8, branching, iou, adopt):
    """Column decoding wins on a lower median tip error up to N = 4 (the base arm's: 2.5 px) with one at N = 8 no
    higher (2.5 px), at a cost of at most 0.02 of branching accuracy or IoU."""
    assert verdict("decoding", n4, n8, branching, iou) is adopt


def test_the_training_movies_follow_the_bundled_set(tmp_path):
    """The studies' copy of the training movies is named by the bundled set's checksum, so a new version of
    the set gets a new copy (an old copy once outlived a regenerated set), and holds exactly its training
    movies."""
    import numpy as np

    from sciml import data as bundled
    from sciml.problems.lattice import LatticeFracture

    path = training_movies(tmp_path)
    assert path.name == f"train-{bundled.recorded_checksum('lattice_fracture')[:12]}.npz"
    problem = LatticeFracture()
    with np.load(path) as copy:
        assert np.array_equal(copy["masks"], problem.movies["masks"][problem.split()[0]])
    assert training_movies(tmp_path) == path and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_study_of_splits_is_complete_over_its_split_seeds():
    study = STUDIES["decoding-splits"]
    assert study.seeds == (2, 3, 4, 5)
    base = runs([0.85] * 3, [2.5] * 3, [0.40] * 3)[0]["metrics"]
    found = [{"arm": arm, "seed": seed, "metrics": base} for arm in study.arms for seed in (2, 3, 4)]
    assert decide(study, found)["complete"] is False
    found += [{"arm": arm, "seed": 5, "metrics": base} for arm in study.arms]
    assert decide(study, found)["complete"] is True


def test_only_arms_that_differ_in_reading_share_a_trained_network(tmp_path, monkeypatch):
    import sciml.validation.lattice_study as ls

    monkeypatch.setattr(ls, "ROOT", tmp_path)
    for key, arm in (("decoding-splits", "pixel-2"), ("analogue-k", "3-0")):
        (tmp_path / key / arm).mkdir(parents=True)
        (tmp_path / key / arm / "result.pt").write_bytes(b"")
    assert ls.trained_twin(STUDIES["decoding-splits"], "column", 2) == tmp_path / "decoding-splits" / "pixel-2"
    assert ls.trained_twin(STUDIES["decoding-splits"], "column", 3) is None   # none trained at that seed
    assert ls.trained_twin(STUDIES["decoding-splits"], "pixel", 2) is None    # not itself
    assert ls.trained_twin(STUDIES["analogue-k"], "9", 0) is None             # recalling 9 trains another network
