"""The web console: server-rendered Jinja pages over the same services as the /v1 API, one CSS file."""

from pathlib import Path

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
