"""A 2-D-to-3-D sequence network for crack movies: every frame from any one frame (DyFraNet-style
forecasting and backcasting; Hsu & Buehler, APL Machine Learning 1, 026105, 2023, whose network has
125 M parameters; ours is sized for a CPU).

The network (:class:`SequenceNet`), for a given frame k (R x C mask) of a movie of F frames, its
drive and lattice orientation:

1. encoder: a 3 x 3 convolution of the frame with three constant condition channels (drive,
   orientation, k, each scaled to order one; with ``tip_offsets``, the default, two more, each pixel's
   offset from the given crack's tip: ``validation/LATTICE_TIP_OFFSETS.md`` compares the network with and
   without them on the training movies) at full resolution, then three 3 x 3 convolutions of
   stride 2 (R/2, R/4, R/8), the last flattened to a latent vector joined by the conditions and a
   one-hot k (with ``tip_offsets``, the tip's column and row too; with ``analogue``, the share of the
   recalled movies that branched);
2. core: a bidirectional GRU over the F frames, frame f's input being the latent vector, a one-hot f
   and (f - k) / (F - 1) (with ``analogue``, the recalled advance of the tip to frame f over C);
3. decoder: each frame's GRU state to a coarse (R/8 x C/8) feature map, three 3-D transposed
   convolutions (kernels 3 x 2 x 2 in (frame, row, column), stride 1 x 2 x 2) up to full resolution,
   the encoder's features at R/4 and R/2 (projected to :data:`SKIP` channels, the same for every
   frame) joined before the second and third; then, the frames folded into channels, two 3 x 3
   convolutions of those (:data:`FINE` per frame), the encoder's full-resolution features, the given
   frame and the pixel coordinates (with ``tip_offsets``, the offsets from the tip too) to one increment
   logit u_f per pixel and frame (with ``analogue``, the recalled advances of every frame added, through
   a linear map, to the first of the two convolutions: what F constant maps of them would add away from the
   border, at no cost per pixel).

With ``analogue`` = K > 0 (3 by default; ``validation/LATTICE_ANALOGUE.md`` compares 3 and 0 on the training
movies) the network recalls training movies (:meth:`SequenceNet.recall`): it keeps the
training movies' tips (rightmost cracked column per frame), conditions and ``branched`` flags, and for a
given frame k of tip t finds the K of them nearest by |z - z_j| + w |t - t_j(k)| (z the scaled conditions,
w ``analogue_weight`` per pixel); the median over them of t_j(f) - t_j(k) is the recalled advance of the tip
to frame f, an analogue forecast (``validation/MOVIE_SPREAD.md`` measures it alone). In training a movie
is never recalled for itself, as a held-out movie cannot be.

Irreversibility, exactly: the logits accumulate, z_0 = u_0, z_f = z_{f-1} + softplus(u_f), so
p_f = sigmoid(z_f) never decreases in f; and the given frame g is imposed: P_f = p_f g before k
(a pixel not cracked at k was not cracked earlier), P_k = g, P_f = p_f + g - p_f g after k (a pixel
cracked at k stays cracked). The masks P_f >= 1/2 are therefore irreversible and pass through the
given frame, and so are the predicted masks of either ``decoding`` (:func:`crack_masks`: those, or with
``"column"`` those and the most probable pixel of every column the crack reaches). Training
minimises the binary cross-entropy of P_f against the simulated masks (a pixel whose
simulated state differs from the given frame's, the growth to forecast or the crack to take back,
weighted ``change_weight`` times the others, 5 by default: the unchanged pixels are most of a movie, and
with equal weights the network under-draws the growth; ``validation/LATTICE_WEIGHTING.md`` compares 1 and 5
on the training movies) plus
one minus the soft IoU (sum P T / sum (P + T - P T) over a batch), over the frames f != k, of
``batch`` random (training movie, given frame) pairs per Adam step.

A problem this solver takes (e.g. ``lattice-fracture``, :mod:`sciml.problems.lattice`) provides
``movies`` (``masks`` (N, F, R, C) bool, ``drive`` (N,), ``orientation`` (N,), ``branched`` (N,) bool), ``split()`` (training
and held-out movie indices), ``shape`` (F, R, C) and ``pixel`` ((width, height) of a pixel); its points
are rows (movie, given, frame, x, y), x and y in the units of ``pixel``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from sciml.device import resolve_device
from sciml.solver import Result, Solver
from sciml.training import TrainConfig, Trainer, seed_everything

REQUIRED = ("movies", "split", "shape", "pixel")
"""What a problem provides for this solver (see the module docstring)."""


FINE = 4
"""Channels per frame of the 3-D decoder's full-resolution output."""
SKIP = 8
"""Channels of the encoder's features joined to the decoder at 1/4 and 1/2 resolution."""


