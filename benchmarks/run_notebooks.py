"""Run every teaching notebook top to bottom and report its time, peak memory and asserts.

    python benchmarks/run_notebooks.py --budget ci                 # the test suite's budget
    python benchmarks/run_notebooks.py --budget full --seed 1      # the text's budget, seed 1
    python benchmarks/run_notebooks.py --budget full --only 04 05 --keep runs/   # keep outputs

Each notebook runs on a fresh kernel (this interpreter, as in tests/kernels.py) with
``NUMPY_SEQ2SEQ_BUDGET`` set and, with ``--seed``, ``NUMPY_SEQ2SEQ_SEED`` (the notebooks read
it for the seed of their data, initialisation and batch order). Every ``assert`` statement is
rewritten to record its outcome instead of stopping the cell, so one run reports every assert,
including those after a failing one; a cell that raises anything else is reported as an error
and the run goes on.

The report gives, per notebook: the wall time, the kernel's CPU time (user + system), its peak
resident memory, the BLAS kernel OpenBLAS chose (threadpoolctl's ``architecture``: run the
script under ``OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512`` for "pinned", in the plain
environment for "unpinned" — this script never sets either variable), and each assert that
failed with its cell and source line. ``--json FILE`` writes all of it, every assert included.

This is a benchmark, not a test: it exits 1 if an assert failed or a cell raised, so a shell
loop can stop, and prints the table either way.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbclient.util import run_sync

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
sys.path.insert(0, str(ROOT / "tests"))
from kernels import notebook_client  # noqa: E402  (the kernel is this interpreter)

CELL_TIMEOUT = 3600  # seconds; the full budget's longest cell takes about a minute
MARK = "@@run_notebooks@@"  # prefixes the lines the injected cells print for this script

SETUP = f"""\
import json as _rn_json
_RN_ASSERTS = {{}}
def _rn_assert(ok, cell, line, source, message=None):
    key = f"{{cell}}:{{line}}"
    entry = _RN_ASSERTS.setdefault(key, {{"cell": cell, "line": line, "source": source,
                                         "passed": 0, "failed": 0, "message": None}})
    if ok:
        entry["passed"] += 1
    else:
        entry["failed"] += 1
        entry["message"] = None if message is None else str(message)[:300]
        print("{MARK} assert failed", key, source, "|", entry["message"])
"""

REPORT = f"""\
import resource as _rn_resource, threadpoolctl as _rn_tp
_rn_usage = _rn_resource.getrusage(_rn_resource.RUSAGE_SELF)
_rn_blas = [i.get("architecture") for i in _rn_tp.threadpool_info()
            if i.get("internal_api") == "openblas"]
print("{MARK}", _rn_json.dumps({{"asserts": list(_RN_ASSERTS.values()),
    "cpu_s": _rn_usage.ru_utime + _rn_usage.ru_stime, "peak_mib": _rn_usage.ru_maxrss / 1024,
    "blas": _rn_blas}}))
"""


class _RecordAsserts(ast.NodeTransformer):
    """``assert test, msg`` -> ``_rn_assert(test, cell, line, "assert …", msg)``."""

    def __init__(self, cell: int, source: str) -> None:
        self.cell, self.source = cell, source

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        text = ast.get_source_segment(self.source, node) or ast.unparse(node)
        args = [node.test, ast.Constant(self.cell), ast.Constant(node.lineno),
                ast.Constant(" ".join(text.split()))]
        if node.msg is not None:
            args.append(node.msg)
        call = ast.Call(ast.Name("_rn_assert", ast.Load()), args, [])
        return ast.copy_location(ast.Expr(call), node)


def instrumented(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose asserts record and go on, with a setup and a report cell."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    tm = TransformerManager()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        python = tm.transform_cell(cell.source)  # magics become get_ipython() calls
        tree = _RecordAsserts(i, python).visit(ast.parse(python))
        cell.source = ast.unparse(ast.fix_missing_locations(tree))
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    return nb


def run(path: Path, keep: Path | None) -> dict:
    """Execute one notebook; return its wall time, kernel figures, asserts and errors."""
    nb = instrumented(nbformat.read(path, as_version=4))
    start = time.perf_counter()
    client = notebook_client(nb, NOTEBOOK_DIR, timeout=CELL_TIMEOUT, allow_errors=True)
    try:
        client.execute()
    finally:  # the client does not own the kernel manager, so it leaves the kernel running
        if client.km is not None and client.km.has_kernel:
            run_sync(client.km.shutdown_kernel)(now=True)
    wall = time.perf_counter() - start
    report, errors = {}, []
    for i, cell in enumerate(nb.cells[1:-1]):  # the notebook's own cell numbers
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                errors.append(f"cell {i}: {out.ename}: {out.evalue}"[:300])
    # one printed line, but a busy kernel may send it in several stream messages: join them
    text = "".join(out.get("text", "") for out in nb.cells[-1].get("outputs", []))
    for line in text.splitlines():
        if line.startswith(MARK + " {"):
            report = json.loads(line[len(MARK) + 1:])
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nb.cells = nb.cells[1:-1]
        nbformat.write(nb, keep / path.name)
    return {"notebook": path.stem, "wall_s": wall, "errors": errors, **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("ci", "full"), required=True)
    parser.add_argument("--seed", type=int, default=None,
                        help="NUMPY_SEQ2SEQ_SEED for the kernels (default: the notebooks' own, 0)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NN",
                        help="notebook numbers to run, e.g. 04 05 (default: all)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="write the executed notebooks (with outputs) to DIR")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write every figure and every assert's outcome to FILE")
    args = parser.parse_args(argv)

    paths = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if p.name[:2] in args.only]
    os.environ.update({"NUMPY_SEQ2SEQ_BUDGET": args.budget, "MPLBACKEND": "Agg"})
    if args.seed is not None:
        os.environ["NUMPY_SEQ2SEQ_SEED"] = str(args.seed)
    results = []
    print(f"budget {args.budget}, seed {args.seed if args.seed is not None else 'default'}")
    print(f"{'notebook':28s} {'wall s':>7s} {'cpu s':>6s} {'peak MiB':>8s}  "
          f"{'asserts':>9s}  blas")
    for path in paths:
        r = run(path, args.keep)
        results.append(r)
        asserts = r.get("asserts", [])
        failed = [a for a in asserts if a["failed"]]
        print(f"{r['notebook']:28s} {r['wall_s']:7.1f} {r.get('cpu_s', float('nan')):6.1f} "
              f"{r.get('peak_mib', float('nan')):8.0f}  "
              f"{len(asserts) - len(failed):3d}/{len(asserts):<3d} ok  "
              f"{','.join(r.get('blas', [])) or '?'}", flush=True)
        for a in failed:
            print(f"    FAILED cell {a['cell']} line {a['line']}: {a['source']}"
                  + (f"  ({a['message']})" if a["message"] else ""))
        for e in r["errors"]:
            print(f"    ERROR {e}")
    total = sum(r["wall_s"] for r in results)
    print(f"{'total':28s} {total:7.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"budget": args.budget, "seed": args.seed,
                                         "results": results}, indent=1), encoding="utf-8")
    bad = any(r["errors"] or any(a["failed"] for a in r.get("asserts", [])) for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
