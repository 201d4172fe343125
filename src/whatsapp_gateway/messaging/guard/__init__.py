"""The send guard.

- ``checks.py``: small ordered checks, each allowing or returning a typed block; ``run(ctx, checks)`` returns the
  first block or ``None``. The send service runs ``UNLOCKED_CHECKS``, computes the risk score, then locks the
  account's log row and runs ``LOCKED_CHECKS`` against fresh counts, so limits hold across any number of web
  processes.
- ``risk.py``: the risk score: the content classifier's verdict plus the bulk-sending signals.
- ``classifier.py``, ``signals.py``, ``textfeatures.py``: the content classifier (utility, authentication or
  marketing), plain Python with no Django dependency, so the fitting script and the benchmark can use it alone.
"""
