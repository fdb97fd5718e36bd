"""Build the Tatoeba pairs shipped in numpy_seq2seq/data/pairs/ from the pair files.

    python benchmarks/make_tatoeba_data.py FOLDER   # the folder holding eng-fra.txt and eng-kor.txt

Keeps the lines whose two sentences have at most SHIPPED_MAX_WORDS word tokens each (the word
tokenizer's count, punctuation included), in file order, without exact duplicates, and with the
attribution column where the file has one; drops eng-fra.txt's last line, which the source file
cut mid-sentence. Writes gzip with no name and no time stamp, so the same input gives the same
bytes.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from numpy_seq2seq.data.tatoeba import DATA_DIR, FILES, SHIPPED_MAX_WORDS
from numpy_seq2seq.data.tokenize import Tokenizer

CUT_LAST_LINE = {"eng-fra.txt"}  # its last line stops mid-sentence (the folder's README)


def build(source: Path, name: str) -> tuple[int, int]:
    word = Tokenizer("word")
    lines = source.read_text(encoding="utf-8").splitlines()
    if source.name in CUT_LAST_LINE:
        lines = lines[:-1]
    kept, seen = [], set()
    for line in lines:
        fields = line.split("\t")
        pair = tuple(f.strip() for f in fields[:2])
        if pair in seen or any(len(word.tokenize(s)) > SHIPPED_MAX_WORDS for s in pair):
            continue
        seen.add(pair)
        kept.append("\t".join([*pair, *fields[2:3]]) + "\n")
    with open(DATA_DIR / name, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write("".join(kept).encode("utf-8"))
    return len(lines), len(kept)


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    for source_name, name in FILES.values():
        read, kept = build(folder / source_name, name)
        print(f"{name}: {kept:,} of {read:,} pairs, {(DATA_DIR / name).stat().st_size:,} bytes")
