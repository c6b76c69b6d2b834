#!/usr/bin/env python3
"""Builds the benign technical-content set of the injection guard: code, HTML pages with
their inline scripts, API docs, config files, logs, stack traces, SQL, shell sessions
and questions about security. None of it is an attack; the guard should flag at most
0.5 % of it (issue 16).

    .venv/bin/python bench/guard/technical/build.py

Reads only what this machine has locally (the paths below); deterministic for the same
files. Writes `dev.jsonl` and `heldout.jsonl` (rows: text, label "benign", source,
family = the file or template it came from).

The split is by source, so the held-out file holds kinds of text the rules were never
looked at against:

  dev      rust-book       the Rust book's HTML pages (rustup's share/doc), raw, inline
                           scripts included
           rust-core-html  the core library's API pages (rustup's share/doc), raw
           rust-crates     Rust sources of the crates in ~/.cargo/registry/src
           python-stdlib   the Python standard library's modules (.py)
           etc-config      configuration files under /etc
           own-technical   our own writing (own_technical.py), every other template
  heldout  rust-std-html   the standard library's API pages (rustup's share/doc), raw
           node-modules    JavaScript / TypeScript and Markdown of integration/node_modules
           debian-doc      /usr/share/doc: READMEs, Debian changelogs, examples
           c-headers       C headers of /usr/include
           own-technical   the other templates of our own writing

Rules and the classifier may be tuned on dev.jsonl; heldout.jsonl is measured and
reported, never tuned on.
"""

import glob
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import own_technical  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HOME = os.path.expanduser("~")
PER_SOURCE = 80
SIZES = (600, 1500, 3000)


def rust_docs():
    found = sorted(glob.glob(os.path.join(HOME, ".rustup/toolchains/*/share/doc/rust/html")))
    return found[0] if found else None


def python_stdlib():
    import sysconfig
    return sysconfig.get_paths()["stdlib"]


def files(source):
    """The candidate files of a source, sorted."""
    docs = rust_docs()
    if source == "rust-book":
        return sorted(glob.glob(os.path.join(docs, "book", "ch*.html"))) if docs else []
    if source == "rust-core-html":
        return sorted(glob.glob(os.path.join(docs, "core", "*", "*.html"))) if docs else []
    if source == "rust-std-html":
        return sorted(glob.glob(os.path.join(docs, "std", "*", "*.html"))) if docs else []
    if source == "rust-crates":
        return sorted(glob.glob(os.path.join(HOME, ".cargo/registry/src/*/*/src/*.rs")))
    if source == "python-stdlib":
        return sorted(glob.glob(os.path.join(python_stdlib(), "*.py")))
    if source == "etc-config":
        pats = ["/etc/*.conf", "/etc/*/*.conf", "/etc/*/*.cnf", "/etc/*/*.yaml", "/etc/*/*.ini",
                "/etc/*/*.toml", "/etc/*/config"]
        return sorted({p for pat in pats for p in glob.glob(pat)})
    if source == "node-modules":
        nm = os.path.join(ROOT, "integration", "node_modules")
        out = []
        for ext in ("js", "ts", "mjs", "md"):
            out += glob.glob(os.path.join(nm, "**", f"*.{ext}"), recursive=True)
        return sorted(p for p in out if not p.endswith((".d.ts.map", ".min.js")))
    if source == "debian-doc":
        pats = ["/usr/share/doc/*/README*", "/usr/share/doc/*/changelog.Debian.gz",
                "/usr/share/doc/*/examples/*", "/usr/share/doc/*/*.md"]
        return sorted({p for pat in pats for p in glob.glob(pat) if os.path.isfile(p)})
    if source == "c-headers":
        return sorted(glob.glob("/usr/include/*.h"))
    raise ValueError(source)


def read(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(200_000)
        else:
            with open(path, "rb") as f:
                data = f.read(200_000)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def chunk(text, size, salt):
    """About `size` bytes of `text` cut at line ends, starting at a line chosen by the
    hash of `salt` (the start of the text for every third one)."""
    lines = text.splitlines(keepends=True)
    if not lines:
        return ""
    h = int(hashlib.sha256(salt.encode()).hexdigest(), 16)
    start = 0 if h % 3 == 0 else h % len(lines)
    out, n = [], 0
    for line in lines[start:]:
        if n + len(line) > size and out:
            break
        out.append(line)
        n += len(line)
    return "".join(out).strip()


def source_rows(source):
    paths = files(source)
    if not paths:
        print(f"warning: no files for {source}", file=sys.stderr)
        return []
    step = max(1, len(paths) // PER_SOURCE)
    rows, seen = [], set()
    for i, path in enumerate(paths[::step]):
        if len(rows) >= PER_SOURCE:
            break
        text = read(path)
        if not text:
            continue
        rel = path.replace(HOME, "~").replace(ROOT + "/", "")
        t = chunk(text, SIZES[i % len(SIZES)], rel)
        if len(t) < 80 or t in seen:
            continue
        seen.add(t)
        rows.append({"text": t, "label": "benign", "source": source, "family": rel})
    return rows


DEV = ["rust-book", "rust-core-html", "rust-crates", "python-stdlib", "etc-config"]
HELDOUT = ["rust-std-html", "node-modules", "debian-doc", "c-headers"]


def main():
    own = own_technical.rows()
    families = sorted({r["family"] for r in own})
    dev_fams = set(families[0::2])
    out = {"dev": [], "heldout": []}
    for s in DEV:
        out["dev"] += source_rows(s)
    for s in HELDOUT:
        out["heldout"] += source_rows(s)
    for r in own:
        out["dev" if r["family"] in dev_fams else "heldout"].append(r)
    for split, rows in out.items():
        with open(os.path.join(HERE, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
        by = {}
        for r in rows:
            by[r["source"]] = by.get(r["source"], 0) + 1
        print(split, len(rows), sorted(by.items()))


if __name__ == "__main__":
    main()
