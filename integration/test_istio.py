"""Istio packaging (envoy/istio/, `make oci`).

- Every Envoy config fragment the manifests carry (the EnvoyFilter's patch values: the
  Wasm filter with the module's configuration, the compressor, the listener and
  connection-manager merges, the clusters the module calls; the filter Istio builds from
  the WasmPlugin) is put into a bootstrap the way istiod and istio-agent would put it on
  the gateway, and the pinned Envoy accepts it in `--mode validate`. A deliberately broken
  copy is refused, so the check proves something.
- The module accepts the configuration the manifests carry: an Envoy assembled from them
  (providers, judge and cache sidecar pointed at local processes) serves a chat
  completion from the openai SDK, with the gateway's headers, the provider key from the
  environment, and the limits counted in a real cache sidecar.
- `make oci`'s image is what Istio's fetcher reads: an OCI layout whose one tar+gzip layer
  holds exactly plugin.wasm, the built module byte for byte, with matching digests.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import uuid

import openai
import pytest
import requests
import yaml

from conftest import ENVOY_BIN, ROOT, WASM, free_port, merge
from otlp_receiver import OtlpReceiver
from sidecars import CacheSidecar, SemanticSidecar
from test_cache import Stores
from test_semantic_cache import FIRST, LONG, REWORDED, upserts, wait_upserts

sys.path.insert(0, str(ROOT / "scripts"))
from envoy_tracing import with_tracing  # noqa: E402

ISTIO_DIR = ROOT / "envoy" / "istio"
OTEL_YAML = ROOT / "envoy" / "tracing" / "otel.yaml"
OCI_SCRIPT = ROOT / "scripts" / "oci.py"
HCM = "envoy.filters.network.http_connection_manager"
ROUTER = "envoy.filters.http.router"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
TEAM_A_KEY = "sk-example-team-a"  # envoyfilter.yaml's example consumer (its sha256 is there)
OPENAI_KEY = "sk-test-istio-openai"


# --------------------------------------------------------------------------- manifests

def manifests() -> list[dict]:
    docs = []
    for path in sorted(ISTIO_DIR.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind}/{name} in envoy/istio/"
    return found[0]


def proto_merge(base, patch):
    """What Istio's MERGE does (proto.Merge): messages merge field by field, repeated
    fields are appended, scalars are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            out[k] = proto_merge(out[k], v) if k in out else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        return copy.deepcopy(base) + copy.deepcopy(patch)
    return copy.deepcopy(patch)


# --------------------------------------------------------------------------- what Istio builds

def cluster_name(host: str, port: int) -> str:
    return f"outbound|{port}||{host}"


def routes_of(vs: dict) -> list[dict]:
    """The VirtualService's http routes as Envoy routes (Istio's translation, the parts
    these manifests use: one header match, one destination, authority rewrite, timeout,
    direct response)."""
    out = []
    for r in vs["spec"]["http"]:
        matches = r.get("match", [{}])
        assert len(matches) == 1, f"route {r.get('name')}: one match per route is all this handles"
        match = {"prefix": "/"}
        headers = [{"name": h, "string_match": {"exact": m["exact"]}}
                   for h, m in matches[0].get("headers", {}).items()]
        if headers:
            match["headers"] = headers
        if "directResponse" in r:
            d = r["directResponse"]
            out.append({"name": r["name"], "match": match, "direct_response": {
                "status": d["status"], "body": {"inline_string": d["body"]["string"]}}})
            continue
        assert len(r["route"]) == 1, f"route {r['name']}: one destination"
        dest = r["route"][0]["destination"]
        action = {"cluster": cluster_name(dest["host"], dest["port"]["number"]),
                  "timeout": r.get("timeout", "0s")}
        if "rewrite" in r:
            action["host_rewrite_literal"] = r["rewrite"]["authority"]
        out.append({"name": r["name"], "match": match, "route": action})
    return out


