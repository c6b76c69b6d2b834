#!/usr/bin/env python3
"""Build dev.jsonl and heldout.jsonl from the hand-written sources in src/.

Deterministic (no randomness beyond a fixed hash of the text): running it twice
gives byte-identical files. Every question in the output was written by hand in
src/*.txt; the only generated text is the near_repeat noise added below to base
questions that have no hand-written near repeat (greetings, filler, casing,
punctuation, trailing context that does not change the meaning).

Usage: python3 gen.py            (writes dev.jsonl and heldout.jsonl next to it)
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

KINDS = {
    "P": ("positive", "paraphrase"),
    "R": ("positive", "near_repeat"),
    "N": ("negative", "negation"),
    "D": ("negative", "number"),
    "E": ("negative", "entity"),
    "S": ("negative", "scope"),
}

# Meaning-preserving noise for near repeats, one family per set so the
# held-out near repeats do not share templates with dev.
NOISE = {
    "dev": {
        "pre": ["Hey, ", "Hi, ", "Hello! ", "Quick question: ", "Hi there, ", "Hey there - "],
        "post": [" Thanks!", " Thank you.", " Any help welcome.", " thx", " Thanks in advance.", " Cheers."],
        "ctx": [
            " Just want to double check.",
            " Asking for my wife.",
            " Sorry if this was asked before.",
            " I couldn't find it on the website.",
        ],
    },
    "heldout": {
        "pre": ["Good morning, ", "hello, ", "Excuse me, ", "One thing: ", "Hiya, ", "Morning! "],
        "post": [" Many thanks.", " Appreciate it!", " ty", " Thanks a lot!", " Kind regards.", " much appreciated"],
        "ctx": [
            " I've looked everywhere and can't find it.",
            " Asking on behalf of my father.",
            " Sorry, bit of a basic one.",
            " Need to know today if possible.",
        ],
    },
}


def h(text):
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def lower_first(s):
    return s[0].lower() + s[1:] if s and not s.startswith("I ") and not s.startswith("I'") else s


FILLERS = {
    "heldout": [
        ("Is it possible", "Is it at all possible"),
        ("Could I ", "Could I maybe "),
        ("Are ", "So are "),
        ("What's ", "What exactly is "),
        ("Does ", "Does anyone know - does "),
        ("Is ", "Just wondering, is "),
    ],
    "dev": [
    ("Can I ", "Can I please "),
    ("How do I ", "So how do I "),
    ("What is ", "What's "),
    ("What's ", "What is "),
    ("Is there ", "Is there actually "),
    ("Do you ", "Do you guys "),
    ("Why ", "So why "),
    ],
}


def near_repeat(q, split):
    """Deterministic light noise that leaves the meaning unchanged."""
    n = NOISE[split]
    x = h(split + q)
    style = x % 7
    pre = n["pre"][(x >> 8) % len(n["pre"])]
    post = n["post"][(x >> 16) % len(n["post"])]
    ctx = n["ctx"][(x >> 24) % len(n["ctx"])]
    if style == 0:
        return pre + lower_first(q)
    if style == 1:
        return q + post
    if style == 2:
        return pre.lower() + q.lower().rstrip("?.!") + (" pls" if split == "dev" else " please")
    if style == 3:
        return pre + lower_first(q) + ctx
    if style == 4:
        return q.rstrip("?") + "??" + post
    if style == 5:
        for old, new in FILLERS[split]:
            if q.startswith(old):
                return new + q[len(old):] + post
        return q.rstrip("?.!") + ", please?" + ctx
    return q.rstrip("?.!").upper() + "?" if len(q) < 60 else pre + q.lower()


def parse(path):
    items = []  # (domain, base, [(code, text)])
    domain = None
    for ln, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        code, _, text = line.partition(" ")
        text = text.strip()
        if code == "@":
            domain = text
        elif code == "Q":
            items.append((domain, text, []))
        elif code in KINDS:
            if not items:
                sys.exit(f"{path}:{ln}: pair line before any Q")
            items[-1][2].append((code, text))
        else:
            sys.exit(f"{path}:{ln}: unknown code {code!r}")
    return items


def build(split, near_quota):
    items = parse(os.path.join(HERE, "src", split + ".txt"))
    rows = []
    # Items without a hand-written near repeat get a generated one, picked
    # deterministically (by hash) until the quota of near repeats is met.
    have = sum(1 for _, _, ps in items for c, _ in ps if c == "R")
    candidates = sorted(
        (i for i, (_, _, ps) in enumerate(items) if not any(c == "R" for c, _ in ps)),
        key=lambda i: h(split + items[i][1]),
    )
    add_near = set(candidates[: max(0, near_quota - have)])
    for i, (domain, base, pairs) in enumerate(items):
        if i in add_near:
            pairs = pairs + [("R", near_repeat(base, split))]
        for code, text in pairs:
            label, kind = KINDS[code]
            a, b = base, text
            if h(a + "|" + b) % 2:  # base is not always on the left
                a, b = b, a
            rows.append({"a": a, "b": b, "label": label, "kind": kind, "domain": domain})
    return rows


def main():
    for split, quota in (("dev", 100), ("heldout", 50)):
        src = os.path.join(HERE, "src", split + ".txt")
        if not os.path.exists(src):
            continue
        rows = build(split, quota)
        with open(os.path.join(HERE, split + ".jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{split}: {len(rows)} pairs")


if __name__ == "__main__":
    main()
