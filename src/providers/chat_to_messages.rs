//! OpenAI chat-completions response -> Anthropic Messages response, plain and streaming (work in progress).
