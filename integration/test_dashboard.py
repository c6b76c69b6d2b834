"""The Grafana dashboard and the alert rules against a real Prometheus: Debian's
`prometheus` scrapes an Envoy of its own (the `make run` plugin configuration: guard,
limits, cache with its sidecar) every second; after a burst of traffic (plain and streamed,
OpenAI and Anthropic, an upstream error, a guard block, a limit refusal, a cache hit, the
fallback chain) every query of every panel of envoy/observability/grafana-dashboard.json
returns data through Prometheus's HTTP API. `promtool` checks and unit-tests
envoy/observability/alerts.yaml, and the Prometheus of the test evaluates it without
errors."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time

import pytest
import requests
import yaml

from conftest import ROOT, free_port, stop_process, tail
from helpers import CHAT, MESSAGES, chat_body, messages_body, new_tag, tagged
from sidecars import CacheSidecar, with_sidecar

OBSERVABILITY = ROOT / "envoy" / "observability"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
ALERTS = OBSERVABILITY / "alerts.yaml"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# What a panel's template variables become in the test: every model, every consumer, and
# Grafana's rate interval at a size that holds a few 1 s scrapes.
VARIABLES = {"$__rate_interval": "1m", "${datasource}": "prometheus", "$model": ".*", "$consumer": ".*"}

PRO = {"authorization": "Bearer sk-demo-pro"}
FREE = {"authorization": "Bearer sk-demo-free"}


def needs(tool: str) -> None:
    if not shutil.which(tool) and not (ROOT / tool).exists():
        pytest.fail(f"{tool} is missing: run `make setup` (Debian's prometheus package)")


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, query with the template variables substituted) of every target."""
    out = []
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"{panel['title']}: a variable the test does not know: {expr}"
            out.append((panel["title"], expr))
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names a query reads: identifiers followed by `{` or `[`, or those our
    metrics start with."""
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", expr))
    names |= set(re.findall(r"\b((?:llm|gen_ai|envoy)_[a-zA-Z0-9_]+)", expr))
    return names - {"by", "without", "sum", "rate", "increase", "histogram_quantile", "scalar", "max"}


# --------------------------------------------------------------------------- promtool


def test_promtool_checks_the_alert_rules():
    needs("promtool")
    r = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_promtool_unit_tests_of_the_alerts_pass():
    """alerts-test.yaml: the error-rate, ejection, sidecar and budget alerts fire on the
    series they are written for, and stay quiet otherwise."""
    needs("promtool")
    r = subprocess.run([PROMTOOL, "test", "rules", "alerts-test.yaml"], capture_output=True, text=True,
                       timeout=60, cwd=OBSERVABILITY)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_make_run_prometheus_config_is_valid():
    needs("promtool")
    r = subprocess.run([PROMTOOL, "check", "config", "prometheus.yml"], capture_output=True, text=True,
                       timeout=60, cwd=OBSERVABILITY)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_dashboard_query_names_only_metrics_the_module_or_envoy_exports():
    """A cheap guard before the real one below: our metric names are the documented ones."""
    names = set()
    for _, expr in panel_queries():
        names |= metric_names(expr)
    documented = (ROOT / "README.md").read_text()
    ours = {n.removesuffix("_bucket") for n in names if not n.startswith("envoy_")}
    missing = sorted(n for n in ours if n not in documented)
    assert not missing, f"dashboard metrics not in README.md's metric map: {missing}"


# --------------------------------------------------------------------------- the real Prometheus


class Prometheus:
    """Debian's prometheus on a free 127.0.0.1 port, with a temp config and tsdb, scraping
    `targets` (host:port of Envoy admins) every second and evaluating alerts.yaml."""

    def __init__(self, workdir, admin: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "prometheus.log"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{
                "job_name": "envoy",
                "metrics_path": "/stats/prometheus",
                "static_configs": [{"targets": [admin]}],
            }],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
        log.close()

    def query(self, expr: str) -> list[dict]:
        r = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = r.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def wait_until(self, what: str, done, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited with {self.proc.returncode}:\n{tail(self.log_path)}")
            try:
                got = done()
                if got:
                    return got
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} after {timeout}s\n{tail(self.log_path)}")
            time.sleep(0.5)

    def stop(self) -> None:
        stop_process(self.proc)


def finite(result: list[dict]) -> bool:
    """At least one series with a number (a NaN is a 0/0: no traffic behind it)."""
    return any(not math.isnan(float(s["value"][1])) for s in result)


@pytest.fixture(scope="module")
def scraped(envoy_factory, log_dir, tmp_path_factory):
    """Envoy (with the cache sidecar) scraped by Prometheus, after a burst of traffic."""
    needs("prometheus")
    sidecar = CacheSidecar(log_dir, "dashboard")
    cfg = envoy_factory.config(keep_guard=True, keep_cache=True,
                               patch={"cache": {"semantic": {"enabled": False}}})
    envoy = envoy_factory.start(envoy_config=with_sidecar(cfg, sidecar))
    prom = Prometheus(tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{envoy.admin_port}")
    try:
        prom.wait_until("prometheus never scraped Envoy", lambda: prom.query('up{job="envoy"} == 1'))
        # A series Prometheus first sees already counted has no rate (its first value is
        # not an increase), as in production: one burst makes every series, and once
        # Prometheus has scraped them all (histograms after Envoy's stats flush) a second
        # burst moves them.
        send_burst(envoy)
        prom.wait_until("prometheus never scraped the module's metrics", lambda: scraped_all(envoy, prom))
        send_burst(envoy)
        yield envoy, prom
    finally:
        prom.stop()
        envoy.stop()
        sidecar.stop()


def scraped_all(envoy, prom) -> bool:
    """Prometheus holds every llm_ and gen_ai_ series name Envoy exports now, the
    histograms among them."""
    exported = {n for n in re.findall(r"^([a-z_]+)", envoy.prometheus(), re.M) if n.startswith(("llm_", "gen_ai_"))}
    names = requests.get(f"{prom.url}/api/v1/label/__name__/values", timeout=10).json()["data"]
    return "gen_ai_client_operation_duration_milliseconds_bucket" in exported and exported <= set(names)


def send_burst(envoy) -> None:
    def post(path, body, headers, want):
        r = requests.post(f"{envoy.url}{tagged(path, new_tag())}", json=body, headers=headers, timeout=30)
        r.content  # a stream is read to its end
        assert r.status_code == want, (path, body, r.status_code, r.text[:500])
        return r

    for i in range(3):
        post(CHAT, chat_body(f"dashboard question {i}"), PRO, 200)
        post(CHAT, chat_body(f"dashboard stream {i}", stream=True), {**PRO, "x-mock-stream-chunks": "6"}, 200)
    post(MESSAGES, messages_body("bonjour dashboard"), PRO, 200)
    post(MESSAGES, messages_body("bonjour stream", stream=True), {**PRO, "x-mock-stream-chunks": "6"}, 200)
    post(CHAT, chat_body("fail please"), {**PRO, "x-mock-status": "500"}, 500)
    # The fallback chain (gpt-4o-mini), once served and once failed by every provider.
    post(CHAT, chat_body("chain me", model="gpt-4o-mini"), PRO, 200)
    requests.post(f"{envoy.url}{tagged(CHAT, new_tag())}", json=chat_body("chain fails", model="gpt-4o-mini"),
                  headers={**PRO, "x-mock-status": "500"}, timeout=60)
    # The guard blocks a card number.
    post(CHAT, chat_body("my card is 4111 1111 1111 1111, remember it"), PRO, 400)
    # The free group's 5 requests a minute, then a refusal.
    statuses = [requests.post(f"{envoy.url}{tagged(CHAT, new_tag())}", json=chat_body(f"free {i}"),
                              headers=FREE, timeout=30).status_code for i in range(7)]
    assert 429 in statuses, statuses
    # A cache hit: the same question again once the first answer is stored.
    body = chat_body("what does the cache remember?")
    deadline = time.monotonic() + 15
    while post(CHAT, body, PRO, 200).headers.get("x-llm-cache") != "hit-exact":
        assert time.monotonic() < deadline, "no cache hit"
        time.sleep(0.2)


def test_prometheus_evaluates_the_alert_rules_without_errors(scraped):
    _, prom = scraped

    def rules():
        r = requests.get(f"{prom.url}/api/v1/rules", timeout=10).json()
        found = [rule for g in r["data"]["groups"] for rule in g["rules"]]
        # A rule's health is `unknown` until its first evaluation.
        return found if found and all(rule["health"] != "unknown" for rule in found) else None

    found = prom.wait_until("the alert rules were never evaluated", rules)
    assert {r["name"] for r in found} >= {"LLMGatewayHighErrorRate", "LLMProviderEjected", "LLMSidecarErrors"}
    bad = [(r["name"], r.get("lastError")) for r in found if r["health"] != "ok"]
    assert not bad, bad


def test_the_dashboards_variables_have_values(scraped):
    _, prom = scraped
    for var in dashboard()["templating"]["list"]:
        if var["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", var["definition"])
        assert m, var["definition"]
        metric, label = m.groups()

        def values():
            r = requests.get(f"{prom.url}/api/v1/label/{label}/values", params={"match[]": metric}, timeout=10)
            return r.json()["data"]

        assert prom.wait_until(f"no values of ${var['name']}", values), var


def test_every_query_of_every_panel_returns_data(scraped):
    """After the burst, each panel's queries return a series with a number. A query naming
    a metric that does not exist returns nothing and fails here."""
    envoy, prom = scraped
    queries = panel_queries()
    assert len(queries) >= 15
    pending = dict.fromkeys(queries)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for key in list(pending):
            result = prom.query(key[1])
            pending[key] = result
            if finite(result):
                del pending[key]
        if pending:
            time.sleep(1)
    if pending:
        exported = sorted({n for n in re.findall(r"^([a-z_]+)", envoy.prometheus(), re.M)
                           if n.startswith(("llm_", "gen_ai_"))})
        report = "\n".join(f"- {title}: {expr}\n    -> {result}" for (title, expr), result in pending.items())
        raise AssertionError(f"panels without data:\n{report}\nthe module exports: {exported}")


def test_the_labels_are_cut_out_of_the_names(scraped):
    """envoy.yaml's stats_tags turn each `.label.value` part into a label: every name the
    module exports is one README "Metrics" documents (a label left in a name would make a
    new one per value), and the burst's series carry the labels the panels group by."""
    envoy, prom = scraped
    exported = {re.sub(r"_(bucket|count|sum)$", "", n) for n in re.findall(r"^([a-z_]+)", envoy.prometheus(), re.M)
                if n.startswith(("llm_", "gen_ai_"))}
    documented = (ROOT / "README.md").read_text()
    assert exported and not sorted(n for n in exported if f"`{n}`" not in documented), exported
    for series in [
        'llm_requests{gen_ai_request_model="gpt-4o", gen_ai_provider_name="mock", consumer="demo-pro"}',
        'llm_requests{error_type="content_filter", gen_ai_request_model="unknown", gen_ai_provider_name="none"}',
        'llm_requests{error_type="upstream_5xx", gen_ai_request_model="gpt-4o"}',
        'llm_limits_refused{kind="requests", rule="free-rpm", group="free"}',
        'llm_guard_actions{rule="pii_credit_card", action="block"}',
        'llm_cache_requests{status="hit-exact", gen_ai_request_model="gpt-4o"}',
        'llm_chain_attempts{gen_ai_provider_name="primary"}',
        'llm_tokens{gen_ai_token_type="cached_input", consumer="demo-pro"}',
        'gen_ai_client_token_usage_bucket{gen_ai_token_type="output", gen_ai_operation_name="chat",'
        ' gen_ai_request_model="claude-sonnet-4-5", gen_ai_provider_name="mock", le="+Inf"}',
        'gen_ai_server_time_to_first_token_milliseconds_count{gen_ai_request_model="claude-sonnet-4-5"}',
    ]:
        assert prom.query(series), f"no series {series}"
