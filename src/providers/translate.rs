//! The translation directions behind one switch: which one applies to a client and a
//! provider, and the answer (whole or streamed) turned back into the client's format.
//! The direction-specific work lives in one folder per client->provider pair.

use serde_json::{Map, Value};

use super::{anthropic_openai, openai_anthropic, responses_anthropic};
use crate::api::Api;
use crate::errors::UserError;

/// A client of one API served by a provider of the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// OpenAI chat-completions client, Anthropic Messages provider.
    OpenAiToAnthropic,
    /// Anthropic Messages client, OpenAI chat-completions provider (OpenAI, vLLM, Ollama).
    AnthropicToOpenAi,
    /// OpenAI Responses client, Anthropic Messages provider.
    ResponsesToAnthropic,
}

impl Direction {
    /// The direction for a client format and the format the provider speaks; `None`
    /// when no translation is needed (same format, or a provider that speaks both).
    pub fn between(client: Api, provider: Api) -> Option<Direction> {
        match (client, provider) {
            (Api::OpenAiChat, Api::AnthropicMessages) => Some(Direction::OpenAiToAnthropic),
            (Api::AnthropicMessages, Api::OpenAiChat) => Some(Direction::AnthropicToOpenAi),
            (Api::OpenAiResponses, Api::AnthropicMessages) => Some(Direction::ResponsesToAnthropic),
            _ => None,
        }
    }

    /// The provider's path for this direction.
    pub fn upstream_path(self) -> &'static str {
        self.upstream_api().upstream_path()
    }

    /// The API the provider is spoken to in.
    pub fn upstream_api(self) -> Api {
        match self {
            Direction::OpenAiToAnthropic | Direction::ResponsesToAnthropic => {
                Api::AnthropicMessages
            }
            Direction::AnthropicToOpenAi => Api::OpenAiChat,
        }
    }

    /// The request body in the provider's format, for `upstream_model`.
    /// `max_output_tokens` is the client's cap; Anthropic requires one, so the default
    /// applies when the client set none.
    pub fn request(
        self,
        req: &Map<String, Value>,
        upstream_model: &str,
        max_output_tokens: Option<u64>,
    ) -> Result<Vec<u8>, UserError> {
        match self {
            Direction::OpenAiToAnthropic => openai_anthropic::translate_request(
                req,
                upstream_model,
                max_output_tokens.unwrap_or(DEFAULT_TRANSLATED_MAX_TOKENS),
            ),
            Direction::AnthropicToOpenAi => {
                anthropic_openai::translate_request(req, upstream_model)
            }
            Direction::ResponsesToAnthropic => responses_anthropic::translate_request(
                req,
                upstream_model,
                max_output_tokens.unwrap_or(DEFAULT_TRANSLATED_MAX_TOKENS),
            ),
        }
    }

    /// The tool that carries the request's structured output through this translation
    /// (a Claude model is made to call it; its input is the client's content).
    pub fn structured_tool(self, req: &Map<String, Value>) -> Option<String> {
        match self {
            Direction::OpenAiToAnthropic => openai_anthropic::structured_output_tool(req),
            // Responses' JSON formats are refused for Claude models (responses_anthropic).
            Direction::AnthropicToOpenAi | Direction::ResponsesToAnthropic => None,
        }
    }

    /// A whole answer or error of the provider, in the client's format. `model` names
    /// the model in the answer; `structured` is [`Direction::structured_tool`].
    pub fn whole_body(
        self,
        model: &str,
        status: u32,
        body: &[u8],
        created: u64,
        structured: Option<&str>,
    ) -> Vec<u8> {
        match self {
            Direction::OpenAiToAnthropic => {
                if status >= 400 {
                    return openai_anthropic::translate_error(status, body);
                }
                match serde_json::from_slice::<Value>(body) {
                    Ok(v) => {
                        let mut answer = openai_anthropic::translate_response(&v, model, created);
                        if let Some(tool) = structured {
                            openai_anthropic::structured_as_content(&mut answer, tool);
                        }
                        answer.to_string().into_bytes()
                    }
                    Err(_) => openai_anthropic::translate_error(502, body),
                }
            }
            Direction::AnthropicToOpenAi => {
                if status >= 400 {
                    return anthropic_openai::translate_error(status, body);
                }
                match serde_json::from_slice::<Value>(body) {
                    Ok(v) => anthropic_openai::translate_response(&v, model)
                        .to_string()
                        .into_bytes(),
                    Err(_) => anthropic_openai::translate_error(502, body),
                }
            }
            Direction::ResponsesToAnthropic => {
                // The Responses API's errors are OpenAI's envelope.
                if status >= 400 {
                    return openai_anthropic::translate_error(status, body);
                }
                match serde_json::from_slice::<Value>(body) {
                    Ok(v) => responses_anthropic::translate_response(&v, model, created)
                        .to_string()
                        .into_bytes(),
                    Err(_) => openai_anthropic::translate_error(502, body),
                }
            }
        }
    }
}

