"""How many held-out pairs share a sentence with the training side, under each split mode.

    python benchmarks/split_leak.py FILE.tsv [--swap] [--max-len 10] [--seeds 0 1 2]

For each mode of ``data.split_pairs`` ("source": pairs with one source stay together, the old
split; "either": pairs that share a source or a target stay together) and each seed, prints the
sizes of both sides and how many held-out pairs have their source, or their target, on the
training side (``data.count_overlap``, word-level normalisation as the word tokenizer does it).
"""

from __future__ import annotations

import argparse

from numpy_seq2seq.data import Tokenizer, count_overlap, read_tsv, select_pairs, split_pairs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--swap", action="store_true")
    p.add_argument("--max-len", type=int)
    p.add_argument("--valid-fraction", type=float, default=0.1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    word = (Tokenizer("word"), Tokenizer("word"))
    pairs, _ = select_pairs(read_tsv(args.file, swap=args.swap).pairs, *word,
                            max_len=args.max_len)
    for mode in ("source", "either"):
        for seed in args.seeds:
            train, valid = split_pairs(pairs, args.valid_fraction, seed=seed, together=mode,
                                       tokenizers=word)
            o = count_overlap(valid, train, word)
            print(f"{mode:6s} seed {seed}: {len(train):,} training / {len(valid):,} held-out "
                  f"pairs; held-out targets seen in training {o.targets:,}, sources {o.sources:,}")


if __name__ == "__main__":
    main()
