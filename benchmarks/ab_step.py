"""A/B: one training step (``model.loss_and_grads``) of this checkout against another checkout
of numpy_seq2seq (e.g. the commit a branch started from), side by side in one process.

Both packages are imported at once (the other under another module name), get the same weights
and the same batch, and are timed alternately A B A B … after a warm-up, so a burst of load on a
shared machine hits both; the table gives each side's median and the median of the paired ratios
new / old with its interquartile range. Every configuration uses the default options apart from
cell and score (one layer, no dropout, no input feeding), in float32 with one BLAS thread.

    git worktree add --detach ../base <commit>
    python benchmarks/ab_step.py --base ../base                # dates and default shapes
    python benchmarks/ab_step.py --base ../base --rounds 40 --shapes dates --cells lstm
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent


def _sibling(name: str):
    """Import a sibling file of this script (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_step = _sibling("bench_step")
make_batch = bench_step.make_batch  # ragged sources, full-length targets, as bench_step times
SHAPES = {  # V both sides, E, H, N, S, T
    "dates": bench_step.SHAPES["dates"],  # V 59, E 16, H 256, N 128, S 29, T 11
    "default": dict(bench_step.SHAPES["dates"], E=32, H=64, N=64),  # the default model, batch
}
CELLS = ["rnn", "gru", "lstm"]
SCORES = ["none", "dot", "general", "concat"]


def import_pair(base: Path):
    """(new, old) ``numpy_seq2seq.model`` modules: this checkout's and the one under ``base``."""
    sys.path.insert(0, str(HERE.parent))
    new = importlib.import_module("numpy_seq2seq.model")
    ours = {k: sys.modules.pop(k) for k in list(sys.modules) if k.startswith("numpy_seq2seq")}
    sys.path[0] = str(base.resolve())
    old = importlib.import_module("numpy_seq2seq.model")
    theirs = {k: sys.modules.pop(k) for k in list(sys.modules) if k.startswith("numpy_seq2seq")}
    sys.modules.update({"old_" + k: m for k, m in theirs.items()})
    sys.modules.update(ours)
    sys.path.pop(0)
    if Path(old.__file__).resolve() == Path(new.__file__).resolve():
        raise SystemExit(f"--base {base} holds the same files as this checkout")
    return new, old


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_pair(new_model, old_model, src, tgt, rounds: int, warmup: int, clock=time.perf_counter):
    """Alternate the two steps; return the times of each (seconds), paired by round."""
    t_new, t_old = [], []
    for r in range(warmup + rounds):
        order = [(new_model, t_new), (old_model, t_old)]
        if r % 2:  # who goes first alternates too
            order.reverse()
        for model, times in order:
            t0 = clock()
            model.loss_and_grads(src, tgt)
            if r >= warmup:
                times.append(clock() - t0)
    return t_new, t_old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=CELLS)
    parser.add_argument("--scores", nargs="+", choices=SCORES, default=SCORES)
    parser.add_argument("--rounds", type=int, default=25, help="timed A B rounds per row")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--clock", choices=CLOCKS, default="wall",
                        help="wall time, or the process's CPU time: on a loaded machine the "
                             "time this process ran, without the time others ran instead")
    args = parser.parse_args()
    new, old = import_pair(args.base)
    print(f"load average at start: {os.getloadavg()}; {args.clock} clock; one BLAS thread; "
          "float32; "
          f"{args.rounds} rounds A B / B A after {args.warmup} warm-up rounds")
    print("| shape | cell | score | new ms | old ms | new/old (IQR) | load |")
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(limits=1, user_api="blas"):
        for shape_name in args.shapes:
            shape = SHAPES[shape_name]
            src, tgt = make_batch(shape)
            for cell in args.cells:
                for score in args.scores:
                    kw = dict(embed_dim=shape["E"], hidden_dim=shape["H"], cell=cell,
                              attention=None if score == "none" else score, dtype=np.float32)
                    a = new.Seq2Seq(shape["V"], shape["V"], **kw)
                    b = old.Seq2Seq(shape["V"], shape["V"], **kw)
                    for k, v in b.params.items():  # identical weights (b_s's init changed)
                        a.params[k][...] = v
                    la, lb = a.loss(src, tgt), b.loss(src, tgt)
                    assert abs(la - lb) <= 1e-5 * abs(lb), (la, lb)  # same model, same loss
                    t_new, t_old = time_pair(a, b, src, tgt, args.rounds, args.warmup,
                                             CLOCKS[args.clock])
                    ratios = sorted(x / y for x, y in zip(t_new, t_old))
                    q1, med, q3 = statistics.quantiles(ratios, n=4)
                    print(f"| {shape_name} | {cell} | {score} | "
                          f"{1e3 * statistics.median(t_new):.2f} | "
                          f"{1e3 * statistics.median(t_old):.2f} | "
                          f"{med:.3f} ({q1:.3f}-{q3:.3f}) | {os.getloadavg()[0]:.1f} |",
                          flush=True)


if __name__ == "__main__":
    main()
