"""The crash test: ``kill -9`` the broker under load and prove that nothing it
acknowledged is lost, reused or shown twice (``make crash-test``, docs/crash-test.md).

Parts: :mod:`crash.load` (one load process), :mod:`crash.records` (what each process
writes down), :mod:`crash.driver` (the kills, the restarts, the end),
:mod:`crash.checks` (the counts, pure), :mod:`crash.report` (the lines printed).
"""
