//! Anthropic Messages client, OpenAI chat-completions provider (OpenAI, vLLM, Ollama):
//! the request translated to OpenAI, the answer (whole, error or streamed) translated
//! back to Anthropic.

pub mod answer;
pub mod request;
pub mod stream;

pub use answer::{error_type, stop_reason, translate_error, translate_response};
pub use request::translate_request;
pub use stream::StreamTranslator;

#[cfg(test)]
mod tests;
