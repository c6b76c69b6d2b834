#!/usr/bin/env python3
"""Fills the semantic injection guard's namespace with known attack prompts: the
`attack` rows of the guard's dev split (bench/guard/injection/dev.jsonl; the held-out
test split is never loaded), upserted into the semantic-index sidecar under
namespace `guard:attacks`, partition `attacks` (what `guard.injection.semantic` asks).

    scripts/load-attacks.py [--url http://127.0.0.1:10030] [--namespace guard:attacks]

Idempotent: each prompt's id is the SHA-256 of its text. Entries live the sidecar's
--max-ttl (a day by default): scripts/run.sh loads them at every start. Standard
library only."""

import argparse
import hashlib
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "bench" / "guard" / "injection" / "dev.jsonl"
MAX_TEXT_BYTES = 4096  # as the module sends (src/guard/injection/semantic.rs)


def clip(text: str) -> str:
    data = text.encode()[:MAX_TEXT_BYTES]
    return data.decode(errors="ignore")


def attacks(path: Path = DEV) -> list[str]:
    seen, out = set(), []
    for line in filter(None, path.read_text().split("\n")):
        row = json.loads(line)
        text = clip(row["text"]).strip()
        if row["label"] == "attack" and text and text not in seen:
            seen.add(text)
            out.append(text)
    return out


def post(url: str, body: dict, timeout: float = 30) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def load(base: str, namespace: str = "guard:attacks", path: Path = DEV) -> int:
    texts = attacks(path)

    def one(text: str) -> None:
        post(f"{base}/v1/ns/{namespace}/upsert",
             {"id": hashlib.sha256(text.encode()).hexdigest(), "partition": "attacks", "text": text})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, texts))
    return len(texts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:10030")
    ap.add_argument("--namespace", default="guard:attacks")
    a = ap.parse_args()
    n = load(a.url.rstrip("/"), a.namespace)
    print(f"load-attacks: {n} dev attack prompts in {a.namespace} at {a.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
