#!/usr/bin/env python3
"""The semantic injection signal on the held-out split: starts a real semantic-sidecar
(all-MiniLM-L6-v2), loads the dev split's attacks (scripts/load-attacks.py), and asks
it for the nearest attack of every row of bench/guard/injection/test.jsonl (held out:
never loaded, never tuned on) with /v1/ns/guard:attacks/query (k 1, unverified, no
threshold). Writes one similarity per row, in row order, to
target/bench/guard-semantic.jsonl; the Rust benchmark
(`semantic_signal_on_the_held_out_split` in src/guard/injection/tests.rs) joins them
to the rules' and classifier's scores and prints detection and false positives with
and without the signal.

    .venv/bin/python bench/guard/semantic/eval.py"""

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
load_attacks = __import__("load-attacks")

TEST = ROOT / "bench" / "guard" / "injection" / "test.jsonl"
OUT = ROOT / "target" / "bench" / "guard-semantic.jsonl"


def main() -> int:
    sidecar = subprocess.Popen(
        [str(ROOT / "target/semantic/semantic-sidecar"), "--listen", "127.0.0.1:0",
         "--model-dir", str(ROOT / ".cache/models/all-MiniLM-L6-v2"), "--log-level", "warn"],
        stdout=subprocess.PIPE, cwd=ROOT)
    try:
        line = sidecar.stdout.readline().decode().strip()
        base = "http://" + line.rsplit(" ", 1)[1]
        t0 = time.monotonic()
        n = load_attacks.load(base)
        print(f"loaded {n} dev attacks in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        rows = [json.loads(x) for x in TEST.read_text().split("\n") if x]

        def nearest(row: dict) -> float:
            text = load_attacks.clip(row["text"]).strip() or "."
            got = load_attacks.post(f"{base}/v1/ns/guard:attacks/query",
                                    {"partition": "attacks", "text": text, "k": 1,
                                     "verify": False, "threshold": -1})
            return max((x["score"] for x in got["neighbours"]), default=0.0)

        with ThreadPoolExecutor(4) as pool:
            sims = list(pool.map(nearest, rows))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text("".join(json.dumps({"similarity": round(s, 5)}) + "\n" for s in sims))
        print(f"{len(sims)} held-out similarities in {OUT.relative_to(ROOT)}", file=sys.stderr)
    finally:
        sidecar.terminate()
        sidecar.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