/// `max_tokens` sent to Anthropic (which requires it) when an OpenAI client set none.
pub const DEFAULT_TRANSLATED_MAX_TOKENS: u64 = 4096;

/// A provider's event stream turned into the client's, event by event.
#[derive(Debug)]
pub enum StreamBack {
    ToOpenAi(openai_anthropic::StreamTranslator),
    ToAnthropic(anthropic_openai::StreamTranslator),
    ToResponses(responses_anthropic::StreamTranslator),
}

impl StreamBack {
    /// `id_seed` names the stream until the provider's id is known; `include_usage` is
    /// the OpenAI client's `stream_options.include_usage`; `created` in Unix seconds;
    /// `structured` is [`Direction::structured_tool`].
    pub fn new(
        direction: Direction,
        model: &str,
        id_seed: &str,
        include_usage: bool,
        created: u64,
        structured: Option<&str>,
    ) -> StreamBack {
        match direction {
            Direction::OpenAiToAnthropic => {
                StreamBack::ToOpenAi(openai_anthropic::StreamTranslator::new(
                    model,
                    id_seed,
                    include_usage,
                    created,
                    structured,
                ))
            }
            Direction::AnthropicToOpenAi => {
                StreamBack::ToAnthropic(anthropic_openai::StreamTranslator::new(model, id_seed))
            }
            Direction::ResponsesToAnthropic => StreamBack::ToResponses(
                responses_anthropic::StreamTranslator::new(model, id_seed, created),
            ),
        }
    }

    /// Whole client events for the provider's bytes so far.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self {
            StreamBack::ToOpenAi(t) => t.feed(bytes),
            StreamBack::ToAnthropic(t) => t.feed(bytes),
            StreamBack::ToResponses(t) => t.feed(bytes),
        }
    }

    /// Ends the stream; one the provider stopped early ends with an error event.
    pub fn finish(&mut self) -> Vec<u8> {
        match self {
            StreamBack::ToOpenAi(t) => t.finish(),
            StreamBack::ToAnthropic(t) => t.finish(),
            StreamBack::ToResponses(t) => t.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_between_formats() {
        use crate::api::ProviderFormat;
        use Api::*;
        assert_eq!(
            Direction::between(OpenAiChat, AnthropicMessages),
            Some(Direction::OpenAiToAnthropic)
        );
        assert_eq!(
            Direction::between(AnthropicMessages, OpenAiChat),
            Some(Direction::AnthropicToOpenAi)
        );
        assert_eq!(Direction::between(OpenAiChat, OpenAiChat), None);
        assert_eq!(
            Direction::between(
                AnthropicMessages,
                ProviderFormat::Both.api_for(AnthropicMessages).unwrap()
            ),
            None
        );
        assert_eq!(
            Direction::AnthropicToOpenAi.upstream_path(),
            "/v1/chat/completions"
        );
    }

    #[test]
    fn whole_bodies_come_back_in_the_clients_envelope() {
        let d = Direction::AnthropicToOpenAi;
        let ok: Value = serde_json::from_slice(&d.whole_body(
            "gpt-4o",
            200,
            br#"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#,
            0,
            None,
        ))
        .unwrap();
        assert_eq!(ok["type"], "message");
        assert_eq!(ok["content"][0]["text"], "hi");
        let err: Value =
            serde_json::from_slice(&d.whole_body("gpt-4o", 503, b"not json", 0, None)).unwrap();
        assert_eq!(err["type"], "error");
        let garbled: Value =
            serde_json::from_slice(&d.whole_body("gpt-4o", 200, b"{", 0, None)).unwrap();
        assert_eq!(garbled["type"], "error");
    }
}
