"""``sciml bench sequence``: the training step of the lattice-fracture sequence network
(:mod:`sciml.solvers.sequence`, ``sciml run lattice-fracture``'s solver) as this tree computes it,
beside the same step as the solver module of an earlier commit computed it (``--against``, read from
this git checkout), on the same weights and the same batches.

One step is what the solver's training does each Adam iteration: ``batch`` random (training movie,
given frame) pairs of the bundled movies, the network, ``movie_loss`` with the solver's default
weights, ``backward`` and an Adam step. Both contenders start from the same initial weights (the
solver's seed; the earlier network must have the same parameters, so both are built without the tip
offsets and the recalled movies that the solver's defaults ``tip_offsets`` and ``analogue`` add and earlier
commits lack) and draw the same batches; before
any timing their losses on one batch are compared, and a relative difference above 1e-5 aborts the
run. Then ``--warmup`` untimed steps each, and ``--repeats`` blocks of ``--steps`` steps, the
contenders' blocks interleaved with the order rotating every repeat so background load hits both
alike; ms/step is the median over blocks, the speed-up the earlier median over this tree's. The
1-minute load average is recorded per block. Writes ``sequence.json`` into ``--out`` and ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import types
from pathlib import Path

import torch

from sciml import registry
from sciml.solvers import sequence

from .native import machine

AGAINST = "be6c543"
"""The default earlier commit: the last one whose loss selected the frames other than the given one
by boolean indexing and whose decoder head ran in the default (channels-first) layout."""


def module_at(revision: str) -> types.ModuleType:
    """``solvers/sequence.py`` as it was at ``revision`` of this source checkout, as a module."""
    root = Path(__file__).resolve().parent.parent
    path = "solvers/sequence.py"
    try:
        text = subprocess.run(["git", "-C", str(root), "show", f"{revision}:{path}"], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise RuntimeError(f"--against {revision!r}: cannot read {path} at that revision from a git checkout at "
                           f"{root} ({getattr(error, 'stderr', '') or error}); run from a source checkout") from error
    module = types.ModuleType(f"sequence_at_{revision}")
    exec(compile(text, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="sciml bench sequence", description=__doc__.split(". ")[0] + ".")
    p.add_argument("--against", default=AGAINST, help=f"the earlier commit (default: {AGAINST})")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed block (default: 10)")
    p.add_argument("--repeats", type=int, default=7, help="timed blocks per contender (default: 7)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per contender first (default: 3)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1, as the validation cases run)")
    p.add_argument("--out", default="benchmarks/results", help="sequence.json goes here (default: benchmarks/results)")
    args = p.parse_args(argv)
    for name in ("steps", "repeats", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.warmup < 0:
        raise ValueError(f"--warmup must be >= 0, got {args.warmup}")
    torch.set_num_threads(args.threads)
    modules = {"this tree": sequence, args.against: module_at(args.against)}
    solver = sequence.Sequence(registry.problem("lattice-fracture")(), progress=False)
    s, problem = solver.settings, solver.problem
    train = problem.split()[0]
    masks = torch.as_tensor(problem.movies["masks"][train], dtype=torch.float32)
    drive = torch.as_tensor(problem.movies["drive"][train], dtype=torch.float32)
    orientation = torch.as_tensor(problem.movies["orientation"][train], dtype=torch.float32)
    frames, rows, columns = masks.shape[1:]
    torch.manual_seed(s["seed"])
    nets = {name: module.SequenceNet(frames, rows, columns, s["width"], s["latent"], s["hidden"], s["decoder"])
            for name, module in modules.items()}
    nets["this tree"].fit(drive, orientation)
    for net in nets.values():
        net.load_state_dict(nets["this tree"].state_dict())
    optimisers = {name: torch.optim.Adam(net.parameters(), lr=s["lr"]) for name, net in nets.items()}
    batches = torch.Generator().manual_seed(s["seed"])

    def loss(name: str, pick: torch.Tensor) -> torch.Tensor:
        m, k = pick // frames, pick % frames
        prob = nets[name](masks[m, k], k, drive[m], orientation[m])
        return sum(modules[name].movie_loss(prob, masks[m], k, s["iou_weight"], s["change_weight"]).values())

    def steps(name: str, picks: list[torch.Tensor]) -> None:
        for pick in picks:
            optimisers[name].zero_grad(set_to_none=True)
            loss(name, pick).backward()
            optimisers[name].step()

    def draw(n: int) -> list[torch.Tensor]:
        return [torch.randperm(len(masks) * frames, generator=batches)[:s["batch"]] for _ in range(n)]

    first = draw(1)[0]
    with torch.no_grad():
        check = {name: loss(name, first).item() for name in modules}
    gap = abs(check[args.against] - check["this tree"]) / abs(check["this tree"])
    if gap > 1e-5:
        raise RuntimeError(f"the contenders' losses differ by {gap:.2e} relative on the same batch: {check}")
    warm = draw(args.warmup)
    for name in modules:
        steps(name, warm)
    blocks: dict[str, list[float]] = {name: [] for name in modules}
    load = []
    order = list(modules)
    for repeat in range(args.repeats):
        picks = draw(args.steps)
        for name in order[repeat % len(order):] + order[:repeat % len(order)]:
            began = time.perf_counter()
            steps(name, picks)
            blocks[name].append((time.perf_counter() - began) / args.steps * 1e3)
            load.append(os.getloadavg()[0])
    median = {name: statistics.median(b) for name, b in blocks.items()}
    speedup = median[args.against] / median["this tree"]
    report = {"machine": machine(), "against": args.against, "threads": args.threads, "loadavg_1min": load,
              "batch": s["batch"], "steps": args.steps, "repeats": args.repeats, "warmup": args.warmup,
              "initial_loss": check, "ms_per_step_blocks": blocks, "ms_per_step_median": median,
              "speedup": speedup}
    for name in modules:
        print(f"{name:11s} {median[name]:8.1f} ms/step (blocks {min(blocks[name]):.1f}-{max(blocks[name]):.1f})")
    print(f"speed-up over {args.against}: {speedup:.2f}; load {min(load):.2f}-{max(load):.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sequence.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({"speedup": speedup, **median}))
    return 0
