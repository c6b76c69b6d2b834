#!/usr/bin/env python3
"""Validate dev.jsonl and heldout.jsonl and print their counts (stdlib only).

Checks, each a hard error (exit 1):
  - every line is a JSON object with exactly the keys a, b, label, kind, domain,
    all non-empty strings;
  - label and kind agree (positive: paraphrase, near_repeat;
    negative: negation, number, entity, scope);
  - a != b, and for negatives a and b still differ after normalisation
    (case, punctuation, whitespace);
  - no duplicate pair inside a set (unordered, normalised);
  - no pair, and no question text, appears in both sets;
  - no domain is shared between the sets;
  - no question is longer than 60 words;
  - the issue's acceptance example (long-haul / short-haul checked bags) is absent.
Warnings (printed, not fatal): questions under 5 words, leading 5-word stems
shared between the sets.

Usage: python3 check.py [dev.jsonl heldout.jsonl]
"""
import collections
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = {
    "paraphrase": "positive",
    "near_repeat": "positive",
    "negation": "negative",
    "number": "negative",
    "entity": "negative",
    "scope": "negative",
}
KEYS = {"a", "b", "label", "kind", "domain"}
BANNED = [
    "how many bags can i check in on a long haul flight",
    "what is the checked baggage allowance for long haul flights",
    "how many bags can i check in on a short haul flight",
]


def norm(s):
    s = s.lower().replace("-", " ")
    s = re.sub(r"[^\w\s%$€£.]", " ", s)
    s = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", s)  # drop dots except decimal points
    return " ".join(s.split())


def load(path, errors):
    rows = []
    for ln, line in enumerate(open(path, encoding="utf-8"), 1):
        where = f"{os.path.basename(path)}:{ln}"
        try:
            r = json.loads(line)
        except ValueError as e:
            errors.append(f"{where}: not JSON ({e})")
            continue
        if not isinstance(r, dict) or set(r) != KEYS:
            errors.append(f"{where}: keys must be exactly {sorted(KEYS)}")
            continue
        if not all(isinstance(r[k], str) and r[k].strip() for k in KEYS):
            errors.append(f"{where}: every field must be a non-empty string")
            continue
        if r["kind"] not in KINDS:
            errors.append(f"{where}: unknown kind {r['kind']!r}")
        elif KINDS[r["kind"]] != r["label"]:
            errors.append(f"{where}: kind {r['kind']} needs label {KINDS[r['kind']]}, got {r['label']}")
        if r["a"] == r["b"]:
            errors.append(f"{where}: a == b")
        elif r["label"] == "negative" and norm(r["a"]) == norm(r["b"]):
            errors.append(f"{where}: negative pair identical after normalisation")
        for k in ("a", "b"):
            n = len(r[k].split())
            if n > 60:
                errors.append(f"{where}: {k} has {n} words (> 60)")
            for bad in BANNED:
                if bad in norm(r[k]):
                    errors.append(f"{where}: contains the acceptance example: {r[k]!r}")
        r["_where"] = where
        rows.append(r)
    return rows


def key(r):
    return tuple(sorted((norm(r["a"]), norm(r["b"]))))


def report(name, rows):
    kinds = collections.Counter(r["kind"] for r in rows)
    labels = collections.Counter(r["label"] for r in rows)
    doms = collections.Counter(r["domain"] for r in rows)
    lens = [len(r[k].split()) for r in rows for k in ("a", "b")]
    multi = sum(1 for r in rows for k in ("a", "b") if re.search(r"[.?!]\s+\S", r[k].strip()))
    print(f"== {name}: {len(rows)} pairs")
    print("  labels: " + ", ".join(f"{k} {labels[k]}" for k in ("positive", "negative")))
    print("  kinds:  " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    print("  domains: " + ", ".join(f"{d} {n}" for d, n in sorted(doms.items())))
    if lens:
        lens.sort()
        print(f"  words per question: min {lens[0]}, median {lens[len(lens) // 2]}, max {lens[-1]}; "
              f"multi-sentence questions {multi}")
    short = sorted({r[k] for r in rows for k in ("a", "b") if len(r[k].split()) < 5})
    if short:
        print(f"  note: {len(short)} questions under 5 words (terse user queries), e.g. {short[:3]}")


def main():
    paths = sys.argv[1:] or [os.path.join(HERE, "dev.jsonl"), os.path.join(HERE, "heldout.jsonl")]
    errors = []
    sets = {}
    for p in paths:
        if not os.path.exists(p):
            errors.append(f"{p}: missing")
            continue
        rows = load(p, errors)
        seen = {}
        for r in rows:
            k = key(r)
            if k in seen:
                errors.append(f"{r['_where']}: duplicate of {seen[k]}")
            else:
                seen[k] = r["_where"]
        sets[os.path.basename(p)] = rows
        report(os.path.basename(p), rows)
    names = list(sets)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            x, y = sets[names[i]], sets[names[j]]
            kx = {key(r): r["_where"] for r in x}
            for r in y:
                if key(r) in kx:
                    errors.append(f"{r['_where']}: pair also in {kx[key(r)]}")
            tx = {norm(r[k]): r["_where"] for r in x for k in ("a", "b")}
            for r in y:
                for k in ("a", "b"):
                    if norm(r[k]) in tx:
                        errors.append(f"{r['_where']}: question {r[k]!r} also in {tx[norm(r[k])]}")
            dx = {r["domain"] for r in x}
            shared = dx & {r["domain"] for r in y}
            if shared:
                errors.append(f"domains shared by {names[i]} and {names[j]}: {sorted(shared)}")
            sx = {" ".join(norm(r[k]).split()[:5]) for r in x for k in ("a", "b") if len(r[k].split()) >= 7}
            sy = {" ".join(norm(r[k]).split()[:5]) for r in y for k in ("a", "b") if len(r[k].split()) >= 7}
            common = sorted(sx & sy)
            print(f"== {names[i]} vs {names[j]}: {len(common)} shared leading 5-word stems"
                  + (f" (warning): {common[:10]}" if common else ""))
    if errors:
        print(f"\n{len(errors)} error(s):")
        for e in errors[:200]:
            print("  " + e)
        sys.exit(1)
    print("\nOK")


if __name__ == "__main__":
    main()