def destination_clusters(docs: list[dict], routes: list[dict]) -> list[dict]:
    """A cluster for every route destination: from its ServiceEntry and DestinationRule
    (DNS, connect timeout, TLS origination with SNI and SAN check, outlier detection), or
    a plain DNS cluster for a Kubernetes Service the manifests do not define."""
    entries = {h: d for d in docs if d["kind"] == "ServiceEntry" for h in d["spec"]["hosts"]}
    rules = {d["spec"]["host"]: d["spec"] for d in docs if d["kind"] == "DestinationRule"}
    clusters = []
    for name in sorted({r["route"]["cluster"] for r in routes if "route" in r}):
        _, port, _, host = name.split("|")
        port = int(port)
        c = {"name": name, "type": "STRICT_DNS", "connect_timeout": "10s",
             "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {
                 "address": {"socket_address": {"address": host, "port_value": port}}}}]}]}}
        if host in entries:
            assert entries[host]["spec"]["resolution"] == "DNS"
            c["type"] = "LOGICAL_DNS"
            c["wait_for_warm_on_init"] = False
        policy = rules.get(host, {}).get("trafficPolicy", {})
        pool = policy.get("connectionPool", {})
        if "connectTimeout" in pool.get("tcp", {}):
            c["connect_timeout"] = pool["tcp"]["connectTimeout"]
        if "idleTimeout" in pool.get("http", {}):
            c["typed_extension_protocol_options"] = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {}},
                "common_http_protocol_options": {"idle_timeout": pool["http"]["idleTimeout"]}}}
        od = policy.get("outlierDetection")
        if od:
            c["outlier_detection"] = {
                "consecutive_gateway_failure": od["consecutiveGatewayErrors"],
                "consecutive_5xx": od["consecutive5xxErrors"],
                "interval": od["interval"], "base_ejection_time": od["baseEjectionTime"],
                "max_ejection_percent": od["maxEjectionPercent"]}
        for pls in policy.get("portLevelSettings", []):
            if pls["port"]["number"] == port and pls.get("tls", {}).get("mode") == "SIMPLE":
                tls = pls["tls"]
                c["transport_socket"] = {"name": "envoy.transport_sockets.tls", "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "sni": tls["sni"],
                    "common_tls_context": {"validation_context": {
                        "trusted_ca": {"filename": "/etc/ssl/certs/ca-certificates.crt"},
                        "match_typed_subject_alt_names": [
                            {"san_type": "DNS", "matcher": {"exact": san}} for san in tls["subjectAltNames"]]}}}}
        clusters.append(c)
    return clusters


def agent_rewrite(wasm_config: dict, wasm_path) -> dict:
    """What istio-agent does to a Wasm extension config whose code is remote: fetch it
    (for oci://, check the manifest digest) and hand Envoy a local file instead."""
    out = copy.deepcopy(wasm_config)
    vm = out["config"]["vm_config"]
    assert "remote" in vm["code"], "the manifests load the module from a registry"
    vm["code"] = {"local": {"filename": str(wasm_path)}}
    return out


