//! Anthropic Messages request -> OpenAI chat-completions request (work in progress).
