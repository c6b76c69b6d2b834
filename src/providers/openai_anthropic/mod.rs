//! OpenAI chat-completions client, Anthropic Messages provider: the request translated
//! to Anthropic, the answer (whole, error or streamed) translated back to OpenAI.

pub mod answer;
pub mod request;
pub mod stream;

pub use answer::{finish_reason, translate_error, translate_response};
pub use request::translate_request;
pub use stream::StreamTranslator;

#[cfg(test)]
mod tests;
