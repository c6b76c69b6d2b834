"""Availability of the fallback chain, for `make bench` (bench/run.py calls `measure()`;
`python bench/availability.py` prints the section alone).

envoy/envoy.yaml as `make run` uses it (production timings: per-try timeouts, outlier
detection every 5 s, 30 s base ejection), with the chain's three providers played by
mock instances that inject their own failures:
  A. 2,000 plain requests, 16 at a time, the primary failing 30 % of its requests;
  B. 500 streams, 8 at a time, same;
  C. the primary down: how many requests still reach it before outlier detection ejects
     it, and how long after it heals traffic returns to it.
Every process started here is stopped by its PID."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "availability"
ENVOY_BIN = Path(os.environ.get("ENVOY_BIN", ROOT / ".venv" / "bin" / "envoy"))
WASM = ROOT / "target" / "wasm32-wasip1" / "release" / "llm_gateway.wasm"
MOCK_BIN = ROOT / "target" / "release" / "mock-provider"
CHAIN = ("primary", "secondary", "local")
MODEL = "gpt-4o-mini"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def mock(self, name: str, args: list[str]) -> str:
        proc = subprocess.Popen([str(MOCK_BIN), "--listen", "127.0.0.1:0", "--name", name, *args],
                                stdout=subprocess.PIPE, stderr=open(OUT / f"mock-{name}.log", "wb"))
        self.procs.append(proc)
        line = proc.stdout.readline().decode().strip()
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        return "http://" + line.rsplit(" ", 1)[1]

    def envoy(self, cfg: dict) -> subprocess.Popen:
        (OUT / "envoy.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
        proc = subprocess.Popen(
            [str(ENVOY_BIN), "-c", str(OUT / "envoy.yaml"), "--concurrency", "2",
             "--base-id", str(20000 + os.getpid() % 1000), "--log-level", "warning",
             "--log-path", str(OUT / "envoy.log"), "--disable-hot-restart"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def config(mocks: dict[str, str]) -> tuple[dict, int, int]:
    cfg = yaml.safe_load((ROOT / "envoy" / "envoy.yaml").read_text())
    port, admin = free_port(), free_port()
    cfg["admin"]["address"]["socket_address"]["port_value"] = admin
    listener = cfg["static_resources"]["listeners"][0]
    listener["address"]["socket_address"]["port_value"] = port
    for c in cfg["static_resources"]["clusters"]:
        if c["name"] in mocks:
            addr = c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
            addr["socket_address"]["port_value"] = int(mocks[c["name"]].rsplit(":", 1)[1])
        for o in c.get("typed_extension_protocol_options", {}).values():
            for f in o.get("http_filters", []):
                if f["name"] == "envoy.filters.http.wasm":
                    f["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] = str(WASM)
    for f in listener["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]:
        if f["name"] == "envoy.filters.http.wasm":
            f["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] = str(WASM)
            conf = f["typed_config"]["config"]["configuration"]
            plugin = json.loads(conf["value"])
            plugin.pop("identity", None)  # no demo rate limits in the way
            plugin.pop("limits", None)
            conf["value"] = json.dumps(plugin)
    return cfg, port, admin


def wait_ready(admin: int, port: int) -> None:
    for _ in range(600):
        try:
            if requests.get(f"http://127.0.0.1:{admin}/ready", timeout=1).text.strip() == "LIVE":
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.1)
    sys.exit(f"availability: Envoy not ready:\n{(OUT / 'envoy.log').read_text()[-2000:]}")


def stat(admin: int, name: str) -> int:
    r = requests.get(f"http://127.0.0.1:{admin}/stats", params={"filter": f"^{name}$", "format": "json"},
                     timeout=10).json()
    return int(r["stats"][0]["value"]) if r["stats"] else 0


def wait_for_no_ejection(admin: int) -> None:
    """Each run starts with the primary in the chain (an ejection lasts 30 s or more)."""
    deadline = time.monotonic() + 400
    while stat(admin, "cluster.primary.outlier_detection.ejections_active") and time.monotonic() < deadline:
        time.sleep(0.5)


def mock_call(url: str, method: str, what: str, body: dict | None = None) -> dict:
    r = requests.request(method, f"{url}/__mock/{what}", data=json.dumps(body) if body else None, timeout=10)
    r.raise_for_status()
    return r.json() if r.text.strip().startswith("{") else {}


def run_load(port: int, n: int, conc: int, stream: bool) -> dict:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=conc))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 5,
            "stream": stream}

    def one(_):
        t = time.monotonic()
        try:
            r = session.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60)
            text = r.text
            ok = r.status_code == 200 and (not stream or "[DONE]" in text) and '"error"' not in text
            return ok, r.headers.get("x-mock-name"), (time.monotonic() - t) * 1000
        except requests.RequestException:
            return False, None, (time.monotonic() - t) * 1000

    with ThreadPoolExecutor(conc) as pool:
        results = list(pool.map(one, range(n)))
    lat = sorted(ms for _, _, ms in results)
    return {"n": n, "ok": sum(1 for ok, _, _ in results if ok),
            "served": {p: sum(1 for _, by, _ in results if by == p) for p in CHAIN},
            "p50_ms": statistics.median(lat), "p99_ms": lat[int(0.99 * (len(lat) - 1))]}


def measure() -> list[str]:
    OUT.mkdir(parents=True, exist_ok=True)
    procs = Processes()
    try:
        mocks = {name: procs.mock(name, ["--seed", "42"]) for name in CHAIN}
        cfg, port, admin = config(mocks)
        procs.envoy(cfg)
        wait_ready(admin, port)
        lines = []
        for label, n, conc, stream in (("A. plain", 2000, 16, False), ("B. streaming", 500, 8, True)):
            wait_for_no_ejection(admin)
            for url in mocks.values():
                mock_call(url, "DELETE", "stats")
            mock_call(mocks["primary"], "POST", "config", {"failure_rate": 0.3})
            retries0 = stat(admin, "cluster.llm_chain.upstream_rq_retry")
            ej0 = stat(admin, "cluster.primary.outlier_detection.ejections_enforced_total")
            t = time.monotonic()
            res = run_load(port, n, conc, stream)
            took = time.monotonic() - t
            prim = mock_call(mocks["primary"], "GET", "stats")
            lines.append(
                f"| {label} | {n} | {conc} | **{res['ok'] / n * 100:.2f} %** ({res['ok']}/{n}) | "
                f"{prim['requests']} / {prim['failures_injected']} | "
                f"{res['served']['primary']} / {res['served']['secondary']} / {res['served']['local']} | "
                f"{stat(admin, 'cluster.llm_chain.upstream_rq_retry') - retries0} | "
                f"{stat(admin, 'cluster.primary.outlier_detection.ejections_enforced_total') - ej0} | "
                f"{res['p50_ms']:.1f} / {res['p99_ms']:.1f} | {took:.1f} s |")
            # Let an ejection from this round run out before the next one.
            mock_call(mocks["primary"], "POST", "config", {"failure_rate": 0.0})
            time.sleep(1)
        # C. down, ejected, healed.
        wait_for_no_ejection(admin)
        for url in mocks.values():
            mock_call(url, "DELETE", "stats")
        mock_call(mocks["primary"], "POST", "down")
        served_down = []
        for _ in range(40):
            r = requests.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                              json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, timeout=30)
            served_down.append((r.status_code, r.headers.get("x-mock-name")))
        reached = mock_call(mocks["primary"], "GET", "stats")["failed_while_down"]
        mock_call(mocks["primary"], "POST", "up")
        healed = time.monotonic()
        back_after = None
        while time.monotonic() - healed < 400:
            r = requests.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                              json={"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, timeout=30)
            if r.headers.get("x-mock-name") == "primary":
                back_after = time.monotonic() - healed
                break
            time.sleep(0.25)
        ok_down = sum(1 for s, _ in served_down if s == 200)
        back = f"{back_after:.1f} s" if back_after is not None else "not within 400 s"
        return [
            "| run | requests | concurrent | succeeded | primary: requests / failures injected | "
            "served by primary / secondary / local | retries | ejections | latency p50 / p99 (ms) | took |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *lines,
            "",
            f"C. Primary down: {ok_down}/40 sequential requests succeeded; the down primary was tried "
            f"{reached} times (`consecutive_5xx: 5`), then ejected, and every later request went straight "
            f"to the secondary. After it healed, traffic returned to it after {back} "
            "(`base_ejection_time: 30s`, checked every `interval: 5s`).",
        ]
    finally:
        procs.stop()


if __name__ == "__main__":
    print("\n".join(measure()))
