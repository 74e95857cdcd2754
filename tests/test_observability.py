"""Dashboards and rules as code: regenerating gives the committed files, every name exists, rules pass promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from golemline.observability import generate, names
from golemline.observability.dashboards import DASHBOARDS, queries, to_json, uid_of
from golemline.observability.rules import rule_groups

ROOT = Path(__file__).resolve().parents[1]
PROMTOOL = shutil.which("promtool")
DCGM_CSV = ROOT / "tests" / "schemas" / "dcgm" / "default-counters.csv"
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package `prometheus`; "
                                                             ".ci/run installs it)")


def test_committed_files_match_the_generator() -> None:
    assert generate.main(["--check"]) == 0


def test_dashboards_have_stable_uids_units_and_a_datasource_variable() -> None:
    assert [uid_of(d) for d in DASHBOARDS] == ["golemline-pipeline", "golemline-gpu", "golemline-cost",
                                               "golemline-quality"]
    for dashboard in DASHBOARDS:
        body = to_json(dashboard)
        assert body["tags"] == ["golemline"]
        variable = body["templating"]["list"][0]
        assert (variable["name"], variable["label"], variable["type"], variable["query"]) == (
            "datasource", "Prometheus", "datasource", "prometheus")
        ids = [p["id"] for p in body["panels"]]
        assert len(ids) == len(set(ids))
        for panel in body["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["fieldConfig"]["defaults"]["unit"]
            assert panel["targets"] and all(t["expr"] for t in panel["targets"])
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def _golemline_names(text: str) -> set[str]:
    return set(re.findall(r"\bgolemline_[a-z_]+", text))


def test_every_metric_name_used_is_exported() -> None:
    exported = {getattr(names, a) for a in dir(names) if a.isupper() and isinstance(getattr(names, a), str)}
    exported |= set(names.SIGNALS.values())
    families = {e.removesuffix("_total") for e in exported}
    used = set()
    for dashboard in DASHBOARDS:
        used |= {n for q in queries(to_json(dashboard)) for n in _golemline_names(q)}
    used |= _golemline_names(str(rule_groups()))
    unknown = {u for u in used if u not in exported and re.sub(r"_(bucket|sum|count|total)$", "", u) not in families}
    assert unknown == set()


def test_dcgm_names_match_dcgm_exporter_defaults() -> None:
    defaults = {line.split(",")[0].strip() for line in DCGM_CSV.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert set(names.DCGM) <= defaults
    used = set()
    for dashboard in DASHBOARDS:
        used |= {n for q in queries(to_json(dashboard)) for n in re.findall(r"\bDCGM_[A-Z_]+", q)}
    assert used and used <= defaults


@needs_promtool
def test_promtool_check_rules() -> None:
    result = subprocess.run([str(PROMTOOL), "check", "rules", "dashboards/rules/golemline.rules.yaml"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in rule_groups()['groups'])} rules found" in result.stdout


@needs_promtool
def test_promtool_unit_tests_fire_and_stay_quiet() -> None:
    result = subprocess.run([str(PROMTOOL), "test", "rules", "tests/promtool/golemline.rules.test.yaml"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
