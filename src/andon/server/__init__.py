"""The Andon server: REST API under /v1, the web console, /metrics and /healthz.

Importing this package loads nothing heavy; ``andon.server.app.create_app`` builds the FastAPI app.
"""
