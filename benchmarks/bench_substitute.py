"""What running the model through CS231n-style step functions costs (``use_functions``).

    python benchmarks/bench_substitute.py            # the dates model, batch 64, 40 pairs of steps

Times one ``loss_and_grads`` step of the default dates model (LSTM, general attention, E 32,
H 64, float32, one BLAS thread) with the library's cores, and with the library's own
``lstm_step_forward`` / ``lstm_step_backward`` passed to ``use_functions``, which then run as the
cell's core on x = xw_t, W_x = I, b = 0 (see numpy_seq2seq/functional/step_cells.py). The two are
run alternately; the report gives both medians and the median of the paired ratios. The gradients
are compared first: the swap must not change them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from numpy_seq2seq import Seq2Seq, make_task
from numpy_seq2seq.data import Vocab, encode_pairs, pad_sequences
from numpy_seq2seq.substitute import REPLACEABLE, use_functions
from numpy_seq2seq.threads import blas_threads


def _through(fn):
    """``fn`` under another object: the kernel table runs the library's own step functions as
    the fast cores, so the benchmark passes wrappers, as a student's functions would be."""
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


STEPS = {name: _through(REPLACEABLE[name]) for name in ("lstm_step_forward", "lstm_step_backward")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=40, help="timed pairs (default 40)")
    args = parser.parse_args()
    pairs = make_task("dates", 2000, seed=0)
    src_vocab = Vocab.from_texts(s for s, _ in pairs)
    tgt_vocab = Vocab.from_texts(t for _, t in pairs)
    src_ids, tgt_ids = encode_pairs(pairs[: args.batch], src_vocab, tgt_vocab)
    src, tgt = pad_sequences(src_ids), pad_sequences(tgt_ids)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab))

    def step() -> float:
        start = time.perf_counter()
        model.loss_and_grads(src, tgt)
        return time.perf_counter() - start

    with blas_threads(1):
        _, plain = model.loss_and_grads(src, tgt)
        with use_functions(STEPS):
            _, swapped = model.loss_and_grads(src, tgt)
        assert all(np.array_equal(plain[k], swapped[k]) for k in plain), "gradients differ"
        cores, steps = [], []
        for _ in range(args.repeats):
            cores.append(step())
            with use_functions(STEPS):
                steps.append(step())
    ratios = [s / c for s, c in zip(steps, cores)]
    print(f"loss_and_grads, dates model, batch {args.batch}: library cores "
          f"{1000 * statistics.median(cores):.1f} ms, through the step functions "
          f"{1000 * statistics.median(steps):.1f} ms, ratio {statistics.median(ratios):.2f} "
          f"(median of {args.repeats} pairs); gradients identical")


if __name__ == "__main__":
    main()
