"""Benchmarks and evaluation: every measurement of renkei, and the question sets they read.

The one place for code that measures (speed, memory, answer and extraction quality) or fits (``renkei fit``);
nothing here runs when the assistant answers. It lives under ``api`` because it drives every layer below,
up to the HTTP server. Modules, lightest first:

* ``paths``: where the question sets (``questions/``, package data) and the corpora are;
* ``question_sets``: the question file format, the suite file (each set over its own corpus);
* ``harness``: what the rest shares — knowledge bases over a corpus in a data dir of their own, timing and
  percentiles, the JSON report's envelope, the environment of a fresh ``renkei`` process;
* ``evaluation`` (``renkei eval``), ``fitting`` (``renkei fit``), ``extraction_eval`` and ``extraction_ner``
  (``renkei eval --extraction [--ner]``);
* ``ingest``, ``retrieval``, ``chat``, ``embed``, ``extraction``, ``backends``, ``load``: the benchmarks of
  ``renkei bench``, whose commands are in :mod:`api.cli.bench`.

Importing this package imports nothing else (:mod:`api.cli.bench` imports these modules when a command runs).
"""
