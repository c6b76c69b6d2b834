"""Regenerates bench/prose.txt, the English text the token-speed benchmarks count.

Source: the prose paragraphs of the Python Language Reference as shipped inside CPython
itself (`pydoc_data/topics.py`, the text behind `help('assignment')` etc.), licensed under
the PSF License, which allows redistribution. Grammar blocks, code examples (indented
lines) and headings are dropped, and each paragraph is joined into one line, so what is
left is English technical prose. Topics are taken in sorted order until ~200 KB.

The committed prose.txt is what the benchmark uses; this script only documents (and can
repeat) how it was made: `python3 bench/make_prose.py > bench/prose.txt`.
"""

import re
import sys

import pydoc_data.topics as topics

TARGET_BYTES = 200_000


def prose_paragraphs(text: str):
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        # Headings are underlined with *, = or -; code and grammar are indented.
        if any(re.fullmatch(r"[*=\-]{3,}", l.strip()) for l in lines):
            continue
        if any(l.startswith((" ", "\t", ">>>")) for l in lines):
            continue
        para = " ".join(l.strip() for l in lines).strip()
        letters = sum(c.isalpha() or c.isspace() for c in para)
        if len(para) < 80 or letters / len(para) < 0.85:
            continue
        yield para


def main() -> None:
    out, size = [], 0
    for name in sorted(topics.topics):
        for para in prose_paragraphs(topics.topics[name]):
            out.append(para)
            size += len(para.encode()) + 2
            if size >= TARGET_BYTES:
                break
        if size >= TARGET_BYTES:
            break
    sys.stdout.write("\n\n".join(out) + "\n")


if __name__ == "__main__":
    main()
