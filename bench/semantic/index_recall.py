"""How far down the sign-bit (Hamming) order the true nearest neighbours of real questions
lie: the number behind `CANDIDATES_SHARE` in sidecars/semantic/src/index/memory.rs.

    .venv/bin/pip install -r bench/guard/injection/embedding/requirements.txt
    .venv/bin/python bench/semantic/index_recall.py [--sidecar http://host:port]

Embeds, with the semantic sidecar's model (`POST /v1/embed`; the built
target/semantic/semantic-sidecar is started on a free port when no --sidecar is given),
every question of the pair sets in bench/semantic/ and the first 300 characters of every
text of the injection corpora (bench/guard/injection/): real embeddings with the
anisotropy of the model, not random directions. Then, for each question, against all
the other texts: its exact top 5 by cosine, those at or above the cache threshold
(0.64), and where each falls in Hamming distance over sign bits (ties counted against
it). Prints the worst and the recall of keeping a given share of the rows.
"""

import argparse
import glob
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
THRESHOLD = 0.64
TOP = 5
BATCH = 32


def texts():
    questions, others = [], []
    for f in sorted(glob.glob(str(ROOT / "bench/semantic/*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            row = json.loads(line)
            questions += [row["a"], row["b"]]
    for f in sorted(glob.glob(str(ROOT / "bench/guard/injection/*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            others.append(json.loads(line)["text"][:300])
    questions = list(dict.fromkeys(t for t in questions if t.strip()))
    seen = set(questions)
    others = list(dict.fromkeys(t for t in others if t.strip() and t not in seen))
    return questions, others


def embed(all_texts, url):
    vectors = []
    for i in range(0, len(all_texts), BATCH):
        body = json.dumps({"texts": all_texts[i : i + BATCH]}).encode()
        req = urllib.request.Request(
            url + "/v1/embed", body, {"content-type": "application/json"}
        )
        vectors += json.load(urllib.request.urlopen(req, timeout=120))["vectors"]
    return np.array(vectors, dtype=np.float32)


def start_sidecar():
    binary = ROOT / "target/semantic/semantic-sidecar"
    if not binary.exists():
        sys.exit(f"{binary} missing: run `make build` or pass --sidecar")
    proc = subprocess.Popen(
        [
            str(binary),
            "--listen=127.0.0.1:0",
            f"--model-dir={ROOT}/.cache/models/all-MiniLM-L6-v2",
            "--log-level=warn",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline().split()
    return proc, "http://" + first[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", help="http://host:port of a running semantic sidecar")
    args = ap.parse_args()
    questions, others = texts()
    proc, url = (None, args.sidecar) if args.sidecar else start_sidecar()
    try:
        v = embed(questions + others, url)
    finally:
        if proc:
            proc.terminate()
            proc.wait()
    n = len(v)
    signs = v > 0
    worst = []
    for qi in range(len(questions)):
        cos = v @ v[qi]
        cos[qi] = -2.0
        hamming = (signs != signs[qi]).sum(axis=1)
        hamming[qi] = 10**6
        for j in np.argsort(-cos)[:TOP]:
            if cos[j] >= THRESHOLD:
                worst.append((hamming <= hamming[j]).sum() / (n - 1))
    worst = np.array(worst)
    print(
        f"{len(questions)} questions against {n - 1} texts each; "
        f"{len(worst)} true top-{TOP} neighbours >= {THRESHOLD}"
    )
    print(
        f"their rank in Hamming order, as a share of the rows: median "
        f"{np.median(worst):.4f}, p99 {np.quantile(worst, 0.99):.4f}, "
        f"worst {worst.max():.4f}"
    )
    for share in (0.005, 0.01, 0.02):
        print(f"keeping the nearest {share:.1%}: recall {(worst <= share).mean():.4f}")


if __name__ == "__main__":
    main()
