"""An Envoy config with the OpenTelemetry tracer of envoy/tracing/otel.yaml, sending to an OTLP
endpoint (`host:port`, OTLP/HTTP). scripts/run.sh uses it when OTLP_ENDPOINT is set; the
tests render their configs with the same function.

    python3 scripts/envoy_tracing.py envoy/envoy.yaml 127.0.0.1:4318 > traced.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

TRACING_YAML = Path(__file__).resolve().parent.parent / "envoy" / "tracing" / "otel.yaml"
HCM = "envoy.filters.network.http_connection_manager"


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """`host:port` -> (host, port); a scheme or a path is refused with the rule."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or "/" in endpoint or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"OTLP_ENDPOINT must be host:port, e.g. 127.0.0.1:4318 (got {endpoint!r})")
    return host, int(port)


def with_tracing(cfg: dict, endpoint: str) -> dict:
    """A copy of `cfg` whose gateway listener traces to `endpoint`."""
    host, port = parse_endpoint(endpoint)
    tracing = yaml.safe_load(TRACING_YAML.read_text())
    out = copy.deepcopy(cfg)
    listener = out["static_resources"]["listeners"][0]
    hcm = next(f for f in listener["filter_chains"][0]["filters"] if f["name"] == HCM)
    hcm["typed_config"]["tracing"] = tracing["tracing"]
    cluster = tracing["cluster"]
    address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    address["socket_address"] = {"address": host, "port_value": port}
    out["static_resources"]["clusters"].append(cluster)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        cfg = yaml.safe_load(Path(argv[1]).read_text())
        sys.stdout.write(yaml.safe_dump(with_tracing(cfg, argv[2]), sort_keys=False))
    except ValueError as e:
        print(f"envoy_tracing: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