def _down(n: int) -> int:
    """Size after a 3 x 3 convolution of stride 2 and padding 1."""
    return (n + 1) // 2


class SequenceNet(nn.Module):
    """Frame k (B, R, C) in [0, 1] with conditions -> cracked probabilities P (B, F, R, C), the
    irreversible parametrisation of the module docstring. ``width``: channels of the encoder's first
    layers (doubled after the second stride); ``latent``: size of the encoded frame; ``hidden``: GRU
    state per direction; ``decoder``: channels of the 3-D decoder; ``tip_offsets``: tell the network where
    the given frame's crack ends (:func:`given_tip`): every pixel's offset from the tip as two more channels
    of the encoder's first convolution and of the head, and the tip in the latent vector's input. Without
    them a pixel meets the tip only inside its convolutions' reach, and how far ahead of the tip it lies is
    what decides whether the crack reaches it in N frames. ``analogue``: how many of the ``memory`` training
    movies (:meth:`remember`) to recall (:meth:`recall`; 0: none), ``analogue_weight`` the weight w of their
    tip's distance [per pixel] beside their conditions'."""

    def __init__(self, frames: int, rows: int, columns: int, width: int = 16, latent: int = 128, hidden: int = 64,
                 decoder: int = 16, tip_offsets: bool = False, analogue: int = 0, analogue_weight: float = 1.0,
                 memory: int = 0):
        super().__init__()
        if analogue > memory:
            raise ValueError(f"analogue must be at most the {memory} movies remembered, got {analogue!r}")
        self.frames, self.rows, self.columns = frames, rows, columns
        self.tip_offsets = tip_offsets
        self.analogue, self.analogue_weight = analogue, analogue_weight
        w = width
        extra = 2 if tip_offsets else 0  # the offset maps at the stem and the head, the tip in the latent's input
        recalled = 1 if analogue else 0  # the branched share in the latent's input, the advance in the GRU's
        self.stem = nn.Conv2d(4 + extra, w, 3, padding=1)
        self.down = nn.ModuleList([nn.Conv2d(w, w, 3, stride=2, padding=1), nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
                                   nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)])
        self.sizes = [(rows, columns)]
        for _ in range(3):
            self.sizes.append((_down(self.sizes[-1][0]), _down(self.sizes[-1][1])))
        self.coarse = self.sizes[-1]
        self.encode = nn.Linear(2 * w * self.coarse[0] * self.coarse[1] + 2 + extra + recalled + frames, latent)
        self.core = nn.GRU(latent + frames + 1 + recalled, hidden, batch_first=True, bidirectional=True)
        self.expand = nn.Linear(2 * hidden, decoder * self.coarse[0] * self.coarse[1])
        self.decoder = decoder
        up = dict(kernel_size=(3, 2, 2), stride=(1, 2, 2), padding=(1, 0, 0))
        self.project = nn.ModuleList([nn.Conv2d(2 * w, SKIP, 1), nn.Conv2d(w, SKIP, 1)])
        self.up = nn.ModuleList([nn.ConvTranspose3d(decoder, decoder, **up),
                                 nn.ConvTranspose3d(decoder + SKIP, decoder, **up),
                                 nn.ConvTranspose3d(decoder + SKIP, FINE, **up)])
        self.head = nn.Sequential(nn.Conv2d(FINE * frames + w + 3 + extra, 2 * w, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(2 * w, frames, 3, padding=1))
        self.register_buffer("condition_mean", torch.zeros(2))
        self.register_buffer("condition_scale", torch.ones(2))
        if analogue:
            self.recalled = nn.Linear(frames, 2 * w)
            self.register_buffer("memory_tips", torch.zeros(memory, frames))
            self.register_buffer("memory_conditions", torch.zeros(memory, 2))
            self.register_buffer("memory_branched", torch.zeros(memory))

    @torch.no_grad()
    def fit(self, drive: Tensor, orientation: Tensor) -> None:
        """Scale the conditions by the training movies' mean and standard deviation (saved with the weights)."""
        both = torch.stack([drive, orientation], 1)
        self.condition_mean.copy_(both.mean(0))
        self.condition_scale.copy_(both.std(0).clamp_min(1e-6))

    @torch.no_grad()
    def remember(self, masks: Tensor, drive: Tensor, orientation: Tensor, branched: Tensor) -> None:
        """Keep the training movies to recall: their masks (M, F, R, C) (only their tips are kept), ``drive``,
        ``orientation`` [degrees] and ``branched`` (M,), M the ``memory`` the network was built with."""
        if masks.shape[0] != self.memory_tips.shape[0]:
            raise ValueError(f"the network remembers {self.memory_tips.shape[0]} movies, got {masks.shape[0]}")
        self.memory_tips.copy_(tip_column(masks.flatten(0, 1)).view(masks.shape[:2]))
        self.memory_conditions.copy_(torch.stack([drive, orientation], 1))
        self.memory_branched.copy_(branched)

    def recall(self, cond: Tensor, column: Tensor, given: Tensor, exclude: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The analogue forecast of the module docstring for scaled conditions ``cond`` (B, 2), the given frames'
        tip columns ``column`` (B,) and indices ``given`` (B,) long: the recalled advance of the tip from the given
        frame to every frame (B, F) [pixels], the median over the ``analogue`` nearest remembered movies (the
        lower index first on a tie; the movies ``exclude`` (B,) long left out), and the share of those that
        branched (B,)."""
        known = (self.memory_conditions - self.condition_mean) / self.condition_scale
        advance, near = nearest_advance(cond, column, given, known, self.memory_tips, self.analogue,
                                        self.analogue_weight, exclude)
        return advance, self.memory_branched[near].mean(1)

    def forward(self, frame: Tensor, given: Tensor, drive: Tensor, orientation: Tensor,
                exclude: Tensor | None = None) -> Tensor:
        """P (B, F, R, C) from the given frames ``frame`` (B, R, C), their indices ``given`` (B,) long,
        ``drive`` (B,) and ``orientation`` (B,) [degrees]; with ``analogue``, the remembered movies ``exclude``
        (B,) long are not recalled (training: each movie's own)."""
        b, f, r, c = len(frame), self.frames, self.rows, self.columns
        cond = (torch.stack([drive, orientation], 1) - self.condition_mean) / self.condition_scale
        if self.analogue:
            advance, share = self.recall(cond, tip_column(frame), given, exclude)
            advance = advance / c                                              # (B, F), over the columns
        k = given.to(frame.dtype)
        k_scaled = 2 * k / (f - 1) - 1
        maps = torch.cat([cond, k_scaled[:, None]], 1)[:, :, None, None].expand(b, 3, r, c)
        if self.tip_offsets:
            tip, offsets = given_tip(frame)
            maps = torch.cat([maps, offsets], 1)
            cond = torch.cat([cond, tip], 1)
        if self.analogue:
            cond = torch.cat([cond, share[:, None]], 1)
        levels = [F.relu(self.stem(torch.cat([frame[:, None], maps], 1)))]      # (B, w, R, C)
        for conv in self.down:                                                 # R/2, R/4, R/8
            levels.append(F.relu(conv(levels[-1])))
        one_hot = F.one_hot(given, f).to(frame.dtype)
        z = F.relu(self.encode(torch.cat([levels[-1].flatten(1), cond, one_hot], 1)))  # (B, latent)
        steps = torch.arange(f, dtype=frame.dtype, device=frame.device)
        offset = (steps[None, :] - k[:, None]) / (f - 1)                       # (B, F)
        sequence = [z[:, None].expand(b, f, z.shape[1]), torch.eye(f, dtype=frame.dtype, device=frame.device).expand(b, f, f),
                    offset[..., None]] + ([advance[..., None]] if self.analogue else [])
        sequence = torch.cat(sequence, 2)
        states, _ = self.core(sequence)                                        # (B, F, 2 hidden)
        x = self.expand(states).view(b, f, self.decoder, *self.coarse).transpose(1, 2)  # (B, d, F, R/8, C/8)
        for level, conv in zip((2, 1, 0), self.up):
            size = self.sizes[level]
            x = F.relu(conv(x))[..., :size[0], :size[1]]
            if level:  # the encoder's features at this scale, the same for every frame
                skip = self.project[2 - level](levels[level])
                x = torch.cat([x, skip[:, :, None].expand(b, SKIP, f, *size)], 1)
        rows = torch.linspace(-1, 1, r, dtype=frame.dtype, device=frame.device)[:, None].expand(r, c)
        cols = torch.linspace(-1, 1, c, dtype=frame.dtype, device=frame.device)[None, :].expand(r, c)
        where = torch.stack([rows, cols])[None].expand(b, 2, r, c)
        head = [x.flatten(1, 2), levels[0], frame[:, None], where] + ([offsets] if self.tip_offsets else [])
        head = torch.cat(head, 1)
        # channels last: the layout in which CPU convolution backends run this widest convolution fastest
        hidden = self.head[0](head.contiguous(memory_format=torch.channels_last))
        if self.analogue:
            hidden = hidden + self.recalled(advance)[:, :, None, None]
        u = self.head[2](self.head[1](hidden))                                # (B, F, R, C)
        z_f = torch.cat([u[:, :1], F.softplus(u[:, 1:])], 1).cumsum(1)
        return impose_given(torch.sigmoid(z_f), frame, given)


def nearest_advance(z: Tensor, tip: Tensor, given: Tensor, known_z: Tensor, known_tips: Tensor, neighbours: int,
                    weight: float, exclude: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """The analogue forecast of the module docstring, for queries of scaled conditions ``z`` (B, 2), given-frame tips
    ``tip`` (B,) [pixels] and given-frame indices ``given`` (B,) long, among known movies of scaled conditions
    ``known_z`` (M, 2) and tips ``known_tips`` (M, F) [pixels]: the advance of the tip from the given frame to every
    frame (B, F) [pixels], the median over the ``neighbours`` known movies j nearest by |z - z_j| + ``weight``
    |tip - t_j(given)| (the lower index first on a tie; the movies ``exclude`` (B,) long left out), and their
    indices (B, K)."""
    at_given = known_tips[:, given].T                                                    # (B, M)
    distance = torch.cdist(z, known_z) + weight * (tip[:, None].to(at_given) - at_given).abs()
    if exclude is not None:
        distance = distance.scatter(1, exclude[:, None], float("inf"))
    near = torch.argsort(distance, dim=1, stable=True)[:, :neighbours]                   # (B, K)
    moves = known_tips[near] - at_given.gather(1, near)[..., None]                        # (B, K, F)
    return moves.median(1).values, near


def tip_column(frame: Tensor) -> Tensor:
    """The tip column of each frame (B, R, C) in {0, 1}: the largest column with a cracked pixel, -1 where none
    is cracked; (B,) long."""
    index = torch.arange(frame.shape[2], device=frame.device)
    return torch.where((frame > 0.5).any(1), index, -1).amax(1)


def given_tip(frame: Tensor) -> tuple[Tensor, Tensor]:
    """Where the crack of each frame (B, R, C) in {0, 1} ends: its tip (B, 2), the tip's column (the largest
    column with a cracked pixel) and row (the mean row of that column's cracked pixels), each scaled to
    [-1, 1], and every pixel's offset from it (B, 2, R, C), columns over C and rows over R; a frame without
    a cracked pixel has its tip at column -1 and the middle row."""
    b, r, c = frame.shape
    cracked = frame > 0.5
    index = torch.arange(c, device=frame.device)
    column = tip_column(frame)                                                      # (B,)
    at_tip = cracked[torch.arange(b, device=frame.device), :, column.clamp_min(0)]  # (B, R)
    rows = torch.arange(r, device=frame.device, dtype=frame.dtype)
    row = torch.where(column >= 0, (at_tip * rows).sum(1) / at_tip.sum(1).clamp_min(1), (r - 1) / 2.0)
    column = column.to(frame.dtype)
    tip = torch.stack([2 * column / (c - 1) - 1, 2 * row / (r - 1) - 1], 1)
    offsets = torch.stack([((index.to(frame.dtype) - column[:, None]) / c)[:, None].expand(b, r, c),
                           ((rows - row[:, None]) / r)[:, :, None].expand(b, r, c)], 1)
    return tip, offsets


def impose_given(p: Tensor, frame: Tensor, given: Tensor) -> Tensor:
    """Movies P (B, F, R, C) that pass through their given frames: from cracked probabilities ``p``
    (B, F, R, C) in [0, 1] that never decrease in f, the given frames ``frame`` (B, R, C) of 0 and 1 and
    their indices ``given`` (B,) long, P_f = p_f g before the given frame, g at it and p_f + g - p_f g
    after it (for p of 0 and 1: p AND g, g, p OR g)."""
    steps = torch.arange(p.shape[1], device=p.device)[None, :]
    g = frame[:, None]
    before = (steps < given[:, None])[:, :, None, None]
    after = (steps > given[:, None])[:, :, None, None]
    return torch.where(before, p * g, torch.where(after, p + g - p * g, g.expand_as(p)))


DECODINGS = ("pixel", "column")
"""How :func:`crack_masks` turns cracked probabilities into masks."""


def check_decoding(decoding: str) -> str:
    """``decoding`` if it is one of :data:`DECODINGS`; a ``ValueError`` naming it otherwise."""
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {', '.join(DECODINGS)}, got {decoding!r}")
    return decoding


def crack_masks(p: Tensor, decoding: str) -> Tensor:
    """Masks (..., F, R, C) bool of movies from their cracked probabilities ``p`` (..., F, R, C) in [0, 1], as
    :class:`SequenceNet` returns them (never decreasing in f, passing through the given frame).

    ``"pixel"``: each pixel where p >= 1/2. ``"column"``: those, and in every pixel column that the crack
    reaches with probability >= 1/2 its most probable pixel; a pixel marked in one frame stays marked in the
    later ones. That a column is reached is taken as the noisy-or 1 - prod_rows (1 - p) >= 1/2: where a branch's
    rows are uncertain, each of its pixels can stay below 1/2 although the crack surely passes the column, and
    the per-pixel masks then end short of the crack's tip. On 0/1 probabilities (the given frame) the two agree,
    so the masks still pass through the given frame, and before it they stay inside it."""
    masks = p >= 0.5
    if check_decoding(decoding) == "pixel":
        return masks
    reached = (1 - torch.prod(1 - p, dim=-2, keepdim=True)) >= 0.5          # (..., F, 1, C)
    best = torch.zeros_like(masks).scatter_(-2, p.argmax(dim=-2, keepdim=True), reached)
    return (masks | best).cumsum(-3) > 0


def movie_loss(prob: Tensor, target: Tensor, given: Tensor, iou_weight: float = 1.0,
               change_weight: float = 1.0) -> dict[str, Tensor]:
    """The training loss's terms for predicted movies ``prob`` (B, F, R, C) in (0, 1) against the
    simulated ``target`` (B, F, R, C) in {0, 1}, each predicted from its frame ``given`` (B,) long,
    over the frames other than the given one: ``bce``, the binary cross-entropy, each pixel whose
    target differs from the given frame's weighted ``change_weight`` and the others 1, averaged over
    the pixels; ``iou``, ``iou_weight`` (1 - soft IoU), the soft IoU pooled over the batch (left out
    when ``iou_weight`` is 0)."""
    rows = torch.arange(len(given), device=given.device)
    # the frames other than the given one as a 0/1 weight, not a boolean selection: the same sums, without
    # gathering and scattering the pixels in the forward and backward passes
    free = (torch.arange(prob.shape[1], device=given.device)[None, :] != given[:, None]).to(prob.dtype)
    free = free[:, :, None, None]
    weight = free
    if change_weight != 1:
        changed = target != target[rows, given][:, None]
        weight = free * torch.where(changed, float(change_weight), 1.0).to(prob.dtype)
    bce = F.binary_cross_entropy(prob.clamp(1e-6, 1 - 1e-6), target, reduction="none")
    terms = {"bce": (bce * weight).sum() / (free.sum() * prob.shape[2] * prob.shape[3])}
    if iou_weight:
        free_prob = prob * free
        overlap = (free_prob * target).sum()
        terms["iou"] = iou_weight * (1 - overlap / (free_prob.sum() + (target * free).sum() - overlap).clamp_min(1e-6))
    return terms


class MovieField(nn.Module):
    """The trained network over a problem's movies: called on points (N, 5) of (movie, given, frame,
    x [a], y [a]) it predicts 1 where that pixel of that frame is cracked (N, 1), the network run once
    per distinct (movie, given) pair and its probabilities turned into masks by ``decoding`` (:func:`crack_masks`);
    :meth:`movie` predicts the frames of any given frame. With the recall (``analogue``) a training movie is among
    its own nearest remembered movies here, unlike in training."""

    def __init__(self, net: SequenceNet, movies: dict[str, np.ndarray], pixel: tuple[float, float], decoding: str):
        super().__init__()
        self.net = net
        self.movies = movies
        self.pixel = pixel
        self.decoding = check_decoding(decoding)

    def movie(self, frame, given: int, drive: float, orientation: float) -> np.ndarray:
        """All F frames (F, R, C) bool predicted from ``frame`` (R, C) bool, the index ``given`` of that
        frame (0 <= given < F), the ``drive`` [Griffith strain] and ``orientation`` [degrees]."""
        frame = np.asarray(frame)
        n = self.net
        if frame.shape != (n.rows, n.columns):
            raise ValueError(f"frame must be one mask of shape ({n.rows}, {n.columns}), got shape {frame.shape}")
        if isinstance(given, bool) or int(given) != given or not 0 <= given < n.frames:
            raise ValueError(f"given must be a frame index 0 ... {n.frames - 1}, got {given!r}")
        for name, value in (("drive", drive), ("orientation", orientation)):
            if not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        dtype, device = n.condition_mean.dtype, n.condition_mean.device
        with torch.no_grad():
            p = n(torch.as_tensor(frame[None], dtype=dtype, device=device),
                  torch.tensor([int(given)], device=device), torch.tensor([float(drive)], dtype=dtype, device=device),
                  torch.tensor([float(orientation)], dtype=dtype, device=device))
        return crack_masks(p[0], self.decoding).cpu().numpy()

    def forward(self, points: Tensor) -> Tensor:
        n = self.net
        masks = self.movies["masks"]
        if points.ndim != 2 or points.shape[1] != 5:
            raise ValueError(f"points must be (N, 5) rows of (movie, given, frame, x, y), got shape {tuple(points.shape)}")
        index = points[:, :3].round().long()
        for col, (name, high) in enumerate((("movie", len(masks)), ("given", n.frames), ("frame", n.frames))):
            bad = (index[:, col] < 0) | (index[:, col] >= high) | (points[:, col] != index[:, col])
            if bad.any():
                raise ValueError(f"{name} must be an integer 0 ... {high - 1}, got {points[bad, col][0].item()!r}")
        j = torch.floor(points[:, 3] / self.pixel[0]).long()
        i = torch.floor(points[:, 4] / self.pixel[1]).long()
        for name, value, cells, size in (("x", points[:, 3], j, n.columns), ("y", points[:, 4], i, n.rows)):
            bad = (cells < 0) | (cells >= size)
            if bad.any():
                raise ValueError(f"{name} must lie on the strip, 0 <= {name} < {size * self.pixel['xy'.index(name)]:g} a, "
                                 f"got {value[bad][0].item()!r}")
        pairs, which = torch.unique(index[:, :2], dim=0, return_inverse=True)
        movie = pairs[:, 0].cpu().numpy()
        dtype, device = n.condition_mean.dtype, points.device
        frames = torch.as_tensor(masks[movie, pairs[:, 1].cpu().numpy()], dtype=dtype, device=device)
        p = n(frames, pairs[:, 1].to(device), torch.as_tensor(self.movies["drive"][movie], dtype=dtype, device=device),
              torch.as_tensor(self.movies["orientation"][movie], dtype=dtype, device=device))
        return crack_masks(p, self.decoding)[which, index[:, 2], i, j].to(points.dtype)[:, None]


class Sequence(Solver):
    """The 2-D-to-3-D sequence network of the module docstring, trained on a problem's training movies.

    Settings: ``width``, ``latent``, ``hidden``, ``decoder`` (:class:`SequenceNet`); ``batch``
    (movie, given frame) pairs per Adam step, ``iterations``, ``lr``, ``schedule`` ("cosine",
    "exponential" or "constant"), ``iou_weight`` (weight of 1 - soft IoU beside the cross-entropy),
    ``change_weight`` (the cross-entropy's weight on pixels that differ from the given frame, the others' being 1;
    5 by default); ``tip_offsets`` (tell the network where the given frame's crack ends, :class:`SequenceNet`;
    on by default); ``analogue`` (how many training movies the network recalls, nearest in conditions and given
    tip, :meth:`SequenceNet.recall`; 3 by default, 0: none) and ``analogue_weight`` (w, per pixel of tip);
    ``decoding`` (how the predicted probabilities become masks, :func:`crack_masks`: ``"column"`` by default,
    ``validation/LATTICE_DECODING.md`` compares it with ``"pixel"`` on the training movies);
    ``seed``, ``device``, ``checkpoint_every``, ``checkpoint_minutes``, ``progress``.
    """

    name = "sequence"
    defaults: dict[str, Any] = {
        "width": 16, "latent": 128, "hidden": 64, "decoder": 16, "batch": 32, "iterations": 3000, "lr": 3e-3,
        "schedule": "cosine", "iou_weight": 1.0, "change_weight": 5.0, "tip_offsets": True, "analogue": 3,
        "analogue_weight": 1.0, "decoding": "column", "seed": 0,
        "device": None, "checkpoint_every": 500, "checkpoint_minutes": 5.0, "progress": True,
    }

    def __init__(self, problem, **settings):
        super().__init__(problem, **settings)
        s = self.settings
        for key in ("width", "latent", "hidden", "decoder", "batch"):
            if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < 1:
                raise ValueError(f"{key} must be an integer >= 1, got {s[key]!r}")
        if not s["iou_weight"] >= 0:
            raise ValueError(f"iou_weight must be >= 0, got {s['iou_weight']!r}")
        if not isinstance(s["tip_offsets"], bool):
            raise ValueError(f"tip_offsets must be True or False, got {s['tip_offsets']!r}")
        if not s["change_weight"] > 0 or not np.isfinite(s["change_weight"]):
            raise ValueError(f"change_weight must be a finite number > 0, got {s['change_weight']!r}")
        recallable = len(problem.split()[0]) - 1  # a training movie is never recalled for itself
        if isinstance(s["analogue"], bool) or int(s["analogue"]) != s["analogue"] or not 0 <= s["analogue"] <= recallable:
            raise ValueError(f"analogue must be an integer 0 ... {recallable} (the training movies but one), "
                             f"got {s['analogue']!r}")
        check_decoding(s["decoding"])
        if not 0 <= s["analogue_weight"] < np.inf:
            raise ValueError(f"analogue_weight must be a finite number >= 0, got {s['analogue_weight']!r}")
        self.device = resolve_device(s["device"])
        self.config = TrainConfig(iterations=s["iterations"], lr=s["lr"], schedule=s["schedule"],
                                  checkpoint_every=s["checkpoint_every"], checkpoint_minutes=s["checkpoint_minutes"],
                                  progress=s["progress"])

    @classmethod
    def unsuitable(cls, problem_cls) -> str | None:
        missing = [name for name in REQUIRED if not hasattr(problem_cls, name)]
        if missing:
            return (f"it has no crack movies to learn from (it lacks {', '.join(missing)}; see "
                    "sciml.solvers.sequence)")
        return None

    def build_model(self) -> MovieField:
        s = self.settings
        f, r, c = self.problem.shape
        net = SequenceNet(f, r, c, s["width"], s["latent"], s["hidden"], s["decoder"], s["tip_offsets"],
                          int(s["analogue"]), float(s["analogue_weight"]), len(self.problem.split()[0]))
        return MovieField(net, self.problem.movies, self.problem.pixel, s["decoding"]).to(self.device)

    def train(self, out: str | Path | None = None, resume: bool = False, callbacks=None) -> Result:
        """Fit the network to every (training movie, given frame) pair, ``batch`` random pairs per step."""
        s, p = self.settings, self.problem
        seed_everything(s["seed"])
        began = time.perf_counter()
        model = self.build_model()
        train = p.split()[0]
        movies = p.movies
        dev = self.device
        masks = torch.as_tensor(movies["masks"][train], dtype=torch.float32, device=dev)          # (M, F, R, C)
        drive = torch.as_tensor(movies["drive"][train], dtype=torch.float32, device=dev)
        orientation = torch.as_tensor(movies["orientation"][train], dtype=torch.float32, device=dev)
        model.net.fit(drive, orientation)
        if s["analogue"]:
            model.net.remember(masks, drive, orientation, torch.as_tensor(movies["branched"][train], dtype=torch.float32,
                                                                          device=dev))
        frames = p.shape[0]
        pairs = len(train) * frames
        data_s = time.perf_counter() - began

        def loss() -> dict[str, Tensor]:
            pick = torch.randperm(pairs, device=dev)[:s["batch"]]
            m, k = pick // frames, pick % frames
            prob = model.net(masks[m, k], k, drive[m], orientation[m], exclude=m)
            return movie_loss(prob, masks[m], k, s["iou_weight"], s["change_weight"])

        checkpoint = Path(out) / "checkpoint.pt" if out is not None else None
        trainer = Trainer(model, loss, self.config, checkpoint=checkpoint, callbacks=callbacks,
                          description=f"{p.name}/{self.name}")
        return self.run_trainer(trainer, model, checkpoint, resume, data_s=data_s)

    def extra_metrics(self, result: Result) -> dict[str, Any]:
        """The held-out tables ``forecast`` and ``backcast`` by N (frames ahead or behind) with ``iou``,
        ``iou_baseline``, ``tip_error_px`` and ``speed_rel_error`` (:func:`sciml.problems.lattice.sequence_metrics`),
        the network's size and the training and held-out movie counts."""
        train, held = self.problem.split()
        found = self.problem.evaluate(result.predict)
        return {"forecast": found["forecast"], "backcast": found["backcast"],
                "parameters": sum(q.numel() for q in result.model.parameters()), "training_movies": len(train),
                "held_out_movies": len(held)}
