//! OpenAI Responses client, Anthropic Messages provider: the request translated to
//! Anthropic, the answer (whole, error or streamed as typed events) translated back to
//! Responses.

pub mod answer;
pub mod request;
pub mod stream;

pub use answer::translate_response;
pub use request::translate_request;
pub use stream::StreamTranslator;

#[cfg(test)]
mod tests;
