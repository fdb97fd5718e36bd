"""Train a command-line run over seeds and both BLAS kernel settings; one JSON line per run.

A float32 training run is one draw: another seed, or another machine whose BLAS sums products
in another order, gives other numbers. README and the notebooks state training results as
ranges measured with this script::

    python benchmarks/seed_study.py --seeds 0-7 --kernels pinned unpinned > default.jsonl
    python benchmarks/seed_study.py --seeds 0-2 -- --task addition --num-examples 50000 \\
        --cell gru --hidden-dim 128 --bidirectional > addition.jsonl
    python benchmarks/seed_study.py --summary default.jsonl

Everything after ``--`` is passed to ``numpy-seq2seq train`` (``--seed``, ``--out`` and
``--quiet`` are added). ``pinned`` runs with OpenBLAS held to its Haswell (AVX2) kernels
(``OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512``), ``unpinned`` with both variables removed,
so OpenBLAS picks the kernels of the CPU (SkylakeX on an AVX-512 machine); each row records the
kernel threadpoolctl reports for it. Each row: the arguments, seed, kernels, final and best
held-out score (by the run's selection metric) and epoch, every epoch's exact match, the run's
wall time and CPU time, and the load average when it ended (times on a busy machine are upper
bounds).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

KERNELS = {
    "pinned": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"},
    "unpinned": {},
}
PROBE = ("import json, numpy, threadpoolctl; print(json.dumps([i.get('architecture') for i in "
         "threadpoolctl.threadpool_info() if i['user_api'] == 'blas']))")


def kernel_env(kernels: str) -> dict[str, str]:
    """This process's environment with the OpenBLAS variables of ``kernels`` (and only those)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {**env, **KERNELS[kernels]}


def architecture(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True)
    return ",".join(json.loads(out.stdout) or ["?"])


def run_one(train_args: list[str], seed: int, kernels: str) -> dict:
    env = kernel_env(kernels)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "numpy_seq2seq", "train", *train_args, "--seed", str(seed),
               "--out", str(out), "--quiet"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    epochs = m["epochs"]
    metric = m.get("selected_by", {}).get("metric", "exact")
    return {"args": train_args, "seed": seed, "kernels": kernels,
            "architecture": architecture(env), "select": metric,
            "final_epoch": m["final"]["epoch"], "final_exact": m["final"]["exact_match"],
            "best_epoch": m["best"]["epoch"], "best_exact": m["best"]["exact_match"],
            "exact_by_epoch": [e["exact_match"] for e in epochs],
            "chrf_by_epoch": [e.get("chrf") for e in epochs],
            "final_scores": {k: m["final"].get(k) for k in ("bleu", "char_bleu", "chrf")},
            "stopped_early": m["history"].get("stopped_early"),
            "wall_time_s": round(m["wall_time_s"], 1),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "load_average": round(os.getloadavg()[0], 1)}


def seeds(text: str) -> list[int]:
    """"0-7" or "0,3,5"."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def summary(path: Path) -> None:
    """Print, per arguments and kernels, the range of final and best exact match."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((" ".join(r["args"]), r["kernels"]), []).append(r)
    for (args, kernels), rs in groups.items():
        final = [100 * r["final_exact"] for r in rs]
        gap = [100 * (r["best_exact"] - r["final_exact"]) for r in rs]
        print(f"{args or '(defaults)'} | {kernels} ({rs[0]['architecture']}) | seeds "
              f"{','.join(str(r['seed']) for r in rs)} | final {min(final):.2f}–{max(final):.2f} % "
              f"| best − final ≤ {max(gap):.2f} | wall {min(r['wall_time_s'] for r in rs):.0f}–"
              f"{max(r['wall_time_s'] for r in rs):.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=seeds, default=seeds("0-2"))
    parser.add_argument("--kernels", nargs="+", choices=tuple(KERNELS),
                        default=list(KERNELS))
    parser.add_argument("--summary", type=Path, help="summarise a JSONL file written before")
    parser.add_argument("train_args", nargs="*", help="options for numpy-seq2seq train")
    args = parser.parse_args()
    if args.summary:
        summary(args.summary)
        return
    for kernels in args.kernels:
        for seed in args.seeds:
            print(json.dumps(run_one(args.train_args, seed, kernels)), flush=True)


if __name__ == "__main__":
    main()
