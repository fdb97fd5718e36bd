"""The initialisation study of issue 12: held-out exact match per epoch for init schemes.

Each run builds a ``Seq2Seq`` (the package's own initialisation), redraws its parameters with the
scheme under study (``package`` keeps them), trains it exactly as ``numpy-seq2seq train`` would
and records the held-out exact match after every epoch. One JSON line per run is appended to
``--out``; ``--table`` prints every seed, the mean and the worst seed per scheme. Runs are
deterministic, so a repeated run replaces the earlier one in the table.

Schemes: ``old`` (Seq2Seq before issue 12, the same draws value for value), ``new`` (after it,
the same draws as the package), ``package``, or key=value pairs for `scheme_init`, e.g.
``emb=1,wx=D,wh=orthogonal``.

Shapes
------
default  the ``numpy-seq2seq train`` defaults: dates task (20,000 pairs from --seed, 10 % held
         out), LSTM, general attention, E = 32, H = 64, batch 64, Adam lr 5e-3, clip 5, lr decay
         0.5 on plateau.
book     Deep Learning from Scratch 2, ch. 8: the book's date.txt (50,000 pairs, its own split:
         shuffled with seed 1984, 45,000 train / 5,000 test), E = 16, H = 256, batch 128, Adam
         lr 1e-3, clip 5, lr decay 0.5 on plateau (the book has none); LSTM, general attention
         (the book uses dot), source read forwards (the book reverses it). date.txt is not in
         this repository: pass its path with --book-data (from the book's code,
         github.com/oreilly-japan/deep-learning-from-scratch-2, dataset/date.txt).

The stored results (benchmarks/init_study/) came from these runs, each under ``nice -n 10``::

    S="python benchmarks/init_study.py"
    # default shape, 4 epochs (benchmarks/init_study/default_4_epochs.jsonl)
    $S --seeds 0 1 2 --scheme emb=0.1,wx=H,wh=uniform emb=0.3,wx=D,wh=orthogonal ...
       # (every emb in 0.1 0.3 1 3 x wx in H D x wh in uniform orthogonal)
    $S --seeds 0 1 2 3 4 5 6 7 --scheme old new emb=0.3 emb=3 emb=1,wx=D emb=1,wh=orthogonal \
       emb=1,wx=D,wh=orthogonal emb=1,out=zero emb=1,forget=0
    $S --seeds 0 1 2 3 4 5 6 7 --scheme new --lr 0.01 0.002
    # default shape, 15 epochs, the whole default run
    # (benchmarks/init_study/default_15_epochs.jsonl)
    $S --epochs 15 --seeds 0 1 2 3 4 5 6 7 --scheme old new emb=1,wx=D emb=1,wx=D,wh=orthogonal
    $S --epochs 15 --seeds 8 9 10 11 12 13 14 15 --scheme old new emb=1,wx=D
    $S --epochs 15 --seeds 0 1 2 3 4 5 6 7 --scheme new --lr 0.01
    $S --epochs 15 --seeds 0 1 2 3 4 5 6 7 --scheme emb=1,wx=D --lr 0.003
    $S --epochs 15 --seeds 0 1 2 3 4 5 6 7 --scheme emb=1,wx=D --lr-decay 0.3
    $S --epochs 15 --seeds 0 1 2 3 4 5 6 7 --scheme emb=1,wx=D,wh=orthogonal --lr 0.01 0.003
    # the book's shape (benchmarks/init_study/book.jsonl)
    $S --shape book --book-data date.txt --scheme old new emb=1,wx=D emb=1,wx=D,wh=orthogonal
    $S --shape book --book-data date.txt --epochs 2 --scheme new emb=1,wx=D --lr 0.002

    python benchmarks/init_study.py --table benchmarks/init_study/*.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from numpy_seq2seq.data import Vocab, encode_pairs, make_task, split_pairs
from numpy_seq2seq.model import Seq2Seq
from numpy_seq2seq.training import train

SHAPES = {
    "default": dict(embed_dim=32, hidden_dim=64, batch_size=64, lr=5e-3, lr_decay=0.5),
    "book": dict(embed_dim=16, hidden_dim=256, batch_size=128, lr=1e-3, lr_decay=0.5),
}


# ---------------------------------------------------------------------------------------------
# initialisation schemes: each redraws model.params in place from one seeded generator

def _uniform(rng, shape, fan):
    return rng.uniform(-1, 1, shape) / np.sqrt(fan)


def _orthogonal_gate_blocks(rng, shape):
    """W_h of shape (H, G·H) made of G random orthogonal (H, H) blocks (Saxe et al. 2014): the Q
    of a Gaussian matrix's QR decomposition, signs fixed by R's diagonal (a uniform draw)."""
    H, GH = shape
    blocks = []
    for _ in range(GH // H):
        q, r = np.linalg.qr(rng.standard_normal((H, H)))
        blocks.append(q * np.sign(np.diag(r)))
    return np.concatenate(blocks, axis=1)


def _set_forget_bias(model, params, value):
    if model.cell == "lstm":
        for key, b in params.items():
            if key.endswith("_b") and key.startswith(("enc_", "dec_")):
                H = b.shape[0] // 4
                b[H : 2 * H] = value  # LSTM gate order i, f, g, o


def scheme_init(model, rng, emb=1.0, wx="H", wh="uniform", out="uniform", forget=1.0):
    """Draw every parameter by the given rules.

    emb     standard deviation of the N(0, emb²) embeddings
    wx      "H": U(±1/√H) as PyTorch; "D": U(±1/√D), D the layer's input size (LeCun)
    wh      "uniform": U(±1/√H) as PyTorch; "orthogonal": each gate's (H, H) block orthogonal
    out     "uniform": W_s ~ U(±1/√H); "zero": W_s = 0 (the first predictions are b_s's)
    forget  the LSTM's forget-gate bias
    """
    params = {}
    for key, shape in model.param_shapes().items():
        recurrent = key.startswith(("enc_", "dec_"))
        if key.endswith("_embed"):
            value = emb * rng.standard_normal(shape)
        elif recurrent and key.endswith("_Wh") and wh == "orthogonal":
            value = _orthogonal_gate_blocks(rng, shape)
        elif recurrent and key.endswith("_Wx") and wx == "D":
            value = _uniform(rng, shape, shape[0])
        elif recurrent:
            value = _uniform(rng, shape, model._rec_hidden(key))
        elif key == "W_s" and out == "zero":
            value = np.zeros(shape)
        else:
            value = _uniform(rng, shape, shape[0] if len(shape) == 2 else shape[-1])
        params[key] = value
    _set_forget_bias(model, params, forget)
    return params


OLD = "emb=0.1,wx=H,wh=uniform"  # Seq2Seq._init_params before issue 12: the same draws
NEW = "emb=1"  # after it (what "package" draws, value for value)
SCHEME_DEFAULTS = {"emb": 1.0, "wx": "H", "wh": "uniform", "out": "uniform", "forget": 1.0}


def scheme_kwargs(name: str) -> dict:
    """'old', 'new', or key=value pairs for ``scheme_init`` ('emb=1,wh=orthogonal'), completed
    with the defaults."""
    name = {"old": OLD, "new": NEW}.get(name, name)
    kw = dict(SCHEME_DEFAULTS)
    for part in name.split(","):
        k, v = part.split("=")
        kw[k] = float(v) if k in ("emb", "forget") else v
    return kw


def scheme_label(name: str) -> str:
    """One name per scheme, however it was spelt: 'old', 'new', or only what differs from the
    defaults (so 'emb=1,wx=H' and 'emb=1' are grouped together)."""
    if name == "package":
        return name
    kw = scheme_kwargs(name)
    for label in ("old", "new"):
        if kw == scheme_kwargs(label):
            return label
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in kw.items() if v != SCHEME_DEFAULTS[k] or k == "emb")


def parse_scheme(name: str):
    """None for 'package' (the package's own initialisation), else a function redrawing it."""
    if name == "package":
        return None
    kw = scheme_kwargs(name)
    return lambda model, rng: scheme_init(model, rng, **kw)


def build_model(n_src, n_tgt, shape, scheme, seed):
    model = Seq2Seq(n_src, n_tgt, SHAPES[shape]["embed_dim"], SHAPES[shape]["hidden_dim"],
                    seed=seed)
    init = parse_scheme(scheme)
    if init is not None:
        new = init(model, np.random.default_rng(seed))
        assert new.keys() == model.params.keys()
        for k, v in new.items():
            model.params[k] = v.astype(model.dtype)
    return model


# ---------------------------------------------------------------------------------------------
# data

def book_pairs(path: Path):
    """The book's date.txt and its split (numpy seed 1984, last 10 % held out)."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        i = line.find("_")
        pairs.append((line[:i].rstrip(), line[i + 1 :]))  # fixed-width padding dropped
    idx = np.arange(len(pairs))
    np.random.RandomState(1984).shuffle(idx)  # the book's numpy.random.seed(1984); shuffle
    pairs = [pairs[i] for i in idx]
    split = len(pairs) - len(pairs) // 10
    return pairs[:split], pairs[split:]


def load_data(shape, seed, book_data):
    if shape == "book":
        train_pairs, valid_pairs = book_pairs(book_data)
    else:  # exactly what `numpy-seq2seq train --seed SEED` trains on
        train_pairs, valid_pairs = split_pairs(make_task("dates", 20000, seed=seed), 0.1,
                                               seed=seed)
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs])
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs])
    return (encode_pairs(train_pairs, src_vocab, tgt_vocab),
            encode_pairs(valid_pairs, src_vocab, tgt_vocab), len(src_vocab), len(tgt_vocab))


def run(shape, scheme, seed, epochs, lr, book_data, lr_decay=None):
    s = SHAPES[shape]
    lr = s["lr"] if lr is None else lr
    lr_decay = s["lr_decay"] if lr_decay is None else lr_decay
    train_ids, valid_ids, n_src, n_tgt = load_data(shape, seed, book_data)
    model = build_model(n_src, n_tgt, shape, scheme, seed)
    start = time.perf_counter()
    history = train(model, train_ids, valid_ids, epochs=epochs, batch_size=s["batch_size"], lr=lr,
                    clip=5.0, seed=seed, schedule="plateau", min_lr=0.0,
                    lr_decay=lr_decay, progress=False)  # the rule the stored study used
    return {"shape": shape, "scheme": scheme, "seed": seed, "lr": lr, "lr_decay": lr_decay,
            "exact_match": history.valid_exact_match, "valid_loss": history.valid_loss,
            "train_loss": history.train_loss, "epoch_time": history.epoch_time,
            "wall": time.perf_counter() - start, "loadavg": os.getloadavg()[0]}


# ---------------------------------------------------------------------------------------------
# the table

def table(paths: list[Path]) -> None:
    """Held-out exact match (%) per epoch: every seed, then the mean and the worst seed."""
    rows = [json.loads(line) for path in paths for line in path.read_text().splitlines()
            if line.strip()]
    groups: dict[tuple, dict] = {}
    for r in rows:  # runs are deterministic: a repeated run replaces the earlier one
        decay = r.get("lr_decay", SHAPES[r["shape"]]["lr_decay"])
        key = (r["shape"], scheme_label(r["scheme"]), r["lr"], decay)
        groups.setdefault(key, {})[r["seed"]] = r
    for (shape, scheme, lr, decay), by_seed in groups.items():
        rs = [by_seed[seed] for seed in sorted(by_seed)]
        loads = [r["loadavg"] for r in rs]
        print(f"\n{shape} shape, {scheme} init, lr {lr:g}, lr decay {decay}: {len(rs)} seeds, "
              f"{np.mean([np.mean(r['epoch_time']) for r in rs]):.0f} s/epoch at load "
              f"{min(loads):.1f}-{max(loads):.1f}")
        for r in rs:
            print(f"  seed {r['seed']:<3d}" + " ".join(f"{100 * e:6.2f}" for e in r["exact_match"]))
        n = min(len(r["exact_match"]) for r in rs)
        em = np.array([r["exact_match"][:n] for r in rs])
        print("  mean    " + " ".join(f"{100 * e:6.2f}" for e in em.mean(axis=0)))
        print("  worst   " + " ".join(f"{100 * e:6.2f}" for e in em.min(axis=0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=SHAPES, default="default")
    ap.add_argument("--scheme", nargs="+", default=["old", "new"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, nargs="+", default=[None])
    ap.add_argument("--lr-decay", type=float, help="default: the shape's")
    ap.add_argument("--book-data", type=Path, help="the book's dataset/date.txt (--shape book)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/init_study/results.jsonl"))
    ap.add_argument("--table", type=Path, nargs="+", help="print the table of results files")
    args = ap.parse_args()
    if args.table:
        table(args.table)
        return
    if args.shape == "book" and (args.book_data is None or not args.book_data.is_file()):
        ap.error(f"--shape book needs --book-data pointing at the book's date.txt, "
                 f"got {args.book_data}")
    for lr in args.lr:
        for scheme in args.scheme:
            for seed in args.seeds:
                r = run(args.shape, scheme, seed, args.epochs, lr, args.book_data, args.lr_decay)
                with args.out.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                em = " ".join(f"{100 * e:.1f}" for e in r["exact_match"])
                print(f"{args.shape} {scheme} lr {r['lr']:g} seed {seed}: {em} "
                      f"({r['wall']:.0f} s, load {r['loadavg']:.1f})", flush=True)


if __name__ == "__main__":
    main()
