"""Files for ParaView: read back with meshio, field names, shapes and times as written."""

from __future__ import annotations

import meshio
import numpy as np
import pytest

from sciml.io import read_pvd, write_fields
from sciml.problems import Burgers, Kovasznay, TaylorGreen


def test_a_time_dependent_field_is_a_series_of_spatial_files(tmp_path):
    problem = Burgers()
    ref = problem.reference()
    t, x = ref.grid["t"], ref.grid["x"]
    prediction = ref.values + 0.5  # a known error
    path = write_fields(tmp_path, problem, ref, prediction)
    assert path == tmp_path / "fields.pvd"
    series = read_pvd(path)
    assert [time for time, _ in series] == pytest.approx(list(t))
    for k in (0, len(t) // 2, len(t) - 1):
        time, mesh = series[k]
        assert time == pytest.approx(t[k])
        np.testing.assert_allclose(mesh.points[:, 0], x)             # space on x; time is not an axis
        assert not mesh.points[:, 1:].any()
        assert mesh.cells_dict["line"].shape == (len(x) - 1, 2)
        exact = ref.values.reshape(len(t), len(x))[k]
        np.testing.assert_allclose(mesh.point_data["u_reference"], exact)
        np.testing.assert_allclose(mesh.point_data["u"], exact + 0.5)
        np.testing.assert_allclose(mesh.point_data["u_error"], 0.5)


def test_velocity_is_one_vector_and_pressure_a_scalar(tmp_path):
    problem = Kovasznay()
    ref = problem.reference()
    rng = np.random.default_rng(0)
    prediction = rng.normal(size=(len(ref.points), 3))
    path = write_fields(tmp_path, problem, ref, prediction)
    mesh = meshio.read(path)
    assert path.name == "fields.vtu"
    assert set(mesh.point_data) == {"velocity", "velocity_reference", "velocity_error", "p"}
    np.testing.assert_allclose(mesh.point_data["velocity"], np.c_[prediction[:, :2], np.zeros(len(prediction))])
    np.testing.assert_allclose(mesh.point_data["velocity_reference"][:, :2], ref.values)
    np.testing.assert_allclose(mesh.point_data["p"], prediction[:, 2])
    assert mesh.cells_dict["quad"].shape[0] == (len(ref.grid["x"]) - 1) * (len(ref.grid["y"]) - 1)


def test_a_transient_2d_flow_is_a_series_of_quad_meshes_with_vectors(tmp_path):
    problem = TaylorGreen()
    ref = problem.reference()
    shape = ref.grid_shape
    prediction = np.c_[ref.values, np.zeros(len(ref.points))]
    series = read_pvd(write_fields(tmp_path, problem, ref, prediction))
    assert len(series) == shape[0]
    time, mesh = series[3]
    assert time == pytest.approx(ref.grid["t"][3])
    assert mesh.point_data["velocity"].shape == (shape[1] * shape[2], 3)
    np.testing.assert_allclose(mesh.point_data["velocity_error"], 0)
    np.testing.assert_allclose(mesh.point_data["velocity"][:, :2], ref.values.reshape(shape + (2,))[3].reshape(-1, 2))
    xx, yy = np.meshgrid(ref.grid["x"], ref.grid["y"], indexing="ij")
    np.testing.assert_allclose(mesh.points, np.c_[xx.ravel(), yy.ravel(), np.zeros(xx.size)])
    assert "quad" in mesh.cells_dict
