//! OpenAI chat-completions client, Anthropic Messages provider: the request translated
//! to Anthropic, the answer (whole, error or streamed) translated back to OpenAI.

pub mod answer;
pub mod request;
pub mod stream;

pub use answer::{finish_reason, structured_as_content, translate_error, translate_response};
pub use request::{structured_output_tool, translate_request};
pub use stream::StreamTranslator;

#[cfg(test)]
mod tests;
