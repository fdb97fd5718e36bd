"""The sweep behind the text recipe: train one setting of the tatoeba task, print a JSON row.

Each row is one run of ``run.prepare`` + ``run.fit`` (the library's own run, as the command line
trains it) on the split that cannot flatter (``split="either"``: no held-out source or target
sentence occurs in training), scored once, after the last epoch, on *all* held-out pairs:
sacreBLEU's corpus BLEU (13a, word) and chrF, and exact match. Settings are ``field=value``
words for any field of ``DataConfig``, ``ModelConfig`` or ``TrainConfig``::

    python benchmarks/text_recipe_sweep.py --source-lang en --target-lang fr --seed 0 \\
        hidden_dim=256 embed_dim=128 min_freq=3 epochs=6 >> sweep.jsonl
    python benchmarks/text_recipe_sweep.py --summary sweep.jsonl   # the table, a line a setting

With no settings the run takes the task's defaults (the recipe, ``config.TASK_DEFAULTS``). The
row holds the training time (the epochs' step time, without scoring), the process's CPU time and
its peak resident memory. Training time is wall time: run it on a quiet machine, one BLAS thread
(the default), and state results as ranges over ``--seed`` values.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import fields

CONFIGS = ("DataConfig", "ModelConfig", "TrainConfig")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source-lang", default="en")
    p.add_argument("--target-lang", default="fr")
    p.add_argument("--seed", type=int, default=0, help="data sample, split, init and batches")
    p.add_argument("--every", type=int, metavar="K", help="score after every K-th epoch too "
                   "(default: only after the last); the row then adds the best epoch's scores "
                   "by the run's selection metric, the epoch best.npz holds")
    p.add_argument("--out", metavar="DIR", help="keep the run folder there (default: a "
                   "temporary folder, removed)")
    p.add_argument("--summary", metavar="FILE.jsonl", help="print the table of a file of rows")
    p.add_argument("settings", nargs="*", metavar="field=value")
    return p.parse_args(argv)


def _settings(words: list[str]) -> tuple[dict, dict, dict]:
    """``field=value`` words sorted into the three configs' dicts (values read as JSON, else
    text: ``cell=gru``, ``dropout=0.2``, ``attention=null``)."""
    from numpy_seq2seq import config

    owners = {f.name: i for i, name in enumerate(CONFIGS) for f in fields(getattr(config, name))
              if f.name not in ("seed", "src_vocab_size", "tgt_vocab_size")}
    out: tuple[dict, dict, dict] = ({}, {}, {})
    for word in words:
        name, sep, text = word.partition("=")
        if not sep or name not in owners:
            raise SystemExit(f"expected field=value with a field of {', '.join(CONFIGS)}, got "
                             f"{word!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[owners[name]][name] = value
    return out


def run_one(args: argparse.Namespace) -> dict:
    """Train and score one setting; the JSON row."""
    from numpy_seq2seq import run

    data, model, train = _settings(args.settings)
    data = {"task": "tatoeba", "source_lang": args.source_lang, "target_lang": args.target_lang,
            "seed": args.seed, **data}
    model = {"seed": args.seed, **model}
    cpu, wall = time.process_time(), time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        r = run.prepare(data, model, {"seed": args.seed, "bleu": True, **train},
                        out=args.out or scratch, force=args.out is None)
        # scored on every held-out pair, after the last epoch (and every --every epochs)
        r.config = type(r.config).from_dict({**r.config.to_dict(), "eval_max": None,
                                             "eval_every": args.every or r.config.epochs})
        summary = run.fit(r, progress=False)
    history, final = summary.history, summary.history.epoch_record(-1)
    best = history.epoch_record(history.best_epoch(history.select) - 1)
    return {"direction": f"{args.source_lang}-{args.target_lang}", "seed": args.seed,
            "settings": args.settings, "n_train": len(r.train_pairs),
            "n_valid": len(r.valid_pairs), "src_vocab": len(r.src_vocab),
            "tgt_vocab": len(r.tgt_vocab), "params": r.model.num_params(),
            "model": {k: r.model.config[k] for k in ("cell", "attention", "embed_dim",
                                                      "hidden_dim", "num_layers", "dropout")},
            "epochs": history.epochs_done, "train_s": round(sum(history.epoch_time), 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "wall_s": round(time.perf_counter() - wall, 1),
            "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "bleu": round(_bleu(final), 2),
            "chrf": round(final["chrf"], 2), "exact": round(100 * final["exact_match"], 2),
            "valid_loss": round(final["valid_loss"], 4),
            "select": history.select, "best": {
                "epoch": best["epoch"], "bleu": round(_bleu(best), 2),
                "chrf": round(best["chrf"], 2), "exact": round(100 * best["exact_match"], 2)}}


def _bleu(record: dict) -> float:
    """Word BLEU, or char-BLEU for character targets (the one the run computed)."""
    return record["bleu"] if record["bleu"] is not None else record["char_bleu"]


def summarise(path: str) -> None:
    """One line per (direction, settings): BLEU/chrF ranges over seeds, the mean training (wall)
    and CPU seconds (whole run: data, training, scoring; on a loaded machine the better clock)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                groups[(row["direction"], " ".join(row["settings"]) or "(defaults)")].append(row)
    print(f"{'direction':9} {'seeds':5} {'BLEU':>11} {'chrF':>11} {'exact %':>11} {'train s':>8} "
          f"{'CPU s':>6} {'MB':>5}  settings")
    for (direction, settings), rows in sorted(groups.items()):
        def span(key: str, rows: list[dict] = rows) -> str:
            values = [r[key] for r in rows]
            return f"{min(values):5.1f}–{max(values):<5.1f}"
        seconds = sum(r["train_s"] for r in rows) / len(rows)
        cpu = sum(r["cpu_s"] for r in rows) / len(rows)
        print(f"{direction:9} {len(rows):5} {span('bleu'):>11} {span('chrf'):>11} "
              f"{span('exact'):>11} {seconds:8.0f} {cpu:6.0f} {max(r['peak_mb'] for r in rows):5}"
              f"  {settings}")


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.summary:
        summarise(args.summary)
        return
    print(json.dumps(run_one(args), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
