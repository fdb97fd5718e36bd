"""Write the small dates model that grades greedy decoding and beam search (assignment 4).

    python course/make_model.py              # writes numpy_seq2seq/course/dates_model.npz
    python course/make_model.py --out M.npz  # elsewhere

Deterministic on one machine: the same code, seed, data, BLAS kernels and thread count give the
same file, byte for byte; another machine's BLAS sums float32 in another order and makes another
(equally usable) file, so tests/test_course_model.py checks what the model must do — train to a
score in its band, leave enough dates on which beam search and greedy decoding disagree — not
its bytes. The checks compare a student's decoder with the library's on whatever model is
shipped, so a new model changes no check. The learning rate is constant (one epoch: a decay
would make another model than the one shipped, made before schedules decayed). The model is
deliberately small and trained for one epoch only, so that it still makes mistakes and beam
search often disagrees with greedy decoding (with N(0, 1) embeddings, 3 epochs reach 89.8 % and
leave only 5 held-out dates on which they disagree, too few to grade on); the sources on which
the decoders are graded are chosen here and stored in
the checkpoint's ``extra``:

* ``check_sources``: 16 held-out dates: 8 on which beam search (K = 3, α = 1) and greedy
  decoding disagree, 4 that greedy decoding gets wrong, 4 that it gets right.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from numpy_seq2seq import Seq2Seq, Vocab, beam_search, greedy_decode, make_task, save_checkpoint
from numpy_seq2seq.data import encode_pairs, pad_sequences, split_pairs
from numpy_seq2seq.training import train

OUT = Path(__file__).resolve().parent.parent / "numpy_seq2seq" / "course" / "dates_model.npz"
SEED = 0
EPOCHS = 1
QUOTA = ((0, 8), (1, 4), (2, 4))  # (rank, how many): 8 that differ, 4 wrong, 4 right


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    out = parser.parse_args(argv).out
    start = time.perf_counter()
    train_pairs, valid_pairs = split_pairs(make_task("dates", 4000, seed=SEED), 0.1, seed=SEED)
    src_vocab = Vocab.from_texts([s for s, _ in train_pairs])
    tgt_vocab = Vocab.from_texts([t for _, t in train_pairs])
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embed_dim=16, hidden_dim=32, cell="lstm",
                    attention="general", seed=SEED)
    history = train(model, encode_pairs(train_pairs, src_vocab, tgt_vocab),
                    encode_pairs(valid_pairs, src_vocab, tgt_vocab), epochs=EPOCHS, batch_size=32,
                    lr=1e-2, schedule="constant", seed=SEED, progress=False, threads=1)
    texts = [s for s, _ in valid_pairs if all(ch in src_vocab for ch in s)]
    src = pad_sequences([src_vocab.encode(s) for s in texts])
    greedy = greedy_decode(model, src)
    beam = beam_search(model, src, beam=3)
    refs = {s: t for s, t in valid_pairs}

    def rank(i: int) -> int:
        differ = list(greedy[i].tokens) != list(beam[i].tokens)
        wrong = tgt_vocab.decode_text(greedy[i].tokens) != refs[texts[i]]
        return 0 if differ else 1 if wrong else 2

    ranks = [rank(i) for i in range(len(texts))]
    chosen = [i for r, k in QUOTA for i in [j for j in range(len(texts)) if ranks[j] == r][:k]]
    if len(chosen) != sum(k for _, k in QUOTA):
        raise SystemExit(f"only {len(chosen)} check sources found (ranks: differ, wrong, right = "
                         f"{[ranks.count(r) for r, _ in QUOTA]}); the model is too good or too "
                         "bad for grading the decoders: change EPOCHS")
    check_sources = [texts[i] for i in chosen]
    save_checkpoint(out, model, src_vocab, tgt_vocab,
                    extra={"check_sources": check_sources, "made_by": "course/make_model.py",
                           "held_out_exact_match": history.valid_exact_match[-1]})
    out.chmod(0o644)  # package data must be readable by everyone, whatever the umask
    n_differ = sum(ranks[i] == 0 for i in chosen)
    seconds = time.perf_counter() - start
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB) in {seconds:.0f} s: held-out exact "
          f"match {100 * history.valid_exact_match[-1]:.1f} %, {model.num_params():,} parameters; "
          f"{n_differ} of the {len(chosen)} check sources decode differently with beam search")


if __name__ == "__main__":
    main()
