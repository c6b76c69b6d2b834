#!/usr/bin/env bash
# Regenerates src/tokens/data/*.bin: the o200k_base and cl100k_base vocabularies (from
# tiktoken-rs, the dev-dependency oracle) and the Unicode class table (from regex-syntax,
# the Unicode tables tiktoken-rs's regexes use). Run after bumping either crate; the
# tests `vocab_files_equal_tiktoken` and `charclass_table_matches_regex_syntax` fail
# until the files match.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -p llm-gateway --no-default-features --lib \
  tokens::differential::regenerate_data_files -- --ignored --exact --nocapture
