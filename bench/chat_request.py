"""Writes the benchmark's chat requests: OpenAI chat-completions bodies of ~1000 input
tokens (model gpt-4o, English prose from bench/prose.txt), plain and streaming.

  python bench/chat_request.py OUT_DIR   -> OUT_DIR/chat-plain.json, OUT_DIR/chat-stream.json

Prints the input tokens by OpenAI's counting method (tiktoken o200k_base: 3 per message,
content tokens, 3 priming the reply) as JSON, so the report can show the number checked.
"""

import json
import sys
from pathlib import Path

import tiktoken

HERE = Path(__file__).resolve().parent
TARGET_TOKENS = 1000
SYSTEM = "You are a concise assistant. Summarise the user's text in three sentences."


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    enc = tiktoken.get_encoding("o200k_base")
    paragraphs = [p for p in (HERE / "prose.txt").read_text().split("\n\n") if p.strip()]

    def input_tokens(messages) -> int:
        # OpenAI cookbook: 3 per message, each string field encoded, 3 to prime the reply.
        return sum(3 + len(enc.encode_ordinary(m["role"])) + len(enc.encode_ordinary(m["content"]))
                   for m in messages) + 3

    # Add whole paragraphs, then words of the next one, until the request is ~1000 tokens.
    user = ""
    for para in paragraphs:
        cand = (user + "\n\n" + para) if user else para
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": cand}]
        if input_tokens(messages) > TARGET_TOKENS:
            words = para.split(" ")
            for w in words:
                cand = user + (" " if user else "") + w
                m2 = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": cand}]
                if input_tokens(m2) > TARGET_TOKENS:
                    break
                user = cand
            break
        user = cand
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    plain = {"model": "gpt-4o", "messages": messages, "max_tokens": 64}
    stream = dict(plain, stream=True)
    (out / "chat-plain.json").write_text(json.dumps(plain))
    (out / "chat-stream.json").write_text(json.dumps(stream))
    print(json.dumps({
        "input_tokens": input_tokens(messages),
        "content_tokens": sum(len(enc.encode_ordinary(m["content"])) for m in messages),
        "body_bytes": len(json.dumps(plain)),
        "tiktoken": tiktoken.__version__,
    }))


if __name__ == "__main__":
    main()
