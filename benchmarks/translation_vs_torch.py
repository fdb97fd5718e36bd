"""Our model and its PyTorch twin, trained for the same wall time on the same Tatoeba split.

Both start from the same weights (``torch_export.to_torch``), see the same batches in the same
order (one seeded ``iterate_batches`` stream each), take the same Adam steps (PyTorch's
``torch.optim.Adam`` with our defaults) with the same global-norm clipping, on one thread each
(one BLAS thread for NumPy, ``torch.set_num_threads(1)``), for ``--seconds`` of step time each.
Their steps are interleaved (the one that has used less time goes next), so a burst of load on
a shared machine slows both rather than one.
The trained twin comes back through ``from_torch`` and both are decoded by the same greedy
search, so the scores differ only by what each framework managed to learn in that time.

The architecture, the vocabulary's ``min_freq``, the batch size, learning rate and clipping are
the task's recipe for the direction (``config.TASK_DEFAULTS``, what ``numpy-seq2seq train --task
tatoeba`` uses) unless an option below says otherwise; the recipe's dropout is active in both.

Prints, per framework: optimizer steps, epochs, target tokens per second of training, and
held-out BLEU, chrF and exact match on the same pairs (the split keeps pairs that share a
sentence on one side, data/split.py). The learning rate is constant (no decay on plateau), so
the comparison needs no held-out scoring during training.

    python benchmarks/translation_vs_torch.py --source-lang ko --target-lang en --seconds 120

Needs the torch extra (``pip install -e '.[torch]'``). On a shared machine run it quiet, and
state the result as a range over ``--seed`` values: one run is one draw.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source-lang", default="en")
    p.add_argument("--target-lang", default="fr")
    p.add_argument("--num-examples", type=int, help="pairs (at most; default: the recipe's)")
    p.add_argument("--seconds", type=float, default=120.0, help="training wall time, each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cell")
    p.add_argument("--attention")
    p.add_argument("--embed-dim", type=int)
    p.add_argument("--hidden-dim", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--clip", type=float)
    p.add_argument("--eval-max", type=int, default=1000, help="held-out pairs scored")
    return _recipe(p.parse_args(argv))


def _recipe(args: argparse.Namespace) -> argparse.Namespace:
    """Fill every option not given from the direction's recipe (config.TASK_DEFAULTS)."""
    from numpy_seq2seq.config import DataConfig, ModelConfig, TrainConfig

    direction = f"{args.source_lang}-{args.target_lang}"
    data = DataConfig.for_task("tatoeba", direction)
    model = ModelConfig.for_task("tatoeba", direction, src_vocab_size=9, tgt_vocab_size=9)
    train = TrainConfig.for_task("tatoeba", direction)
    args.min_freq = data.min_freq
    for name, config in (("num_examples", data), ("cell", model), ("attention", model),
                         ("embed_dim", model), ("hidden_dim", model), ("dropout", model),
                         ("bidirectional", model), ("batch_size", train), ("lr", train),
                         ("clip", train)):
        if getattr(args, name, None) is None:
            setattr(args, name, getattr(config, name))
    return args


def _data(args: argparse.Namespace) -> tuple:
    from numpy_seq2seq.data import Vocab, encode_pairs, make_task, split_pairs, task_tokenizers

    pairs = make_task("tatoeba", args.num_examples, seed=args.seed,
                      source_lang=args.source_lang, target_lang=args.target_lang)
    tokenizers = task_tokenizers("tatoeba", args.source_lang, args.target_lang)
    train, valid = split_pairs(pairs, 0.1, seed=args.seed, together="either",
                               tokenizers=tokenizers)
    vocabs = [Vocab.from_texts(texts, tokenizer=tok, min_freq=args.min_freq)
              for texts, tok in zip(zip(*train, strict=True), tokenizers, strict=True)]
    valid = valid[:args.eval_max]
    return train, valid, vocabs, encode_pairs(train, *vocabs)


def _numpy_step(model, args):
    from numpy_seq2seq.optim import clip_grad_norm, make_optimizer

    opt = make_optimizer("adam", model.params, lr=args.lr)
    masks = np.random.default_rng(args.seed)  # the dropout masks, as training.train draws them

    def step(src, tgt):
        _, grads = model.loss_and_grads(src, tgt, rng=masks)
        clip_grad_norm(grads, args.clip)
        opt.step(grads)

    return step


