"""The command line, one of the two interfaces (the other is HTTP): ``renkei`` is :data:`api.cli.main.app`, and each
group of commands has its module (``bench``, ``db``, ``feedback``, ``model``, ``records``, ``serve``), mounted by
``main``. This file imports nothing, so ``python -m api.cli.serve`` starts without the rest of the command line."""
