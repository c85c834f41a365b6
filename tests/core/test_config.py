import subprocess
import sys
from pathlib import Path

import pytest

from app.config import SETTINGS, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_give_sqlite_under_instance_and_a_generated_secret(tmp_path):
    config = load_config({}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'medtech.db'}"
    key = (tmp_path / "secret_key").read_text()
    assert config["SECRET_KEY"] == key and len(key) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # owner-only
    # The second start reuses the key: sessions survive a restart.
    assert load_config({}, tmp_path)["SECRET_KEY"] == key


def test_environment_values_are_parsed(tmp_path):
    config = load_config({"LOGIN_MAX_FAILURES": "7", "OFFICE_APP_HOSTS": "https://a.example, https://b",
                          "DATABASE_URL": "postgresql://u@h/db", "FORCE_HTTPS_COOKIES": "yes"}, tmp_path)
    assert config["LOGIN_MAX_FAILURES"] == 7
    assert config["OFFICE_APP_HOSTS"] == ["https://a.example", "https://b"]
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://u@h/db"
    assert config["FORCE_HTTPS_COOKIES"] is True


@pytest.mark.parametrize("name,value", [
    ("LOGIN_MAX_FAILURES", "five"), ("DATABASE_URL", "not a url"), ("FORCE_HTTPS_COOKIES", "maybe"),
    ("DEFAULT_LOCALE", "fr"), ("REDIS_URL", "http://localhost"), ("SECRET_KEY", "short"),
])
def test_malformed_setting_is_refused_with_its_name(tmp_path, name, value):
    with pytest.raises(ConfigError) as err:
        load_config({name: value}, tmp_path)
    assert err.value.name == name
    assert name in str(err.value)


def test_cli_refuses_to_start_naming_the_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MEDTECH_INSTANCE": str(tmp_path), "LOGIN_LOCK_MINUTES": "-3"}
    result = subprocess.run([sys.executable, "-m", "app.cli", "routes"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "LOGIN_LOCK_MINUTES" in result.stderr
    assert "Traceback" not in result.stderr


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert not missing, f"README configuration reference lacks {missing}"
