"""The model the course ships to grade the decoders (numpy_seq2seq/course/dates_model.npz):
``python course/make_model.py`` reproduces it byte for byte with the current code, and what
course/UPKEEP.md says about it is what the file holds.

When a change to the library changes training (its initialisation, say), the first test fails:
run ``python course/make_model.py``, commit the new file and update the README's figures (the
second test says which). The decoders' checks compare a student's decoder with the library's on
whatever model is shipped, so no check depends on which model that is.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from numpy_seq2seq.checkpoint import load_checkpoint
from numpy_seq2seq.course.decoding_checks import MODEL_FILE, graded_sources, shipped_model
from numpy_seq2seq.decoding import beam_search, greedy_decode

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "numpy_seq2seq" / "course" / MODEL_FILE
README = (ROOT / "course" / "UPKEEP.md").read_text(encoding="utf-8")


def test_make_model_reproduces_the_shipped_file(tmp_path):
    out = tmp_path / MODEL_FILE
    done = subprocess.run([sys.executable, str(ROOT / "course" / "make_model.py"), "--out",
                           str(out)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    made, shipped = np.load(out), np.load(SHIPPED)
    differ = [k for k in shipped.files if k not in made.files or
              not np.array_equal(made[k], shipped[k])]
    assert not differ and sorted(made.files) == sorted(shipped.files), (
        f"course/make_model.py no longer makes {SHIPPED.name} (differs in {differ}): run "
        "python course/make_model.py, commit the file and update course/UPKEEP.md")
    assert out.read_bytes() == SHIPPED.read_bytes()


def test_the_readme_describes_the_shipped_model():
    model, _, _, extra = load_checkpoint(SHIPPED)
    section = README[README.index("## The shipped model"):]
    section = section[:section.index("\n## ", 3)]
    said = re.search(r"\((\d+) KB, ([\d,]+) parameters", section)
    assert said, "the README should give the file's size and parameter count"
    assert int(said[1]) == round(SHIPPED.stat().st_size / 1024)
    assert said[2] == f"{model.num_params():,}"
    assert f"{100 * extra['held_out_exact_match']:.1f} % held-out exact match" in section


def test_half_the_graded_sources_split_greedy_and_beam():
    """What the model is for: on 8 of the 16 graded dates beam search (K 3) and greedy decoding
    give different outputs, so a decoder that is not the library's shows it."""
    model = shipped_model()[0]
    src = graded_sources()
    greedy, beam = greedy_decode(model, src), beam_search(model, src, beam=3)
    differ = [list(g.tokens) != list(b.tokens) for g, b in zip(greedy, beam)]
    assert differ[:8] == [True] * 8 and len(differ) == 16
