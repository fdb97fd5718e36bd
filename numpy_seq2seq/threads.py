"""How many threads BLAS may use for numpy_seq2seq's matrix products.

The default is one. At teaching sizes each product is small (e.g. (128, 256) @ (256, 1024) per
time step), so a second thread saves little even on an idle machine, and on a shared one the
threads of two busy processes oversubscribe the cores: on our 2-core machine under load a
training step with OpenBLAS's default of 2 threads was measured 4-20x slower than with 1
(``benchmarks/bench_step.py --threads 1 2`` measures it on yours). ``train`` (its end-of-epoch
evaluation included) and the command line apply the limit while they run and restore the previous
setting afterwards; ``evaluate`` and the decoders called on their own do not: wrap them in
``blas_threads``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from .checks import POSITIVE_INT

DEFAULT_THREADS = 1


def blas_threads(n: int | None = DEFAULT_THREADS) -> AbstractContextManager:
    """A context manager that limits BLAS to ``n`` threads (None: leave the setting alone).

    Examples
    --------
    >>> with blas_threads(1):
    ...     loss, grads = model.loss_and_grads(src, tgt)  # doctest: +SKIP
    """
    if n is None:
        return nullcontext()
    POSITIVE_INT.check("threads", n, or_none=True)
    from threadpoolctl import threadpool_limits  # imported late: it inspects loaded libraries

    return threadpool_limits(limits=n, user_api="blas")
