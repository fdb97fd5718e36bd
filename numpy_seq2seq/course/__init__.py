"""The course kit: the checks the assignments' graded cells run, their release and grading.

Imported only by the ``numpy-seq2seq course`` command and by the assignment notebooks
(course/source/, shipped here without solutions as ``released/``); nothing else in the package
imports it. Modules: ``exercises`` (``check``, ``evaluate``), ``ownership`` (own work only),
``functional_checks`` and ``decoding_checks`` (what each exercise's check does), ``grading``
(calling, comparing and messages), ``payoff`` (assignment 4), ``submissions`` (whose
notebook), ``notebooks`` (nbgrader's format and the release), ``answers`` (a student's answer
cells), ``autograde`` (``course grade``: the checks run in the grader's process),
``sandbox``, ``worker`` and ``wire`` (the separate process that runs a student's code, and the
data that crosses), ``fingerprint`` (whether the package's files changed while a notebook was
graded), ``commands`` (``course release`` and ``course grade``). See
course/README.md and docs/architecture.md.
"""