def _torch_step(module, args):
    import torch

    opt = torch.optim.Adam(module.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    module.train()

    def step(src, tgt):
        opt.zero_grad()
        module(torch.from_numpy(src), torch.from_numpy(tgt)).backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), args.clip)
        opt.step()

    return step


class _Stream:
    """One framework's training: its own seeded batch stream, epoch after epoch, and the time
    its steps took."""

    def __init__(self, step, ids, args) -> None:
        self.step, self.ids, self.args = step, ids, args
        self.rng = np.random.default_rng(args.seed)  # the same batches, in the same order
        self.batches = iter(())
        self.steps = self.tokens = self.epochs = 0
        self.seconds = 0.0

    def advance(self) -> None:
        from numpy_seq2seq.data import iterate_batches

        batch = next(self.batches, None)
        if batch is None:
            if self.steps:
                self.epochs += 1
            self.batches = iterate_batches(*self.ids, self.args.batch_size, seed=self.rng,
                                           bucket=True)
            batch = next(self.batches)
        start = time.perf_counter()
        self.step(*batch)
        self.seconds += time.perf_counter() - start
        self.steps += 1
        self.tokens += int((batch[1][:, 1:] != 0).sum())


def _train_both(streams: dict, seconds: float) -> None:
    """Step whichever framework has used less time, until both have used ``seconds``: a burst
    of load on a shared machine then slows both, not one."""
    while True:
        behind = min(streams.values(), key=lambda s: s.seconds)
        if behind.seconds >= seconds:
            return
        behind.advance()


def _score(model, valid, vocabs) -> dict:
    from numpy_seq2seq.data import encode_pairs, pad_sequences
    from numpy_seq2seq.decoding import greedy_decode
    from numpy_seq2seq.metrics import translation_scores

    src_vocab, tgt_vocab = vocabs
    src_ids, tgt_ids = encode_pairs(valid, src_vocab, tgt_vocab)
    limit = max(len(t) for t in tgt_ids) + 10
    outputs = []
    for i in range(0, len(src_ids), 256):
        hyps = greedy_decode(model, pad_sequences(src_ids[i:i + 256]), max_len=limit)
        outputs += [tgt_vocab.decode_text(h.tokens) for h in hyps]
    refs = [tgt_vocab.canonical(t) for _, t in valid]
    scores = translation_scores(outputs, refs)
    scores["exact"] = 100 * float(np.mean([o == r for o, r in zip(outputs, refs, strict=True)]))
    return scores


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    import torch

    from numpy_seq2seq.model import Seq2Seq
    from numpy_seq2seq.threads import blas_threads
    from numpy_seq2seq.torch_export import from_torch, to_torch

    torch.set_num_threads(1)
    train, valid, vocabs, ids = _data(args)
    model = Seq2Seq(len(vocabs[0]), len(vocabs[1]), args.embed_dim, args.hidden_dim,
                    cell=args.cell, attention=None if args.attention == "none" else args.attention,
                    bidirectional=args.bidirectional, dropout=args.dropout, seed=args.seed)
    twin = to_torch(model)  # the same initial weights
    print(f"tatoeba {args.source_lang} -> {args.target_lang}: {len(train):,} training pairs, "
          f"{len(valid):,} held-out scored; {args.cell}, {args.attention} attention, "
          f"E={args.embed_dim} H={args.hidden_dim}{' bidirectional' * args.bidirectional}, "
          f"dropout {args.dropout:g}, {model.num_params():,} parameters; "
          f"{args.seconds:g} s of training each, one thread, seed {args.seed}")
    with blas_threads(1):
        streams = {"numpy_seq2seq": _Stream(_numpy_step(model, args), ids, args),
                   "torch twin": _Stream(_torch_step(twin, args), ids, args)}
        _train_both(streams, args.seconds)
        trained = {"numpy_seq2seq": model, "torch twin": from_torch(twin.eval())}
        for name, run in streams.items():
            s = _score(trained[name], valid, vocabs)
            print(f"{name:14s} {run.steps:6,} steps ({run.epochs} full epochs) in "
                  f"{run.seconds:.0f} s, {run.tokens / run.seconds:8,.0f} target tokens/s; "
                  f"held-out BLEU {s['bleu']:5.2f}, chrF {s['chrf']:5.2f}, exact match "
                  f"{s['exact']:5.2f} %", flush=True)


if __name__ == "__main__":
    main()
