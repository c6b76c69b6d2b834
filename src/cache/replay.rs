//! A stored whole answer sent back as a stream in its API, in several events: text in
//! pieces of about 24 bytes cut before whitespace, the usage the provider reported, and
//! the API's final event (`data: [DONE]`, `message_stop`, `response.completed`).

use serde_json::Value;

use super::{chat, messages, responses};
use crate::api::Api;

/// The event stream of `answer`; `include_usage`: an OpenAI chat client asked for the
/// usage chunk (`stream_options.include_usage`), which it gets before `[DONE]`. `None`
/// when the answer holds something the stream cannot carry (OpenAI logprobs, audio,
/// annotations; Anthropic citations) or the API has no stream (embeddings): the lookup
/// is then a miss.
pub fn stream(api: Api, answer: &Value, include_usage: bool) -> Option<Vec<u8>> {
    match api {
        Api::OpenAiChat => chat::replay(answer, include_usage),
        Api::AnthropicMessages => messages::replay(answer),
        Api::OpenAiResponses => responses::replay(answer),
        Api::OpenAiEmbeddings => None,
    }
}
