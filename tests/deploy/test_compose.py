"""deploy/compose.yaml: the app on the official MongoDB image with a volume, Prometheus and Grafana behind
a profile, every file it mounts present, every setting it sets a real one; and docker-compose itself
(Debian's, which validates without a container engine) accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def seconds(duration: str) -> int:
    """A compose duration such as `11m`, `90s` or `1m30s`."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and any(parts.groups()), duration
    hours, minutes, secs = (int(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def test_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"app", "mongo", "prometheus", "grafana"}
    # `up` without a profile starts the app and its database; monitoring is opt-in.
    assert "profiles" not in services["app"] and "profiles" not in services["mongo"]
    assert services["prometheus"]["profiles"] == ["monitoring"] == services["grafana"]["profiles"]
    assert services["app"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (DEPLOY / services["app"]["build"]["context"] / "Dockerfile").is_file()


def test_mongo_is_the_official_image_on_a_named_volume_with_a_health_check(compose: dict[str, Any]) -> None:
    mongo = compose["services"]["mongo"]
    assert re.fullmatch(r"mongo:\d+(\.\d+)*", mongo["image"]), "the official image, pinned to a version"
    volume, _, target = mongo["volumes"][0].partition(":")
    assert target == "/data/db" and volume in compose["volumes"]
    assert "mongosh" in mongo["healthcheck"]["test"] and "ping" in " ".join(mongo["healthcheck"]["test"])
    # The app waits for a database that answers, not one that merely started.
    assert compose["services"]["app"]["depends_on"]["mongo"] == {"condition": "service_healthy"}


def test_app_settings_are_real_settings_and_the_stop_outlasts_the_drain(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    names = set(app["environment"])
    assert names <= {name.upper() for name in Settings.model_fields}, names
    assert app["environment"]["MONGODB_URI"] == "mongodb://mongo:27017/"
    drain_default = Settings.model_fields["drain_timeout_s"].default
    assert seconds(app["stop_grace_period"]) > drain_default
    assert app["env_file"] == "../.env"


def test_env_example_names_only_real_settings() -> None:
    """What compose hands the app from .env: every name in .env.example (set or commented) is a setting."""
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert names and names <= {name.upper() for name in Settings.model_fields}, names - {
        name.upper() for name in Settings.model_fields
    }


def test_monitoring_mounts_our_files_and_secrets(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_dir(), volume
            else:
                assert source in compose["volumes"], volume
    assert "/etc/prometheus:ro" in services["prometheus"]["volumes"][0]
    assert (DEPLOY / "prometheus" / "prometheus.yml").is_file()
    assert services["prometheus"]["secrets"] == ["metrics_token"]
    grafana_password = services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert grafana_password == "/run/secrets/grafana_admin_password"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")  # git-ignored (deploy/secrets/.gitignore)
    ignored = (DEPLOY / "secrets" / ".gitignore").read_text().splitlines()
    assert "*" in ignored


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    assert found, "docker-compose is missing: ./setup.sh install installs Debian's package"
    return found


def deployment_copy(tmp_path: Path, *, with_env: bool) -> Path:
    """The repository as a deployer has it: deploy/, the Dockerfile, and (optionally) .env from the example."""
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(ROOT / "Dockerfile", tmp_path / "Dockerfile")
    if with_env:
        shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    return tmp_path / "deploy" / "compose.yaml"


def run_compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [docker_compose(), "-p", "voice-agent", "-f", str(file), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=file.parent.parent)


def test_docker_compose_validates_it(tmp_path: Path) -> None:
    file = deployment_copy(tmp_path, with_env=True)
    result = run_compose(file, "--profile", "monitoring", "config")
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == {"app", "mongo", "prometheus", "grafana"}
    assert rendered["services"]["grafana"]["profiles"] == ["monitoring"]
    # .env reached the app; the compose file's own values win over it.
    environment = rendered["services"]["app"]["environment"]
    assert environment["TWILIO_PHONE_NUMBER"] == "+918000000000"
    assert environment["MONGODB_URI"] == "mongodb://mongo:27017/" and environment["ENVIRONMENT"] == "production"


def test_docker_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    """The validator is not a rubber stamp: a service with an unknown key, or a missing .env, is refused."""
    file = deployment_copy(tmp_path, with_env=False)
    missing_env = run_compose(file, "config")
    assert missing_env.returncode != 0 and ".env" in missing_env.stderr
    (tmp_path / ".env").write_text("")
    broken = yaml.safe_load(file.read_text())
    broken["services"]["mongo"]["healthcheck"]["intervall"] = "10s"
    file.write_text(yaml.safe_dump(broken))
    refused = run_compose(file, "config")
    assert refused.returncode != 0 and "intervall" in refused.stderr
