#!/usr/bin/env python3
"""The seed's savings claim, measured: a deterministic mix of customer questions
(bench/semantic/traffic/topics.json: FAQ questions asked again verbatim and reworded,
plus a long tail of one-off questions) replayed through Envoy with make run's module
configuration (`auto` routing, exact cache, semantic cache), real cache and semantic
sidecars and the mock provider; then every hard negative of bench/semantic/dev.jsonl
(each pair in its own conversation: the first question stored, the second asked) to
count wrong semantic hits.

Share of provider cost saved: against sending every request to the premium tier (o3,
$2 / $8 per million input / output tokens) with no cache, for the same tokens. From
the access log: a miss costs `cost_usd` (at the model `auto` chose); a hit costs 0.
A wrong hit in the mix is a semantic hit whose answer is another topic's (each topic's
answer is labelled through `x-mock-content`, which no key holds).

    .venv/bin/python bench/semantic/savings.py [--out target/bench/semantic-savings.json]"""

import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "integration"))
from conftest import Envoy, free_port, render_config, plugin_config_of, set_plugin_config, start_mock_provider  # noqa: E402
from helpers import providers_at_mock  # noqa: E402
from sidecars import CacheSidecar, SemanticSidecar, with_semantic, with_sidecar  # noqa: E402

TRAFFIC = Path(__file__).parent / "traffic" / "topics.json"
DEV = Path(__file__).parent / "dev.jsonl"
PREMIUM = (2.0, 8.0)  # o3, $ per million input / output tokens (src/usage/pricing.rs)
REQUESTS = 400
SYSTEM = "You are the customer support assistant of Skyway Air and Skyway Shop. Answer briefly."


def mix(seed: int = 15) -> list[tuple[str, str]]:
    """(label, question): topics by a Zipf-like popularity, the common wording half of
    the time; one-off questions a fifth of the traffic, each asked once."""
    t = json.loads(TRAFFIC.read_text())
    rng = random.Random(seed)
    topics, tail = t["topics"], list(t["one_off"])
    weights = [1 / (i + 1) for i in range(len(topics))]
    out = []
    for _ in range(REQUESTS):
        if tail and rng.random() < 0.2:
            q = tail.pop(rng.randrange(len(tail)))
            out.append((f"one-off:{q}", q))
            continue
        i = rng.choices(range(len(topics)), weights)[0]
        v = 0 if rng.random() < 0.5 else rng.randrange(1, len(topics[i]))
        out.append((f"topic:{i}", topics[i][v]))
    return out


def ask(envoy: Envoy, system: str, question: str, label: str) -> dict:
    body = {"model": "auto", "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}
    r = requests.post(f"{envoy.url}/v1/chat/completions", json=body, timeout=60,
                      headers={"x-mock-content": f"ANSWER[{label}] Thank you for asking."})
    r.raise_for_status()
    return {"cache": r.headers.get("x-llm-cache"), "text": r.json()["choices"][0]["message"]["content"]}


def wait_upserts(index: SemanticSidecar, n: float, timeout: float = 30) -> None:
    import time
    deadline = time.monotonic() + timeout
    while index.metric("semantic_requests_total", route="upsert", status="200") < n:
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def main() -> int:
    out_path = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else \
        ROOT / "target" / "bench" / "semantic-savings.json"
    work = Path(tempfile.mkdtemp(prefix="semantic-savings-"))
    mock = start_mock_provider(work, "mock")
    cache = CacheSidecar(work, "cache")
    index = SemanticSidecar(work, "index", ["--log-level", "warn"])
    cfg = render_config(listen_port=free_port(), admin_port=free_port(),
                        mock_port=int(mock.url.rsplit(":", 1)[1]), keep_cache=True, keep_guard=True)
    cfg = providers_at_mock(cfg, ("openai", "anthropic"))
    with_sidecar(cfg, cache)
    with_semantic(cfg, index.port)
    plugin = plugin_config_of(cfg)
    plugin.pop("limits", None)  # the demo's rate limits would refuse a replay
    plugin["cache"]["lookup_timeout_ms"] = 2000
    plugin["cache"]["semantic"]["lookup_timeout_ms"] = 5000
    set_plugin_config(cfg, plugin)
    envoy = Envoy(cfg, work / "envoy", concurrency=1)
    try:
        envoy.wait_ready()
        statuses: Counter = Counter()
        wrong = 0
        upserted = 0.0
        for label, q in mix():
            got = ask(envoy, SYSTEM, q, label)
            statuses[got["cache"]] += 1
            if got["cache"] == "hit-semantic" and f"ANSWER[{label}]" not in got["text"]:
                wrong += 1
                print(f"wrong hit: {q!r} got {got['text']!r}", file=sys.stderr)
            if got["cache"] == "miss":
                # A user asks again seconds later, not in the same millisecond: let the
                # background store and upsert land first.
                upserted += 1
                wait_upserts(index, upserted)
        lines = envoy.wait_access_log(REQUESTS)
        paid = premium = saved_cache = 0.0
        for line in lines:
            tin = int(line.get("input_tokens") or 0) + int(line.get("cache_saved_input_tokens") or 0)
            tout = int(line.get("output_tokens") or 0) + int(line.get("cache_saved_output_tokens") or 0)
            premium += (tin * PREMIUM[0] + tout * PREMIUM[1]) / 1e6
            paid += float(line.get("cost_usd") or 0)
            saved_cache += float(line.get("cache_saved_usd") or 0)
        # The hard negatives of the dev set: each pair in its own conversation.
        kinds: Counter = Counter()
        wrong_neg: Counter = Counter()
        rows = [json.loads(x) for x in DEV.read_text().split("\n") if x]
        for n, row in enumerate(r for r in rows if r["label"] == "negative"):
            system = f"{SYSTEM} Conversation {n}."
            if ask(envoy, system, row["a"], f"neg{n}a")["cache"] == "miss":
                upserted += 1
                wait_upserts(index, upserted)
            got = ask(envoy, system, row["b"], f"neg{n}b")
            kinds[row["kind"]] += 1
            if got["cache"] == "hit-semantic":
                wrong_neg[row["kind"]] += 1
        res = {
            "requests": REQUESTS, "statuses": dict(statuses), "wrong_hits_in_mix": wrong,
            "premium_usd": premium, "paid_usd": paid, "saved_by_cache_usd": saved_cache,
            "saved_share": 1 - paid / premium if premium else 0.0,
            "cache_share": saved_cache / premium if premium else 0.0,
            "hard_negatives": dict(kinds), "wrong_hits_on_hard_negatives": dict(wrong_neg),
        }
    finally:
        envoy.stop()
        index.stop()
        cache.stop()
        mock.proc.terminate()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
