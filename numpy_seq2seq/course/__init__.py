"""The course kit: the checks the assignments' graded cells run, their release and grading.

Imported only by the ``numpy-seq2seq course`` command and by the assignment notebooks
(course/source/, shipped here as ``sources``); nothing else in the package imports it. Modules:
``exercises`` (``check``, ``evaluate``), ``functional_checks`` and ``decoding_checks`` (what
each exercise's check does), ``grading`` (comparing and messages), ``payoff`` (assignment 4),
``notebooks`` (nbgrader's format and the release), ``autograde`` and ``commands`` (``course
grade`` and ``course release``). See course/README.md.
"""
