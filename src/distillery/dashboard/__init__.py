"""The project dashboard: a run registry over every run dir and a static HTML site built from it.

``registry.py``  discovers run dirs (train / sweep / evaluate / export / score / anything else)
                 under the outputs folder and extra roots, and keeps one row per dir in SQLite,
                 re-reading only dirs whose files changed (see docs/dashboard.md).
``adapters.py``  the adapters in claim order (one small adapter per run kind: which dirs it
                 claims, which files it watches, and how it reads a dir into a JSON row):
                 ``runs.py`` (train / evaluate / other, via RunDir), ``sweeps.py``, ``exports.py``
                 (via ExportDir / Manifest), ``oracle.py`` (score dirs, the ledger);
                 ``common.py`` the Adapter type, shared readers and the file names no typed
                 class spells.
``site.py``      turns the rows into one self-contained HTML page (Plotly, inlined, no network).
``browser.py``   headless Chromium helpers (screenshots; the browser test).
``commands.py``  ``distillery dashboard``.
"""
