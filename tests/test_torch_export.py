"""numpy_seq2seq.torch_export: the way back after training in PyTorch, the twin's dropout places,
the encoder's packed and plain paths, clear errors, and torch staying out of ``import
numpy_seq2seq``. (Loss and gradient equality over every configuration: test_torch_oracle.py.)
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import numpy_seq2seq
from numpy_seq2seq.decoding import greedy_decode
from numpy_seq2seq.model import Seq2Seq

from conftest import randomize
from sizes import V_SRC, V_TGT, A, E, H

PACKAGE = Path(numpy_seq2seq.__file__).parent


def test_package_never_imports_torch():
    """Only torch_export.py imports torch, and importing every other module does not load it.

    Runs in a fresh interpreter: this test process may have imported torch already.
    """
    importers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "torch" or n.startswith("torch.") for n in names):
                importers.append(path.name)
    assert sorted(set(importers)) == ["torch_export.py"]
    code = (
        "import importlib, pkgutil, sys\n"
        "import numpy_seq2seq\n"
        "assert 'torch' not in sys.modules, 'import numpy_seq2seq loaded torch'\n"
        "for m in pkgutil.walk_packages(numpy_seq2seq.__path__, 'numpy_seq2seq.'):\n"
        "    if m.name not in ('numpy_seq2seq.torch_export', 'numpy_seq2seq.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "        assert 'torch' not in sys.modules, m.name + ' loaded torch'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# ---------------------------------------------------------------------------------------------
torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install '.[torch]')")

from numpy_seq2seq.torch_export import TorchSeq2Seq, from_torch, to_torch  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(rng, dtype=np.float64, **kw):
    model = Seq2Seq(V_SRC, V_TGT, embed_dim=E, hidden_dim=H, attention_dim=A, dtype=dtype, **kw)
    randomize(model.params, rng)
    return model


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_training_in_torch_comes_back(cell, rng, ragged_batch):
    """Three SGD steps in PyTorch, then from_torch: the NumPy model has the trained weights.

    Training makes torch's hidden-side biases nonzero, so this also proves that from_torch
    folds them into the NumPy model's single bias exactly.
    """
    src, tgt = ragged_batch
    model = _model(rng, cell=cell, attention="concat", bidirectional=True)
    module = to_torch(model)
    for _ in range(3):  # by hand: torch.optim's first step imports torch._dynamo (~5 s)
        module.zero_grad()
        module(src, tgt).backward()
        with torch.no_grad():
            for p in module.parameters():
                p -= 0.1 * p.grad
    assert module.encoder.bias_hh_l0.abs().min() > 0
    back = from_torch(module.eval())
    trained = module(src, tgt).item()
    assert abs(back.loss(src, tgt) - trained) <= 1e-10 * trained
    assert trained < model.loss(src, tgt)  # the steps did something
    hyps = greedy_decode(back, src, max_len=4)  # and our decoders run on it
    assert len(hyps) == len(src) and all(h.tokens.size <= 4 for h in hyps)


def test_dtype_follows_the_module(rng, ragged_batch):
    model = _model(rng, dtype=np.float32)
    module = to_torch(model)
    assert module.config == model.config and module.W_s.dtype == torch.float32
    module.double()
    back = from_torch(module)
    assert back.config["dtype"] == "float64" and back.params["W_s"].dtype == np.float64
    assert abs(back.loss(*ragged_batch) - module(*ragged_batch).item()) <= 1e-12


@pytest.mark.parametrize("kw", [dict(cell="lstm", bidirectional=True, reverse_source=True),
                                dict(cell="gru", attention="dot")])
def test_equal_length_sources_skip_packing_with_the_same_result(kw, rng):
    """The plain (unpacked) encoder call, which the benchmark times, is the packed one's twin."""
    model = _model(rng, **kw)
    module = to_torch(model)
    src = rng.integers(4, V_SRC, size=(3, 7))  # no padding
    tgt = np.array([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 10, 2, 0]])
    losses, grads = [], []
    for pack in (None, True):
        module.zero_grad()
        loss = module(torch.as_tensor(src), torch.as_tensor(tgt), pack=pack)
        loss.backward()
        losses.append(loss.item())
        grads.append(module.numpy_grads())
    assert abs(losses[0] - losses[1]) <= 1e-12 and abs(losses[0] - model.loss(src, tgt)) <= 1e-12
    for key, g in grads[0].items():
        assert np.allclose(g, grads[1][key], rtol=0, atol=1e-12), key


