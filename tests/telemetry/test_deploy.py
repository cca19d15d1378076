"""The dashboard and the alert rules in deploy/ parse, and every query in them names only metrics
smsq exports (smsq.telemetry.names), so a renamed metric cannot leave an empty panel or a silent
alert behind."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smsq.telemetry.names import exported_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
METRIC = re.compile(r"\bsmsq_[a-z0-9_]+\b")
REQUIRED_ALERTS = {
    "SmsqHighLaneOldestOver30s",
    "SmsqCircuitOpenOver5m",
    "SmsqProviderRateLimited",
    "SmsqDeadLettersGrowing",
    "SmsqDeliveryReportLag",
}


def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "smsq.json").read_text())


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def check_query(expr: str) -> set[str]:
    named = set(METRIC.findall(expr))
    assert named, f"names no smsq metric: {expr}"
    assert named <= exported_names(), f"not exported by smsq: {sorted(named - exported_names())}"
    assert expr.count("(") == expr.count(")"), f"unbalanced: {expr}"
    return named


def test_every_dashboard_query_names_an_exported_metric() -> None:
    panels = dashboard()["panels"]
    assert len(panels) >= 10
    used: set[str] = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= check_query(target["expr"])
    # The figures all have a panel.
    for needed in ("smsq_lane_depth", "smsq_lane_oldest_age_seconds", "smsq_circuit_open",
                   "smsq_provider_rate_limited_total", "smsq_delivery_report_lag_seconds_bucket",
                   "smsq_campaign_messages", "smsq_callbacks_total", "smsq_recoveries_total",
                   "smsq_limiter_wait_seconds_bucket", "smsq_schedule_lateness_seconds_bucket"):  # fmt: skip
        assert needed in used, needed


def test_every_alert_rule_names_an_exported_metric() -> None:
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    for rule in rules:
        check_query(rule["expr"])
        assert rule["annotations"]["summary"]


@pytest.mark.parametrize("bad", ["smsq_lane_depht", "rate(smsq_messages[5m])", "sum(smsq_lane_depth"])
def test_the_check_catches_a_wrong_query(bad: str) -> None:
    with pytest.raises(AssertionError):
        check_query(bad)


def test_prometheus_loads_the_rules_and_scrapes_smsq() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"


def test_docker_compose_wires_prometheus_and_grafana_to_these_files() -> None:
    compose = yaml.safe_load((DEPLOY.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["metrics"]["command"][:1] == ["metrics"]
    mounts = [
        volume.split(":")[0] for name in ("prometheus", "grafana") for volume in services[name]["volumes"]
    ]
    for source in mounts:
        if source.startswith("./"):
            assert (DEPLOY.parent / source).exists(), source
    assert "./deploy/prometheus/alerts.yml" in mounts and "./deploy/grafana/dashboards" in mounts
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (target,) = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert target == "metrics:9808"
