"""Approximate distance functions: zero sets, normalisation, composition, blending, derivatives."""

import math

import pytest
import torch

from sciml import adf

pytestmark = pytest.mark.usefixtures("float64_default")  # these tests compare to 1e-10


def pts(*xy):
    return torch.tensor(xy, dtype=torch.float64)


def test_line_and_segment():
    a, b = (0.0, 0.0), (2.0, 0.0)
    x = pts([1.0, 0.0], [1.0, 0.3], [3.0, 0.0], [-1.0, 0.0], [1.0, -0.5])
    line = adf.line(x, a, b)
    assert line.tolist() == pytest.approx([0.0, 0.3, 0.0, 0.0, -0.5])
    seg = adf.segment(x, a, b)
    assert seg[0].item() == 0.0
    assert seg[2].item() > 0.1 and seg[3].item() > 0.1  # on the line, beyond the segment's ends
    # First-order normalisation at the segment's midpoint: distance grows like |f| off the segment.
    eps = 1e-4
    assert adf.segment(pts([1.0, eps]), a, b).item() == pytest.approx(eps, rel=1e-3)


def test_circle_is_normalised_and_positive_outside():
    x = pts([1.5, 0.0], [2.0, 0.0], [1.0, 0.5 + 1e-5])
    phi = adf.circle(x, (1.0, 0.0), 0.5)
    assert phi[0].item() == 0.0 and phi[1].item() > 0
    assert phi[2].item() == pytest.approx(1e-5, rel=1e-3)  # distance-like just outside the circle
    g = torch.autograd.functional.jacobian(lambda z: adf.circle(z, (1.0, 0.0), 0.5), pts([1.5, 0.0]))
    assert g[0, 0].tolist() == pytest.approx([1.0, 0.0])  # unit outward normal derivative on the circle


def test_union_vanishes_on_every_piece_and_keeps_normalisation():
    x = pts([0.0, 0.5], [0.5, 0.0], [0.0, 0.0], [0.5, 0.5])
    phi = adf.rectangle(x, (0.0, 0.0), (1.0, 1.0))
    assert phi[:3].tolist() == [0.0, 0.0, 0.0] and phi[3].item() > 0
    assert torch.isfinite(phi).all()
    # Near the middle of the left side the composed distance is the distance to that side.
    near = adf.rectangle(pts([1e-5, 0.5]), (0.0, 0.0), (1.0, 1.0))
    assert near.item() == pytest.approx(1e-5, rel=1e-3)
    # Only the chosen sides vanish.
    top_free = adf.rectangle(pts([0.5, 1.0]), (0.0, 0.0), (1.0, 1.0), "lrb")
    assert top_free.item() > 0.1


def test_blend_takes_each_piece_value_on_it():
    x = pts([0.3, 1.0], [0.0, 0.4], [1.0, 0.7], [0.6, 0.0], [0.5, 0.5], [0.0, 1.0])
    lid = 1 - x[:, 1]
    walls = adf.rectangle(x, (0.0, 0.0), (1.0, 1.0), "lrb")
    g = adf.blend([lid, walls], [torch.ones(6), torch.zeros(6)])
    assert g[:4].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert 0 < g[4].item() < 1
    assert g[5].item() == 0.5  # the corner where lid and wall meet: the average
    # Derivatives exist (autograd) at interior points.
    z = pts([0.4, 0.6]).requires_grad_(True)
    out = adf.blend([1 - z[:, 1], adf.rectangle(z, (0, 0), (1, 1), "lrb")], [torch.ones(1), torch.zeros(1)])
    (grad,) = torch.autograd.grad(out.sum(), z)
    assert torch.isfinite(grad).all() and grad[0, 1].item() > 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="radius"):
        adf.circle(pts([0.0, 0.0]), (0, 0), -1)
    with pytest.raises(ValueError, match="sides"):
        adf.rectangle(pts([0.5, 0.5]), (0, 0), (1, 1), "lx")
    with pytest.raises(ValueError, match="distinct"):
        adf.line(pts([0.5, 0.5]), (0, 0), (0, 0))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        adf.line(torch.zeros(3), (0, 0), (1, 0))
    assert math.isfinite(adf.union(pts([1.0])[:, 0], m=2).item())


def test_coons_patch_reproduces_boundary_data_and_bilinear_functions():
    g = torch.Generator().manual_seed(0)
    lo, hi = (-0.5, 0.0), (1.0, 2.0)

    def smooth(z):
        return torch.sin(2 * z[:, 0]) * torch.exp(z[:, 1]) + z[:, 0] ** 3

    s = torch.rand(10, generator=g, dtype=torch.float64)
    sides = torch.cat([torch.stack([-0.5 + 1.5 * s, torch.zeros_like(s)], 1),
                       torch.stack([-0.5 + 1.5 * s, torch.full_like(s, 2.0)], 1),
                       torch.stack([torch.full_like(s, -0.5), 2 * s], 1),
                       torch.stack([torch.full_like(s, 1.0), 2 * s], 1)])
    torch.testing.assert_close(adf.coons(sides, lo, hi, smooth), smooth(sides), atol=1e-14, rtol=0)
    inside = torch.rand(20, 2, generator=g, dtype=torch.float64) * torch.tensor([1.5, 2.0]) + torch.tensor([-0.5, 0.0])
    # A Coons patch is exact for functions bilinear plus anything additive in x or y alone.
    def additive(z):
        return z[:, 0] * z[:, 1] + torch.cos(z[:, 0]) + z[:, 1] ** 3
    torch.testing.assert_close(adf.coons(inside, lo, hi, additive), additive(inside), atol=1e-13, rtol=0)
    assert (adf.coons(inside, lo, hi, smooth) - smooth(inside)).abs().max() > 1e-3  # not exact in general
    box = adf.box(torch.cat([sides, inside]), lo, hi)
    assert box[:40].abs().max() < 1e-15 and (box[40:] > 0).all()
