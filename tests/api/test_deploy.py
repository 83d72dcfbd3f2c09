"""deploy/: manifests parse, name only metrics a live server exports, and agree with the server's behaviour.

Metric names in the alert rules and the Grafana dashboard are checked against the real ``/metrics`` text of an app
built as the other API tests build it (fake engine, real runtime, real policy, real alert dispatcher), after
requests that create the labelled series. Linters that are not Python packages (promtool, kubectl) run when they
are on PATH and are skipped otherwise; deploy/README.md records their output.

``python -m tests.api.test_deploy --write-prometheusrule`` regenerates deploy/k8s/monitoring/prometheusrule.yaml
from deploy/prometheus/rules.yaml.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.alerts import AlertDispatcher
from server.app import build_app
from server.engines.fake import FakeEngine
from server.policy import PolicyConfig, hash_key, load_policy
from server.settings import ServerSettings
from tests.api.conftest import chat
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yaml"
DASHBOARD = DEPLOY / "grafana" / "steerserve.json"
PROMETHEUS_RULE = DEPLOY / "k8s" / "monitoring" / "prometheusrule.yaml"
METRIC = re.compile(r"\bsteerserve_[a-zA-Z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def k8s_objects(paths) -> list[dict]:
    return [d for p in paths for d in docs(p) if "kind" in d and "apiVersion" in d]


# -- (a) every YAML file parses; the kinds an operator needs are there ----------------------------------------------
def generated_from(k: Path) -> set[Path]:
    """Files a kustomization turns into ConfigMaps (the policy file, the render script): not manifests."""
    spec = docs(k)[0]
    return {k.parent / f for g in spec.get("configMapGenerator", []) for f in g.get("files", [])}


def test_every_yaml_file_under_deploy_parses():
    files = yaml_files()
    assert len(files) >= 10
    data = {f for k in DEPLOY.rglob("kustomization.yaml") for f in generated_from(k)}
    for p in files:
        ds = docs(p)
        assert ds, f"{p} is empty"
        for d in ds:
            assert isinstance(d, dict), p
            if p.parent.name in ("base", "gpu", "monitoring", "jobs") and p not in data:
                assert {"apiVersion", "kind"} <= d.keys(), f"{p}: a document without apiVersion/kind"
    kinds = {d["kind"] for d in k8s_objects(files)}
    assert kinds >= {"Deployment", "Service", "PersistentVolumeClaim", "PodDisruptionBudget", "ServiceMonitor",
                     "PrometheusRule", "Job", "Kustomization"}
    assert docs(RULES)[0]["groups"]


def test_kustomizations_only_name_files_that_exist():
    for k in DEPLOY.rglob("kustomization.yaml"):
        spec = docs(k)[0]
        paths = list(spec.get("resources", [])) + [p["path"] for p in spec.get("patches", [])]
        paths += [f for g in spec.get("configMapGenerator", []) for f in g.get("files", [])]
        for rel in paths:
            assert (k.parent / rel).exists(), f"{k}: {rel} does not exist"


# -- (b) metric names: every one used exists in a live /metrics ----------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def metrics_text(packs) -> str:
    """/metrics after requests that create every labelled series the fake engine can: a monitored request whose
    mandatory monitor fires (activation histogram, alert), a steered one (steered requests, positions), an attempt to
    turn the mandatory monitor off (denied alert), one past the admission bound (429), and a webhook that cannot be
    reached (sink failure, dropped alert)."""
    policy = PolicyConfig.model_validate({
        "steering": {"mandatory_monitors": ["safety/f0"]},
        "monitors": {"safety/f0": {"action": "flag", "threshold": -1000.0}},
        "alerts": {"log": False, "webhook": {"url": f"http://127.0.0.1:{_closed_port()}/alerts", "max_retries": 0,
                                             "timeout_s": 2}},
    })
    app = build_app(ServerSettings(max_num_seqs=1, max_waiting=0), FakeEngine(packs), policy=policy)
    registry = app.state.steer.metrics.registry
    with TestClient(app) as c:
        assert chat(c).status_code == 200
        assert chat(c, {"X-Steering": "topic/f0:add=1x"}).status_code == 200
        assert chat(c, {"X-Steering": "safety/f0:off"}).status_code == 403
        r = chat(c, n=2)  # two generations against a bound of one
        assert r.status_code == 429 and r.json()["error"]["code"] == "server_overloaded"
        wait_for(lambda: (registry.get_sample_value("steerserve_alerts_dropped_total") or 0) > 0,
                 "the unreachable webhook's alert counted as dropped", timeout=10)
        return c.get("/metrics").text


def exported_names(text: str) -> tuple[set[str], set[str], dict[str, str]]:
    """(every series name a query may use, names that have samples, family name -> type) from Prometheus text.
    A family with no samples yet still declares its series by its type: a counter `x` exports `x_total`, a
    histogram `x_bucket`, `x_count` and `x_sum`, a gauge `x`."""
    valid, sampled, types = set(), set(), {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        valid.update(fam.name + s for s in SUFFIXES.get(fam.type, ("",)))
        for s in fam.samples:
            sampled.add(s.name)
    return valid | sampled, sampled, types


def rule_exprs() -> list[str]:
    return [r["expr"] for g in docs(RULES)[0]["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[str]:
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in d["templating"]["list"] if v.get("type") == "query"]
    return exprs


def test_rules_and_dashboard_name_only_metrics_the_server_exports(metrics_text):
    valid, sampled, types = exported_names(metrics_text)
    # the requests above really created the labelled series (so this is a live server's output, not just HELP lines)
    assert {"steerserve_requests_total", "steerserve_steered_requests_total", "steerserve_steered_positions_total",
            "steerserve_feature_activation_bucket", "steerserve_alerts_total", "steerserve_requests_rejected_total",
            "steerserve_alert_sink_failures_total", "steerserve_alerts_dropped_total",
            "steerserve_tokens_generated_total", "steerserve_engine_batch_size",
            "steerserve_requests_in_flight"} <= sampled
    for a in ('action="flag"', 'action="denied"'):
        assert re.search(r'steerserve_alerts_total\{[^}]*' + a, metrics_text), a
    for where, exprs in [("rules.yaml", rule_exprs()), ("steerserve.json", dashboard_exprs())]:
        for e in exprs:
            used = set(METRIC.findall(e))
            assert used, f"{where}: an expression with no steerserve metric: {e}"
            assert used <= valid, f"{where} queries series that /metrics does not export: {sorted(used - valid)}"
    # names in descriptions and help texts may also be family names (e.g. the histogram steerserve_feature_activation)
    for path in (RULES, DASHBOARD):
        unknown = set(METRIC.findall(path.read_text(encoding="utf-8"))) - valid - set(types)
        assert not unknown, f"{path.name} mentions metrics that /metrics does not export: {sorted(unknown)}"
    # and the dashboard shows every metric the server has
    # (prometheus_client's `_created` timestamps parse as families of their own: not metrics to chart)
    families = {n for n in types if n.startswith("steerserve_") and not n.endswith("_created")}
    on_dashboard = {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    shown = {n for n in families if on_dashboard & {n, *(n + s for s in SUFFIXES.get(types[n], ()))}}
    assert shown == families, f"metrics missing from the dashboard: {sorted(families - shown)}"


def test_operator_rules_are_the_rule_file():
    assert docs(PROMETHEUS_RULE)[0]["spec"]["groups"] == docs(RULES)[0]["groups"], (
        "deploy/k8s/monitoring/prometheusrule.yaml is stale: python -m tests.api.test_deploy --write-prometheusrule")


def test_dashboard_panels_are_well_formed():
    d = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    cells = set()
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        mine = {(g["x"] + i, g["y"] + j) for i in range(g["w"]) for j in range(g["h"])}
        assert not (mine & cells), f"panel '{p['title']}' overlaps another"
        cells |= mine
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}"
    assert [v["name"] for v in d["templating"]["list"]][:1] == ["datasource"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_promtool_checks_and_unit_tests_the_rules():
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULES.with_name("rules.test.yaml"))]):
        r = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


# -- (c) the Deployment agrees with the server and the Service -----------------------------------------------------
def check_workload(objs: list[dict], *, rendered: bool) -> None:
    dep = next(o for o in objs if o["kind"] == "Deployment")
    svc = next(o for o in objs if o["kind"] == "Service")
    pod = dep["spec"]["template"]
    c = next(c for c in pod["spec"]["containers"] if c["name"] == "steerserve")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/health", probe
        assert ports.get(get["port"], get["port"]) == 8000, probe
    # liveness tolerates a whole drain; startup tolerates a long load; readiness reacts quickly
    live, ready = c["livenessProbe"], c["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= pod["spec"]["terminationGracePeriodSeconds"]
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 15
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300
    # the Service reaches that port on these pods
    (sp,) = svc["spec"]["ports"]
    assert ports.get(sp["targetPort"], sp["targetPort"]) == 8000
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert dep["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8000"
    assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    args = c.get("command", []) + c["args"]
    assert args[args.index("--port") + 1] == "8000" and args[args.index("--host") + 1] == "0.0.0.0"
    assert pod["spec"]["enableServiceLinks"] is False  # STEERSERVE_PORT=tcp://... would be read as a setting
    if rendered:  # kustomize replaced the generated ConfigMap names
        names = {o["metadata"]["name"] for o in objs if o["kind"] == "ConfigMap"}
        used = {v["configMap"]["name"] for v in pod["spec"]["volumes"] if "configMap" in v}
        assert used <= names


def test_deployment_probes_ports_and_service_agree():
    check_workload(k8s_objects((DEPLOY / "k8s" / "base").glob("*.yaml")), rendered=False)


def test_grace_period_covers_the_servers_drain():
    """preStop sleep + uvicorn's graceful timeout (server/cli/serve.py) + the alert dispatcher's delivery timeout."""
    from server.cli.serve import uvicorn_server

    app = build_app(ServerSettings(), FakeEngine())
    graceful = uvicorn_server(app, ServerSettings()).config.timeout_graceful_shutdown
    alerts = inspect.signature(AlertDispatcher.stop).parameters["timeout"].default
    assert (graceful, alerts) == (30, 5.0)
    for path in (DEPLOY / "k8s" / "base" / "deployment.yaml", DEPLOY / "k8s" / "gpu" / "deployment-patch.yaml"):
        spec = docs(path)[0]["spec"]["template"]["spec"]
        grace = spec["terminationGracePeriodSeconds"]
        base = docs(DEPLOY / "k8s" / "base" / "deployment.yaml")[0]["spec"]["template"]["spec"]
        pre_stop = int(base["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][1])
        assert grace >= pre_stop + graceful + alerts + 10, path


def test_service_monitor_scrapes_the_service_port():
    (svc,) = [o for o in k8s_objects((DEPLOY / "k8s" / "base").glob("*.yaml")) if o["kind"] == "Service"]
    (sm,) = [o for o in k8s_objects((DEPLOY / "k8s" / "monitoring").glob("*.yaml")) if o["kind"] == "ServiceMonitor"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert [e["port"] for e in sm["spec"]["endpoints"]] == [p["name"] for p in svc["spec"]["ports"]]
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("overlay", ["base", "gpu", "monitoring"])
def test_kustomize_renders(overlay):
    r = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s" / overlay)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    objs = [d for d in yaml.safe_load_all(r.stdout) if d]
    if overlay == "monitoring":
        assert {o["kind"] for o in objs} == {"ServiceMonitor", "PrometheusRule"}
        return
    check_workload(objs, rendered=True)
    (c,) = next(o for o in objs if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"]
    if overlay == "gpu":
        assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert c["args"][:2] == ["--engine", "vllm"] and c["image"].startswith("steerserve-gpu:")


# -- the policy the pods get: ConfigMap + Secret -> a file the server accepts ---------------------------------------
def _render_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_policy", DEPLOY / "k8s" / "base" / "render_policy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_policy_renders_with_keys_from_the_secret(tmp_path):
    render = _render_module()
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "admin.ops").write_text("sk-admin-123\n")  # a trailing newline, as `kubectl create secret --from-file`
    (keys / "inference.app").write_text("sk-app-456")
    out = tmp_path / "run" / "policy.yaml"
    assert render.main([str(DEPLOY / "k8s" / "base" / "policy.yaml"), str(keys), str(out)]) == 0
    cfg = load_policy(out)
    assert [(k.name, k.sha256) for k in cfg.keys.admin] == [("ops", hash_key("sk-admin-123"))]
    assert [(k.name, k.sha256) for k in cfg.keys.inference] == [("app", hash_key("sk-app-456"))]
    assert cfg.steering.mandatory_monitors == ["unsafe-code/python"] and cfg.server.metrics_public
    assert "sk-admin" not in out.read_text()

    (keys / "admin.ops").unlink()
    with pytest.raises(SystemExit, match="admin.ops"):
        render.main([str(DEPLOY / "k8s" / "base" / "policy.yaml"), str(keys), str(tmp_path / "other.yaml")])


# -- the CPU image's default: 0.0.0.0, no policy -> admin routes closed ---------------------------------------------
def test_dockerfile_default_serves_without_open_admin_routes(packs):
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[:2] == ["steer", "serve"] and cmd[cmd.index("--host") + 1] == "0.0.0.0" and "--config" not in cmd
    assert re.search(r"^USER 10001$", text, re.M)
    assert "/health" in re.search(r"^HEALTHCHECK .*?\]$", text, re.M | re.S).group(0)
    app = build_app(ServerSettings(host="0.0.0.0"), FakeEngine(packs))  # what that CMD builds (no --config)
    with TestClient(app) as c:
        for method, url in [("POST", "/admin/packs/reload"), ("GET", "/admin/monitors"),
                            ("POST", "/admin/monitors/safety/f0")]:
            r = c.request(method, url, json={"enabled": False})
            assert r.status_code == 403 and r.json()["error"]["code"] == "admin_disabled", url
        assert c.get("/health").json() == {"status": "ok"}
    gpu = (ROOT / "Dockerfile.gpu").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    vllm_version = re.search(r"^VLLM_VERSION \?= (\S+)$", makefile, re.M).group(1)
    assert f"ARG VLLM_VERSION={vllm_version}\nFROM vllm/vllm-openai:v${{VLLM_VERSION}}" in gpu


# -- regenerate the Prometheus Operator rules -------------------------------------------------------------------------
def write_prometheus_rule() -> None:
    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):  # indent list items under their key
            return super().increase_indent(flow, False)

    def text(d, v: str):  # expressions as literal blocks, long descriptions folded: as in rules.yaml
        style = "|" if "\n" in v else ">" if len(v) > 100 else None
        return d.represent_scalar("tag:yaml.org,2002:str", v, style=style)

    Dumper.add_representer(str, text)
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "steerserve", "labels": {"app.kubernetes.io/name": "steerserve"}},
           "spec": {"groups": docs(RULES)[0]["groups"]}}
    head = ("# GENERATED from deploy/prometheus/rules.yaml (the source: edit that file, then regenerate; "
            "tests/api/test_deploy.py\n# fails when the two differ). Your Prometheus resource selects rules by label "
            "(kube-prometheus-stack: `release: <name>`).\n")
    PROMETHEUS_RULE.write_text(head + yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=110), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-prometheusrule"]:
        write_prometheus_rule()
        print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
    else:
        sys.exit(__doc__)