def apply_patch(cfg: dict, patch: dict, ecds: dict, wasm_path) -> None:
    """One EnvoyFilter configPatch, applied as istiod would on the gateway's listener."""
    kind, op, value = patch["applyTo"], patch["patch"]["operation"], patch["patch"]["value"]
    listener = cfg["static_resources"]["listeners"][0]
    hcm = next(f for f in listener["filter_chains"][0]["filters"] if f["name"] == HCM)
    if kind == "EXTENSION_CONFIG" and op == "ADD":
        ecds[value["name"]] = agent_rewrite(value["typed_config"], wasm_path)
    elif kind == "NETWORK_FILTER" and op == "MERGE":
        assert patch["match"]["listener"]["filterChain"]["filter"]["name"] == HCM
        hcm["typed_config"] = proto_merge(hcm["typed_config"], value["typed_config"])
    elif kind == "HTTP_FILTER" and op == "INSERT_BEFORE":
        assert patch["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == ROUTER
        flt = copy.deepcopy(value)
        if "config_discovery" in flt:
            # ECDS: Envoy asks for the resource by the filter's name and gets the
            # (agent-rewritten) extension config; inline it, as it would arrive.
            assert WASM_TYPE in flt["config_discovery"]["type_urls"]
            assert flt["name"] in ecds, f"no EXTENSION_CONFIG named {flt['name']} (ECDS would wait forever)"
            flt = {"name": flt["name"], "typed_config": ecds[flt["name"]]}
        filters = hcm["typed_config"]["http_filters"]
        router_at = next(i for i, f in enumerate(filters) if f["name"] == ROUTER)
        filters.insert(router_at, flt)
    elif kind == "LISTENER" and op == "MERGE":
        listener.update(proto_merge(listener, value))
    elif kind == "VIRTUAL_HOST" and op == "MERGE":
        vhosts = hcm["typed_config"]["route_config"]["virtual_hosts"]
        vhosts[:] = [proto_merge(vh, value) for vh in vhosts]
    elif kind == "CLUSTER" and op == "ADD":
        cfg["static_resources"]["clusters"].append(copy.deepcopy(value))
    else:
        raise AssertionError(f"EnvoyFilter patch {kind}/{op}: test_istio.py does not know how Istio applies it")


def gateway_bootstrap(docs: list[dict], *, wasm_path=WASM, envoy_filter: str | None = "llm-gateway",
                      http_filters: list[dict] = ()) -> dict:
    """The llm-gateway Istio gateway's Envoy config, static: the listener of the Gateway
    (port 8080; here 127.0.0.1 on a free port) with the VirtualService's routes, a cluster
    per destination, the bootstrap override's stats_tags, and then the EnvoyFilter's
    patches (or `http_filters` inserted before the router, for the WasmPlugin). Istio's
    own filters (istio.stats and such) are not in the stock Envoy and are left out."""
    gateway = one(docs, "Gateway", "llm-gateway")
    assert [s["port"]["number"] for s in gateway["spec"]["servers"]] == [8080]
    routes = routes_of(one(docs, "VirtualService", "llm-gateway"))
    override = json.loads(one(docs, "ConfigMap", "llm-gateway-bootstrap")["data"]["custom_bootstrap.json"])
    cfg = proto_merge({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": free_port()}}},
        "static_resources": {
            "listeners": [{
                "name": "0.0.0.0_8080",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": free_port()}},
                "filter_chains": [{"filters": [{"name": HCM, "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "outbound_0.0.0.0_8080",
                    "normalize_path": True,
                    "route_config": {"name": "http.8080", "virtual_hosts": [
                        {"name": "*:8080", "domains": ["*"], "routes": routes}]},
                    "http_filters": [{"name": ROUTER, "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
                }}]}],
            }],
            "clusters": destination_clusters(docs, routes),
        },
    }, override)
    if envoy_filter is not None:
        ef = one(docs, "EnvoyFilter", envoy_filter)
        assert ef["spec"]["workloadSelector"]["labels"] == gateway["spec"]["selector"]
        ecds: dict = {}
        for patch in ef["spec"]["configPatches"]:
            apply_patch(cfg, patch, ecds, wasm_path)
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    for flt in http_filters:
        hcm["http_filters"].insert(len(hcm["http_filters"]) - 1, copy.deepcopy(flt))
    return cfg


def wasmplugin_filter(plugin: dict, wasm_path=WASM) -> dict:
    """The Wasm filter istiod builds from a WasmPlugin (pilot/pkg/model/extensions.go:
    name <ns>.<name>, root_id from pluginName, the pluginConfig as a JSON string, V8, the
    env), with istio-agent's local file for the code, and the fail strategy."""
    spec = plugin["spec"]
    vm = {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": str(wasm_path)}}}
    env = spec.get("vmConfig", {}).get("env", [])
    if env:
        vm["environment_variables"] = {
            "host_env_keys": [e["name"] for e in env if e.get("valueFrom") == "HOST"],
            "key_values": {e["name"]: e["value"] for e in env if e.get("valueFrom", "INLINE") == "INLINE"}}
    config = {
        "name": f"{plugin['metadata']['namespace']}.{plugin['metadata']['name']}",
        "root_id": spec.get("pluginName", ""),
        "vm_config": vm,
        "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                          "value": json.dumps(spec.get("pluginConfig", {}))},
    }
    strategy = spec.get("failStrategy", "FAIL_CLOSE")
    config["failure_policy"] = {"FAIL_CLOSE": "FAIL_CLOSED", "FAIL_OPEN": "FAIL_OPEN",
                                "FAIL_RELOAD": "FAIL_RELOAD"}[strategy]
    return {"name": config["name"], "typed_config": {"@type": WASM_TYPE, "config": config}}


def plugin_config_of(cfg: dict) -> dict:
    for flt in cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]:
        if flt.get("typed_config", {}).get("@type") == WASM_TYPE:
            return flt["typed_config"]["config"]
    raise KeyError("no Wasm filter")


def run_validate(cfg: dict, tmp_path, name: str):
    """`envoy --mode validate` with the provider key the gateway Deployment gets from its
    Secret (the module refuses a default provider whose key is missing)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env["OPENAI_API_KEY"] = OPENAI_KEY
    return subprocess.run(
        [str(ENVOY_BIN), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "info"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- validation

@pytest.fixture(scope="module")
def docs():
    return manifests()


def test_the_manifests_are_there(docs):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for want in [("EnvoyFilter", "llm-gateway"), ("WasmPlugin", "llm-gateway"), ("Gateway", "llm-gateway"),
                 ("VirtualService", "llm-gateway"), ("ServiceEntry", "openai"), ("DestinationRule", "openai"),
                 ("Deployment", "llm-gateway"), ("Deployment", "cache-sidecar"), ("Service", "cache-sidecar"),
                 ("Deployment", "semantic-sidecar"), ("Service", "semantic-sidecar")]:
        assert want in kinds, f"{want} missing from envoy/istio/"


def test_envoyfilter_assembles_to_a_config_the_pinned_envoy_accepts(docs, tmp_path):
    assert WASM.exists(), "build the module first (make build)"
    cfg = gateway_bootstrap(docs)
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    # The order the EnvoyFilter promises: compressor, the module, router.
    assert [f["name"] for f in hcm["http_filters"]] == [
        "envoy.filters.http.compressor", "llm-gateway.llm-gateway", ROUTER]
    names = {c["name"] for c in cfg["static_resources"]["clusters"]}
    plugin = json.loads(plugin_config_of(cfg)["configuration"]["value"])
    # Every cluster the module's configuration names is one the EnvoyFilter adds.
    assert plugin["limits"]["sidecar"]["cluster"] in names
    assert plugin["guard"]["judge"]["cluster"] in names
    r = run_validate(cfg, tmp_path, "istio-envoyfilter")
    assert r.returncode == 0, f"the EnvoyFilter's fragments do not validate:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    assert "OK" in r.stdout + r.stderr


@pytest.mark.parametrize("breakage", ["cluster", "plugin_config", "filter"])
def test_a_broken_envoyfilter_fails_validation(docs, tmp_path, breakage):
    """The same assembly from a damaged copy of the manifests is refused: the check sees
    the clusters, the module's configuration and the filters."""
    broken = copy.deepcopy(docs)
    patches = one(broken, "EnvoyFilter", "llm-gateway")["spec"]["configPatches"]
    if breakage == "cluster":
        cluster = next(p for p in patches if p["applyTo"] == "CLUSTER")["patch"]["value"]
        cluster["connect_timeout"] = "a quarter second"
        expect = "connect_timeout"
    elif breakage == "plugin_config":
        wasm = next(p for p in patches if p["applyTo"] == "EXTENSION_CONFIG")["patch"]["value"]
        conf = wasm["typed_config"]["config"]["configuration"]
        conf["value"] = json.dumps(merge(json.loads(conf["value"]), {"limits": {"sidecar": {"timeout": 100}}}))
        expect = "unknown field"
    else:
        comp = next(p for p in patches if p["patch"]["value"]["name"] == "envoy.filters.http.compressor")
        comp["patch"]["value"]["typed_config"]["response_direction_config"]["common_config"]["min_content_lenght"] = 256
        expect = "min_content_lenght"
    r = run_validate(gateway_bootstrap(broken), tmp_path, f"broken-{breakage}")
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"a broken {breakage} validated:\n{out[-3000:]}"
    assert expect in out, out[-3000:]


def test_wasmplugin_assembles_to_a_config_the_pinned_envoy_accepts(docs, tmp_path):
    plugin = one(docs, "WasmPlugin", "llm-gateway")
    cfg = gateway_bootstrap(docs, envoy_filter=None, http_filters=[wasmplugin_filter(plugin)])
    r = run_validate(cfg, tmp_path, "istio-wasmplugin")
    assert r.returncode == 0, f"the WasmPlugin's filter does not validate:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"


def test_bootstrap_override_has_envoy_yamls_stats_config(docs):
    """The gateway's metric labels and histogram buckets are the same as `make run`'s."""
    override = json.loads(one(docs, "ConfigMap", "llm-gateway-bootstrap")["data"]["custom_bootstrap.json"])
    envoy_yaml = yaml.safe_load((ROOT / "envoy" / "envoy.yaml").read_text())
    assert override["stats_config"] == envoy_yaml["stats_config"]


def test_the_proxy_stats_matcher_keeps_every_metric_the_module_writes(docs):
    """Istio drops stats it does not know: every metric name src/metrics.rs writes
    (`gen_ai.…`, `llm.…`, `wasmcustom.` in Envoy) starts with an inclusion prefix."""
    deploy = one(docs, "Deployment", "llm-gateway")
    proxy = yaml.safe_load(deploy["spec"]["template"]["metadata"]["annotations"]["proxy.istio.io/config"])
    prefixes = proxy["proxyStatsMatcher"]["inclusionPrefixes"]
    source = (ROOT / "src" / "metrics.rs").read_text()
    names = set(re.findall(r'"((?:gen_ai|llm)\.[a-z_.]+)', source))
    assert any(n.startswith("gen_ai.") for n in names) and any(n.startswith("llm.") for n in names), names
    dropped = sorted(n for n in names if not any(f"wasmcustom.{n}".startswith(p) for p in prefixes))
    assert not dropped, f"Istio would drop {dropped} (inclusionPrefixes {prefixes})"


def test_the_envoyfilter_and_the_wasmplugin_load_the_same_image(docs):
    """The EnvoyFilter and the WasmPlugin name the image `make oci` tags, with the same
    root id and provider keys."""
    ef = one(docs, "EnvoyFilter", "llm-gateway")
    wasm = next(p for p in ef["spec"]["configPatches"] if p["applyTo"] == "EXTENSION_CONFIG")["patch"]["value"]
    config = wasm["typed_config"]["config"]
    uri = config["vm_config"]["code"]["remote"]["http_uri"]["uri"]
    plugin = one(docs, "WasmPlugin", "llm-gateway")["spec"]
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    # The tag `make oci` gives the image (the crate's version), and the same pin.
    assert uri == plugin["url"] == f"oci://REGISTRY/llm-gateway:{version}"
    assert config["vm_config"]["code"]["remote"]["sha256"] == plugin["sha256"] == "MANIFEST_SHA256"
    assert config["root_id"] == plugin["pluginName"] == "llm-gateway"
    assert config["allow_on_headers_stop_iteration"] is True
    keys = config["vm_config"]["environment_variables"]["host_env_keys"]
    assert sorted(e["name"] for e in plugin["vmConfig"]["env"]) == sorted(keys)


# --------------------------------------------------------------------------- a real Envoy

def live(cfg: dict, mock_port: int, sidecar_port: int | None, semantic_port: int | None = None) -> dict:
    """`cfg` with every upstream on this machine: providers and judge on the mock (plain
    HTTP), the cache and semantic sidecars on real ones."""
    cfg = copy.deepcopy(cfg)
    sidecars = {"cache_sidecar": sidecar_port, "semantic_sidecar": semantic_port}
    for c in cfg["static_resources"]["clusters"]:
        port = sidecars.get(c["name"]) or mock_port
        c["type"] = "STATIC"
        c.pop("transport_socket", None)
        c.pop("dns_lookup_family", None)
        c.pop("wait_for_warm_on_init", None)
        c["load_assignment"]["endpoints"] = [{"lb_endpoints": [{"endpoint": {"address": {
            "socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]
    return cfg


@pytest.fixture(scope="module")
def istio_gateway(docs, envoy_factory, mock_provider, log_dir):
    sidecar = CacheSidecar(log_dir, "istio")
    semantic = SemanticSidecar(log_dir, "istio")
    mock_port = int(mock_provider.url.rsplit(":", 1)[1])
    cfg = live(gateway_bootstrap(docs), mock_port, sidecar.port, semantic.port)
    envoy = envoy_factory.start(envoy_config=cfg, env={"OPENAI_API_KEY": OPENAI_KEY})
    yield envoy, sidecar, semantic
    envoy.stop()
    sidecar.stop()
    semantic.stop()


def test_a_chat_completion_through_the_envoyfilter_config(istio_gateway, mock_provider):
    envoy, sidecar, _ = istio_gateway
    tag = uuid.uuid4().hex
    client = openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=TEAM_A_KEY, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hello from the mesh"}],
        extra_query={"tag": tag})
    assert raw.http_response.status_code == 200
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from the mesh"
    h = raw.headers
    assert h["x-llm-provider"] == "openai" and h["x-llm-model"] == "gpt-4o"
    assert int(h["x-llm-input-tokens"]) == completion.usage.prompt_tokens
    assert float(h["x-llm-cost-usd"]) > 0
    seen = [r for r in mock_provider.requests() if f"tag={tag}" in r["path"]]
    assert len(seen) == 1, seen
    # The VirtualService's openai route (authority rewritten), the key from the
    # gateway's environment (host_env_keys), not the client's virtual key.
    assert seen[0]["headers"]["host"] == "api.openai.com"
    assert seen[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    # limits.store "sidecar": the admit went to the cache sidecar through `cache_sidecar`.
    assert sidecar.metric("cache_sidecar_requests_total", route="admit") >= 1


def test_the_cache_tiers_of_the_envoyfilter_config(istio_gateway, mock_provider):
    """The `cache` section the EnvoyFilter carries, through its `cache_sidecar` and
    `semantic_sidecar` clusters: the same question again is an exact hit, a rewording a
    semantic hit, and neither reaches the provider."""
    envoy, sidecar, semantic = istio_gateway
    tag = uuid.uuid4().hex
    client = openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=TEAM_A_KEY, max_retries=0, timeout=30)
    system = f"You answer airline customers. Conversation {tag}."

    def ask(text: str):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", temperature=0, extra_query={"tag": tag},
            messages=[{"role": "system", "content": system}, {"role": "user", "content": text}],
            extra_headers={"x-mock-content": LONG})
        assert raw.parse().choices[0].message.content == LONG
        return raw.headers["x-llm-cache"]

    before, stores = upserts(semantic), Stores(sidecar)
    assert ask(FIRST) == "miss"
    stores.wait()
    wait_upserts(semantic, before)
    assert ask(FIRST) == "hit-exact"
    assert ask(REWORDED) == "hit-semantic"
    seen = [r for r in mock_provider.requests() if f"tag={tag}" in r["path"]]
    assert len(seen) == 1, seen


def telemetry_tags(docs: list[dict]) -> list[dict]:
    """The Telemetry resource's custom tags as istiod puts them on the gateway's connection
    manager (`tracing.custom_tags`, a `formatter` tag becoming a `value` one)."""
    tel = one(docs, "Telemetry", "llm-gateway")
    assert tel["spec"]["selector"]["matchLabels"] == one(docs, "Gateway", "llm-gateway")["spec"]["selector"]
    [tracing] = tel["spec"]["tracing"]
    return [{"tag": name, "value": t["formatter"]["value"]} for name, t in tracing["customTags"].items()]


def test_the_telemetry_tags_are_make_runs(docs):
    """One list of span attributes: the Istio Telemetry's equals envoy/tracing/otel.yaml's."""
    make_run = yaml.safe_load(OTEL_YAML.read_text())["tracing"]["custom_tags"]
    key = lambda t: t["tag"]  # noqa: E731
    assert sorted(telemetry_tags(docs), key=key) == sorted(make_run, key=key)


def test_a_request_span_through_the_istio_config_has_the_gateway_facts(docs, istio_gateway, envoy_factory,
                                                                        mock_provider):
    """The assembled gateway config with the Telemetry's tags (the OTel provider as a
    cluster of our receiver) sends the request's span with the module's facts."""
    _, sidecar, semantic = istio_gateway
    receiver = OtlpReceiver()
    mock_port = int(mock_provider.url.rsplit(":", 1)[1])
    cfg = with_tracing(live(gateway_bootstrap(docs), mock_port, sidecar.port, semantic.port), receiver.endpoint)
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["tracing"]["custom_tags"] = telemetry_tags(docs)
    cfg["layered_runtime"] = {"layers": [{"name": "tracing", "static_layer": {
        "tracing.opentelemetry.flush_interval_ms": 100, "tracing.opentelemetry.min_flush_spans": 1}}]}
    envoy = envoy_factory.start(envoy_config=cfg, env={"OPENAI_API_KEY": OPENAI_KEY})
    try:
        trace_id = uuid.uuid4().hex
        client = openai.OpenAI(base_url=f"{envoy.url}/v1", api_key=TEAM_A_KEY, max_retries=0, timeout=30,
                               default_headers={"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"})
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"traced {trace_id}"}])
        done, h = raw.parse(), raw.headers

        def ours(spans):
            return [s for s in spans if s.trace_id == trace_id and "llm.api" in s.attributes
                    and s.parent_span_id != "" and s.kind == 2]
        [span] = ours(receiver.wait_for(ours))
        a = span.attributes
        assert a["gen_ai.request.model"] == "gpt-4o" == h["x-llm-model"]
        assert a["gen_ai.provider.name"] == "openai" == h["x-llm-provider"]
        assert int(a["gen_ai.usage.input_tokens"]) == done.usage.prompt_tokens
        assert a["llm.cost_usd"] == h["x-llm-cost-usd"]
        assert a["llm.consumer"] == "team-a" and a["llm.cache"] == h["x-llm-cache"]
    finally:
        envoy.stop()
        receiver.stop()


def test_wasmplugin_config_serves_once_the_filter_may_pause(docs, envoy_factory, mock_provider):
    """The WasmPlugin's pluginConfig is accepted by the module and serves a request, with
    the one field WasmPlugin cannot set added by hand: allow_on_headers_stop_iteration.
    Without it (the filter exactly as istiod builds it) the request never reaches the
    module's body handler and hangs (seen by hand; not asserted here, as it is a wait)."""
    flt = wasmplugin_filter(one(docs, "WasmPlugin", "llm-gateway"))
    assert "allow_on_headers_stop_iteration" not in flt["typed_config"]["config"]
    flt["typed_config"]["config"]["allow_on_headers_stop_iteration"] = True
    mock_port = int(mock_provider.url.rsplit(":", 1)[1])
    cfg = live(gateway_bootstrap(docs, envoy_filter=None, http_filters=[flt]), mock_port, None)
    envoy = envoy_factory.start(envoy_config=cfg, env={"OPENAI_API_KEY": OPENAI_KEY})
    try:
        r = requests.post(f"{envoy.url}/v1/chat/completions", timeout=30,
                          headers={"authorization": f"Bearer {TEAM_A_KEY}"},
                          json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        assert r.headers["x-llm-provider"] == "openai"
    finally:
        envoy.stop()


def test_identity_is_required_in_the_istio_config(istio_gateway):
    envoy, _, _ = istio_gateway
    r = requests.post(f"{envoy.url}/v1/chat/completions", timeout=30,
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401, r.text


# --------------------------------------------------------------------------- make oci

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_oci(out) -> None:
    subprocess.run([sys.executable, str(OCI_SCRIPT), "--wasm", str(WASM), "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def oci(tmp_path_factory):
    assert WASM.exists(), "build the module first (make build)"
    out = tmp_path_factory.mktemp("oci")
    build_oci(out)
    return out


def blob(layout, digest: str) -> bytes:
    algo, hex_ = digest.split(":")
    assert algo == "sha256"
    data = (layout / "blobs" / "sha256" / hex_).read_bytes()
    assert sha(data) == digest, f"blob {digest} does not hash to its name"
    return data


def test_oci_layout_and_media_types(oci):
    layout = oci / "llm-gateway"
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["schemaVersion"] == 2 and len(index["manifests"]) == 1
    desc = index["manifests"][0]
    version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]
    assert desc["mediaType"] == MANIFEST_TYPE
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == version
    manifest_bytes = blob(layout, desc["digest"])
    assert len(manifest_bytes) == desc["size"]
    manifest = json.loads(manifest_bytes)
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MANIFEST_TYPE
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    assert manifest["config"]["mediaType"] == CONFIG_TYPE
    assert [layer["mediaType"] for layer in manifest["layers"]] == [LAYER_TYPE]
    config_bytes = blob(layout, manifest["config"]["digest"])
    layer_bytes = blob(layout, manifest["layers"][0]["digest"])
    assert len(config_bytes) == manifest["config"]["size"]
    assert len(layer_bytes) == manifest["layers"][0]["size"]
    # Nothing else in the layout: every blob is one the manifest or index names.
    names = {p.name for p in (layout / "blobs" / "sha256").iterdir()}
    assert names == {d.split(":")[1] for d in (desc["digest"], manifest["config"]["digest"],
                                                 manifest["layers"][0]["digest"])}
    assert (oci / "llm-gateway.digest").read_text().strip() == desc["digest"]

    # The layer: gzip, a tar of exactly one regular file plugin.wasm, the built module.
    assert layer_bytes[:2] == b"\x1f\x8b"
    tar_bytes = gzip.decompress(layer_bytes)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
        assert [(m.name, m.isfile()) for m in members] == [("plugin.wasm", True)]
        wasm = tar.extractfile(members[0]).read()
    assert sha(wasm) == sha(WASM.read_bytes())
    config = json.loads(config_bytes)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [sha(tar_bytes)]}
    assert config["architecture"] and config["os"]


def test_oci_archive_is_the_layout(oci):
    layout = oci / "llm-gateway"
    with tarfile.open(oci / "llm-gateway.tar") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    on_disk = {str(p.relative_to(layout)): p.read_bytes() for p in layout.rglob("*") if p.is_file()}
    assert files == on_disk


def test_oci_build_is_deterministic(oci, tmp_path):
    build_oci(tmp_path)
    for rel in ("llm-gateway.tar", "llm-gateway.digest"):
        assert (tmp_path / rel).read_bytes() == (oci / rel).read_bytes(), f"{rel} differs between two builds"
