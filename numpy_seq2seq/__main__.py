"""``python -m numpy_seq2seq``: the same as the ``numpy-seq2seq`` command."""

from .cli import main

raise SystemExit(main())
