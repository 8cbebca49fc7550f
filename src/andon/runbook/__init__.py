"""The runbook as code: schema, loading with positioned errors, readiness lint, rendering, revisions.

Import the submodules you need (``andon.runbook.schema``, ``andon.runbook.load`` …); this package
imports nothing on its own so that ``import andon`` stays light.
"""
