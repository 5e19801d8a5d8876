"""deploy/prometheus and deploy/grafana: promtool accepts the scrape config and the alert rules and passes
their unit tests; and every metric the alerts and the dashboard name is one the real app exports on
/metrics (scraped with METRICS_API_TOKEN, as Prometheus does), with a suffix its type really has."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services import metrics
from tests.stack import live_stack

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
METRICS_TOKEN = "metrics-reader-token-0123456789"
# Sample suffixes per metric type (the exposition format's names for one family's samples).
SUFFIXES = {"counter": {"_total", "_created"}, "gauge": {""}, "histogram": {"_bucket", "_count", "_sum", "_created"}}


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: ./setup.sh install installs Debian's `prometheus` package"
    return found


def run_promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_promtool_checks_the_scrape_config_and_its_rule_files(tmp_path: Path) -> None:
    """The whole check (rule files included) needs the token file to exist: point it at a temporary one."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics" and job["authorization"]["type"] == "Bearer"
    # Where compose mounts the `metrics_token` secret.
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    token = tmp_path / "metrics_token"
    token.write_text(METRICS_TOKEN)
    job["authorization"]["credentials_file"] = str(token)
    shutil.copy(PROMETHEUS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0 and "SUCCESS" in result.stdout + result.stderr, result.stdout + result.stderr
    assert "11 rules found" in result.stdout + result.stderr


def test_promtool_checks_and_unit_tests_the_alert_rules() -> None:
    checked = run_promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    rules["groups"][0]["rules"][0]["expr"] = "sum(rate(voice_calls_total[5m]) >"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    result = run_promtool("check", "rules", "alerts.yml", cwd=tmp_path)
    assert result.returncode != 0 and "parse error" in result.stdout + result.stderr


def alert_expressions() -> list[str]:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "voice-agent.json").read_text())
    return loaded


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def referenced(expressions: list[str]) -> dict[str, set[str]]:
    """Our metric names (`voice_*`) in PromQL expressions, with the label names their selectors match on."""
    found: dict[str, set[str]] = {}
    for expr in expressions:
        for name, selector in re.findall(r"\b(voice_[a-z0-9_]+)\b(?:\{([^}]*)\})?", expr):
            labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", selector))
            found.setdefault(name, set()).update(labels)
    return found


def family_of(sample_name: str, types: dict[str, str]) -> tuple[str, str] | None:
    """(family, suffix) if `sample_name` is a sample the exported families really produce."""
    for family, kind in types.items():
        for suffix in SUFFIXES[kind]:
            if sample_name == family + suffix:
                return family, suffix
    return None


@pytest.fixture(scope="module")
async def exported(mongo_uri: str) -> dict[str, str]:
    """{family: type} of what the running app serves on /metrics to the metrics token."""
    async with live_stack(mongo_uri, f"monitoring_{uuid.uuid4().hex[:12]}", metrics_api_token=METRICS_TOKEN) as stack:
        async with httpx.AsyncClient(base_url=stack.app_url) as client:
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            refused = await client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert response.status_code == 200 and refused.status_code == 401
    return {family.name: family.type for family in text_string_to_metric_families(response.text)}


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_named_is_exported_with_its_labels(exported: dict[str, str], source: str) -> None:
    expressions = alert_expressions() if source == "alerts" else dashboard_expressions()
    names = referenced(expressions)
    assert names, "no metric found: the parser is broken"
    unknown = sorted(name for name in names if family_of(name, exported) is None)
    assert unknown == [], f"{source} name metrics the app does not export: {unknown}"
    for name, labels in names.items():
        family, _ = family_of(name, exported) or (name, "")
        instrument = next(m for m in vars(metrics).values() if getattr(m, "_name", None) == family)
        assert labels <= set(instrument._labelnames), f"{name}: labels {labels - set(instrument._labelnames)}"


def test_the_cross_check_catches_a_wrong_name_or_suffix(exported: dict[str, str]) -> None:
    assert family_of("voice_turn_latency_seconds_bucket", exported) == ("voice_turn_latency_seconds", "_bucket")
    assert family_of("voice_calls_total", exported) == ("voice_calls", "_total")
    assert family_of("voice_active_calls", exported) == ("voice_active_calls", "")
    assert family_of("voice_active_calls_total", exported) is None  # a gauge has no _total
    assert family_of("voice_turn_latency_seconds", exported) is None  # a histogram's bare name is no sample
    assert family_of("voice_calls", exported) is None
    assert referenced(['sum by (x) (rate(voice_db_errors_total{operation="a"}[5m]))']) == {
        "voice_db_errors_total": {"operation"}
    }


def test_the_capacity_alert_divides_by_the_nodes_limit(exported: dict[str, str]) -> None:
    (capacity,) = [expr for expr in alert_expressions() if "voice_call_capacity" in expr]
    assert "voice_active_calls" in capacity and exported["voice_call_capacity"] == "gauge"
    assert metrics.CALL_CAPACITY._value.get() == 500  # make_settings' max_concurrent_calls, set at start-up


def test_dashboard_is_provisioned_against_the_provisioned_data_source() -> None:
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "voice-agent.yml").read_text())["providers"]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"  # where compose mounts dashboards/
    board = dashboard()
    assert board["uid"] == "voice-agent" and board["panels"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == source["uid"] and panel["targets"], panel["title"]
        assert all(target["datasource"]["uid"] == source["uid"] for target in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
