"""Synthetic data for tests, the benchmark and the committed sample (data/sample/).

Never imported at run time: nothing outside tests/, bench/ and data/ imports this package.
(The canary records a run checks its engines with come from ``redactors.evalset``.)
"""