@pytest.mark.parametrize("attention", ["general", "bahdanau"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_dropout_sits_where_the_spec_puts_it(attention, num_layers, rng, ragged_batch):
    """Source embeddings, target embeddings, the output layer's input; between stacked layers.

    Built from a config, so it runs before Seq2Seq accepts num_layers and dropout.
    """
    src, tgt = ragged_batch
    config = dict(_model(rng).config, attention=attention, num_layers=num_layers, dropout=0.5)
    torch.manual_seed(int(rng.integers(1 << 30)))  # the dropout masks
    module = TorchSeq2Seq(config)
    seen = []
    module.dropout.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    N, S = src.shape
    module(src, tgt)
    assert seen == [(N, S, E), (N, tgt.shape[1] - 1, E), (N, tgt.shape[1] - 1, H)]
    between = 0.5 if num_layers > 1 else 0.0
    assert module.encoder.dropout == module.decoder.dropout == between
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.as_tensor(rng.normal(0, 0.5, tuple(p.shape))))
        train = [module.train()(src, tgt).item() for _ in range(2)]
        evaluation = [module.eval()(src, tgt).item() for _ in range(2)]
    assert train[0] != train[1] and evaluation[0] == evaluation[1]


def test_bad_input_gets_a_clear_error(rng, ragged_batch):
    src, tgt = ragged_batch
    model = _model(rng)
    module = to_torch(model)
    with pytest.raises(TypeError, match="expects a numpy_seq2seq.Seq2Seq, got dict"):
        to_torch(model.params)
    with pytest.raises(TypeError, match="expects a TorchSeq2Seq"):
        from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="src must be a 2-D .* integer token ids"):
        module(src.astype(np.float64), tgt)
    with pytest.raises(ValueError, match=r"need the same N"):
        module(src, tgt[:2])
    with pytest.raises(ValueError, match="pack=False needs sources of equal length"):
        module(src, tgt, pack=False)
    with pytest.raises(ValueError, match="missing \\['W_a'\\]"):
        module.load_numpy_params({k: v for k, v in model.params.items() if k != "W_a"})
    with pytest.raises(ValueError, match="wrong shape \\[\\('W_s'"):
        module.load_numpy_params({**model.params, "W_s": model.params["W_s"].T})
    with pytest.raises(ValueError, match="input_feeding needs a Luong score"):
        TorchSeq2Seq(dict(model.config, attention="bahdanau", input_feeding=True))
    with pytest.raises(RuntimeError, match="no gradients yet"):
        to_torch(model).numpy_grads()
    with pytest.raises(ValueError, match="dtype must be one of"):
        from_torch(to_torch(model).half())


# ---------------------------------------------------------------------------------------------
# docs/torch_export.md's example

DOC = PACKAGE.parent / "docs" / "torch_export.md"


def _doc_example() -> tuple[str, list[str]]:
    """The example's code and the lines the doc says it printed."""
    text = DOC.read_text(encoding="utf-8").split("## Example", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    printed = text.split("It printed", 1)[1].split("```\n", 2)[1]
    return code, printed.splitlines()


def _numbers(line: str) -> list[float]:
    """The numbers after the label: ``same loss: 0.1 (NumPy) 0.1 (PyTorch)`` -> [0.1, 0.1]."""
    return [float(w) for w in line.split(":", 1)[1].split() if w[0].isdigit()]


def _ranges(text: str) -> dict[str, tuple[float, float]]:
    """The doc's measured ranges: ``NumPy, 2 epochs: 0.89–0.95`` -> {"NumPy, 2 epochs": (..)}."""
    said = text.split("Over seeds", 1)[1].split("\n\n", 1)[0]
    return {m[1]: (float(m[2]), float(m[3]))
            for m in re.finditer(r"`([^`:]+):` (\d\.\d+)–(\d\.\d+)", said)}


def test_doc_example_prints_what_the_doc_says(capsys):
    """The example, run as written, prints the doc's four lines: the same loss in NumPy and in
    PyTorch (to 1e-5, on any machine), ``fedcba``, and exact matches inside the ranges the doc
    measured over seeds and both BLAS kernel settings (a trained number is one draw: no test
    compares it with one machine's figure)."""
    from numpy_seq2seq.threads import blas_threads

    code, printed = _doc_example()
    with blas_threads(1):  # the example's evaluate leaves BLAS alone; keep the test on one core
        exec(compile(code, str(DOC), "exec"), {})
    got = capsys.readouterr().out.splitlines()
    where = f"the doc says {printed}, the example printed {got}"
    assert [line.split(":")[0] for line in got] == [line.split(":")[0] for line in printed], where
    numpy_em, loss, torch_em = (_numbers(line) for line in got[:3])
    assert abs(loss[0] - loss[1]) <= 1e-5 * loss[0], where
    assert got[3] == printed[3] == "fedcba", where
    ranges = _ranges(DOC.read_text(encoding="utf-8"))
    for label, value in (("NumPy, 2 epochs", numpy_em[0]), ("+3 epochs in PyTorch", torch_em[0])):
        low, high = ranges[label]
        assert low <= value <= high, f"{label}: {value} outside the doc's {low}–{high}; {where}"


def test_the_doc_ranges_are_read():
    """The twin: the ranges the test checks are found, and a stale one would be caught."""
    ranges = _ranges(DOC.read_text(encoding="utf-8"))
    assert set(ranges) == {"NumPy, 2 epochs", "+3 epochs in PyTorch"}
    assert all(0 < low <= high <= 1 for low, high in ranges.values())
