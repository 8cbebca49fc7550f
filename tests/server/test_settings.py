"""Settings come from ANDON_* variables, refuse bad values plainly, and match the table in docs/server.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from andon.errors import ConfigError
from andon.server.settings import Settings, settings_table

DOCS = Path(__file__).parents[2] / "docs" / "server.md"


def test_defaults_need_no_configuration() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.max_body_bytes) == ("127.0.0.1", 8787, 1024 * 1024)
    assert settings.database_url is None and not settings.metrics_public and not settings.secure_cookies


def test_environment_and_overrides() -> None:
    env = {
        "ANDON_PORT": "9000",
        "ANDON_MAX_BODY_BYTES": "2048",
        "ANDON_SECURE_COOKIES": "true",
        "ANDON_METRICS_PUBLIC": "1",
        "ANDON_DATABASE_URL": "postgresql://andon@db/andon",
        "ANDON_SESSION_HOURS": "",  # empty means unset
    }
    settings = Settings.from_env(env, port=9100, host=None)
    assert settings.port == 9100, "an explicit option beats the environment"
    assert settings.max_body_bytes == 2048 and settings.secure_cookies and settings.metrics_public
    assert settings.database_url == "postgresql://andon@db/andon" and settings.session_hours == 12


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ANDON_PORT": "http"}, "ANDON_PORT='http' is not a whole number"),
        ({"ANDON_MAX_BODY_BYTES": "0"}, "ANDON_MAX_BODY_BYTES=0 is too small"),
        ({"ANDON_SECURE_COOKIES": "maybe"}, "ANDON_SECURE_COOKIES='maybe' is not a boolean"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_docs_settings_table_matches_the_code() -> None:
    assert settings_table() in DOCS.read_text(), "docs/server.md: paste the output of settings_table()"
