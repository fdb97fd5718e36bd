"""What the decoders' stopping options change on a trained run's held-out pairs.

    numpy-seq2seq train --epochs 6 --quiet --out runs/dates      # or any run
    python benchmarks/decoding_guard.py runs/dates/best.npz

For greedy decoding and a beam of 5, with the repetition guard off and at k = 2, 3, 4
(``no_repeat_ngram``) and with ``max_ratio`` 2: exact match, outputs that ran to the step limit
without ``</s>``, outputs with a token repeated at once, and (for translation data) BLEU and chrF.
"""

from __future__ import annotations

import sys

import numpy as np

from numpy_seq2seq.data import encode_pairs, pad_sequences
from numpy_seq2seq.decoding import beam_search, greedy_decode
from numpy_seq2seq.metrics import translation_scores
from numpy_seq2seq.run import is_translation, load_pairs, load_trained, step_limit, trained_on

SETTINGS = ((0, None), (2, None), (3, None), (4, None), (0, 2.0))


def main(path: str) -> None:
    model, src_vocab, tgt_vocab, extra = load_trained(path)
    data = trained_on(extra)
    valid = load_pairs(data).valid
    src_ids, _ = encode_pairs(valid, src_vocab, tgt_vocab)
    refs = [tgt_vocab.canonical(t) for _, t in valid]
    for name, decode, kw in (("greedy", greedy_decode, {}), ("beam 5", beam_search, {"beam": 5})):
        for k, ratio in SETTINGS:
            outs, capped, repeats = [], 0, 0
            for i in range(0, len(src_ids), 256):
                src = pad_sequences(src_ids[i:i + 256])
                hyps = decode(model, src, max_len=step_limit(src, extra.get("longest_target")),
                              no_repeat_ngram=k, max_ratio=ratio, **kw)
                outs += [tgt_vocab.decode_text(h.tokens) for h in hyps]
                capped += sum(not h.finished for h in hyps)
                repeats += sum(bool(np.any(h.tokens[1:] == h.tokens[:-1])) for h in hyps)
            exact = 100 * np.mean([o == r for o, r in zip(outs, refs, strict=True)])
            line = (f"{name:6s} no_repeat_ngram={k} max_ratio={ratio}: exact match {exact:.2f} % "
                    f"of {len(refs):,}, {capped} ran to the limit, {repeats} with a token "
                    "repeated at once")
            if is_translation(data):
                s = translation_scores(outs, refs)
                line += f", BLEU {s['bleu']:.2f}, chrF {s['chrf']:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
