//! Prompt-injection detection (work in progress).
