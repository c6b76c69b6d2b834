#!/usr/bin/env bash
# Fills .cache/tiktoken/ so Python's tiktoken works offline (TIKTOKEN_CACHE_DIR).
#
# The tiktoken-rs crate ships the same encoding files, byte for byte, as OpenAI's public
# blob store. Python's tiktoken names a cached file by the sha1 hex of its download URL,
# so we copy each file under that name.
set -euo pipefail
cd "$(dirname "$0")/.."

dest=.cache/tiktoken
mkdir -p "$dest"

manifest=$(cargo metadata --format-version 1 | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "tiktoken-rs":
        print(p["manifest_path"])
        break
')
if [[ -z "$manifest" ]]; then
  echo "tiktoken-cache: tiktoken-rs is not a dependency of this workspace" >&2
  exit 1
fi
assets="$(dirname "$manifest")/assets"

for name in o200k_base cl100k_base; do
  src="$assets/$name.tiktoken"
  [[ -f "$src" ]] || { echo "tiktoken-cache: missing $src" >&2; exit 1; }
  url="https://openaipublic.blob.core.windows.net/encodings/$name.tiktoken"
  key=$(printf '%s' "$url" | sha1sum | cut -d' ' -f1)
  if ! cmp -s "$src" "$dest/$key"; then
    cp "$src" "$dest/$key"
  fi
done
