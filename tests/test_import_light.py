"""`import andon` must stay light: no server, no database layer, no CLI."""

import subprocess
import sys


def test_import_andon_loads_neither_server_nor_database_code() -> None:
    code = (
        "import sys, andon; "
        "heavy = sorted(m for m in ('fastapi', 'sqlalchemy', 'uvicorn', 'starlette', 'alembic', 'psycopg', "
        "'andon.server', 'andon.cli') if m in sys.modules); print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
