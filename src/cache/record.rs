//! An answer read as it passes into the normalised whole answer an entry stores: a plain
//! answer as it is, a stream event by event (no byte of the client's stream waits for
//! it). Both only when the answer is complete: every choice finished for `stop`,
//! `length` or tool calls (Anthropic `end_turn`, `max_tokens`, `stop_sequence`,
//! `tool_use`; a Responses `completed`, or `incomplete` for `max_output_tokens`), and a
//! stream reached its final event (`[DONE]`, `message_stop`, `response.completed`).

use serde_json::Value;

use super::{chat, messages, responses};
use crate::api::Api;
use crate::sse::SseParser;

/// Whether a whole answer in `api` is complete enough to store.
pub fn complete(api: Api, answer: &Value) -> bool {
    match api {
        Api::OpenAiChat => chat::complete(answer),
        Api::AnthropicMessages => messages::complete(answer),
        Api::OpenAiResponses => responses::complete(answer),
        Api::OpenAiEmbeddings => answer.get("data").is_some_and(Value::is_array),
    }
}

/// Puts the provider's usage, as the meter read it, into an OpenAI chat answer that has
/// none: a stream translated from another API carries usage only when the client asked
/// for it, yet the entry should hold it. `input` counts cached tokens too.
pub fn fill_usage(api: Api, answer: &mut Value, input: u64, output: u64, cached: u64) {
    let Some(a) = answer.as_object_mut().filter(|_| api == Api::OpenAiChat) else {
        return;
    };
    if a.get("usage").is_some_and(|u| !u.is_null()) {
        return;
    }
    let mut usage = serde_json::json!({
        "prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output});
    if cached > 0 {
        usage["prompt_tokens_details"] = serde_json::json!({"cached_tokens": cached});
    }
    a.insert("usage".into(), usage);
}

enum Accumulator {
    Chat(chat::Accumulator),
    Messages(messages::Accumulator),
    Responses(responses::Accumulator),
}

enum State {
    Plain(Option<Value>),
    Stream(SseParser, Accumulator),
    /// Too large, or nothing an entry can hold.
    GaveUp,
}

/// One answer on its way to the client, in the client's API.
pub struct AnswerRecorder {
    api: Api,
    /// Bytes of answer held at most (`cache.max_entry_bytes`).
    limit: usize,
    state: State,
}

impl AnswerRecorder {
    /// For a plain answer (`stream` false) or an event stream in `api`.
    pub fn new(api: Api, stream: bool, limit: usize) -> AnswerRecorder {
        let state = match (stream, api) {
            (false, _) => State::Plain(None),
            (true, Api::OpenAiChat) => {
                State::Stream(SseParser::new(), Accumulator::Chat(Default::default()))
            }
            (true, Api::AnthropicMessages) => {
                State::Stream(SseParser::new(), Accumulator::Messages(Default::default()))
            }
            (true, Api::OpenAiResponses) => {
                State::Stream(SseParser::new(), Accumulator::Responses(Default::default()))
            }
            (true, Api::OpenAiEmbeddings) => State::GaveUp,
        };
        AnswerRecorder { api, limit, state }
    }

    /// The whole plain answer.
    pub fn whole(&mut self, body: &[u8]) {
        if !matches!(self.state, State::Plain(_)) {
            return;
        }
        self.state = match serde_json::from_slice::<Value>(body) {
            Ok(v) if body.len() <= self.limit && complete(self.api, &v) => State::Plain(Some(v)),
            _ => State::GaveUp,
        };
    }

    /// The next bytes of the stream, as the client gets them (before the output guard).
    pub fn feed(&mut self, bytes: &[u8]) {
        let State::Stream(parser, acc) = &mut self.state else {
            return;
        };
        parser.feed(bytes);
        while let Some(event) = parser.next_event() {
            match acc {
                Accumulator::Chat(a) => a.on_event(&event.data),
                Accumulator::Messages(a) => a.on_event(&event.data),
                Accumulator::Responses(a) => a.on_event(&event.data),
            }
        }
        let held = match acc {
            Accumulator::Chat(a) => a.held,
            Accumulator::Messages(a) => a.held,
            Accumulator::Responses(a) => a.held,
        };
        if held > self.limit {
            self.state = State::GaveUp;
        }
    }

    /// The whole answer, if it is complete (a stream that ended without its final
    /// event, or mid-event, is not).
    pub fn finish(self) -> Option<Value> {
        match self.state {
            State::Plain(answer) => answer,
            State::Stream(mut parser, acc) => {
                if parser.has_partial_event() {
                    return None;
                }
                let _ = parser.finish();
                match acc {
                    Accumulator::Chat(a) => a.finish(),
                    Accumulator::Messages(a) => a.finish(),
                    Accumulator::Responses(a) => a.finish(),
                }
            }
            State::GaveUp => None,
        }
    }
}
