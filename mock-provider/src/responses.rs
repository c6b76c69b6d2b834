//! OpenAI Responses bodies: the `response` object, its typed stream events, the error
//! envelope (OpenAI's), and the store behind `GET`/`DELETE /v1/responses/{id}`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::openai::{Completion, CREATED};
use crate::stream::{named_event, EventStream};

/// How many created responses are kept for `GET /v1/responses/{id}` (oldest dropped).
pub const STORE_CAPACITY: usize = 1000;

/// `fc_mock_<n>` / `call_mock_<n>` / `msg_mock_<n>` for the response `resp_mock_<n>`.
fn item_id(c: &Completion, prefix: &str) -> String {
    format!("{prefix}_{}", c.id.trim_start_matches("resp_"))
}

/// The output item of a completion, `done` or in progress (empty text or arguments).
fn output_item(c: &Completion, done: bool) -> Value {
    let status = if done { "completed" } else { "in_progress" };
    match c.tool_call {
        Some((name, input)) => json!({
            "type": "function_call", "id": item_id(c, "fc"), "call_id": item_id(c, "call"),
            "name": name, "arguments": if done { input.to_string() } else { String::new() },
            "status": status,
        }),
        None => json!({
            "type": "message", "id": item_id(c, "msg"), "status": status, "role": "assistant",
            "content": if done { json!([text_part(c.answer)]) } else { json!([]) },
        }),
    }
}

fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// The `response` object: `done` with its output and usage, or as it starts.
pub fn response_object(c: &Completion, request: &Map<String, Value>, done: bool) -> Value {
    let field = |key: &str, default: Value| request.get(key).cloned().unwrap_or(default);
    let usage = match (done, c.usage) {
        (true, Some(u)) => json!({
            "input_tokens": u.input, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": u.output, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": u.input + u.output,
        }),
        _ => Value::Null,
    };
    json!({
        "id": c.id,
        "object": "response",
        "created_at": CREATED,
        "status": if done { "completed" } else { "in_progress" },
        "error": null,
        "incomplete_details": null,
        "instructions": field("instructions", Value::Null),
        "max_output_tokens": field("max_output_tokens", Value::Null),
        "model": c.model,
        "output": if done { json!([output_item(c, true)]) } else { json!([]) },
        "parallel_tool_calls": field("parallel_tool_calls", json!(true)),
        "previous_response_id": field("previous_response_id", Value::Null),
        "reasoning": {"effort": null, "summary": null},
        "store": field("store", json!(true)),
        "temperature": field("temperature", json!(1.0)),
        "text": field("text", json!({"format": {"type": "text"}})),
        "tool_choice": field("tool_choice", json!("auto")),
        "tools": field("tools", json!([])),
        "top_p": field("top_p", json!(1.0)),
        "truncation": "disabled",
        "usage": usage,
        "metadata": field("metadata", json!({})),
    })
}

/// The typed events of a streamed response, numbered from 0: `response.created`,
/// `response.in_progress`, the output item added (and its text part), the text deltas
/// (or the arguments in pieces), the `.done` events, then `response.completed` with
/// the usage.
pub fn stream_events(c: &Completion, request: &Map<String, Value>) -> EventStream {
    let mut events: Vec<Value> = Vec::new();
    let started = response_object(c, request, false);
    events.push(json!({"type": "response.created", "response": started}));
    events.push(json!({"type": "response.in_progress", "response": started}));
    events.push(
        json!({"type": "response.output_item.added", "output_index": 0,
                       "item": output_item(c, false)}),
    );
    let item_id = output_item(c, false)["id"].clone();
    match c.tool_call {
        Some((_, input)) => {
            let arguments = input.to_string();
            for piece in crate::openai::argument_pieces(&arguments) {
                events.push(json!({"type": "response.function_call_arguments.delta",
                    "item_id": item_id, "output_index": 0, "delta": piece}));
            }
            events.push(json!({"type": "response.function_call_arguments.done",
                "item_id": item_id, "output_index": 0, "arguments": arguments}));
        }
        None => {
            let at = json!({"item_id": item_id, "output_index": 0, "content_index": 0});
            let with = |mut v: Value| {
                if let (Value::Object(o), Value::Object(a)) = (&mut v, &at) {
                    o.extend(a.clone());
                }
                v
            };
            events.push(with(
                json!({"type": "response.content_part.added", "part": text_part("")}),
            ));
            for text in &c.chunks {
                events.push(with(json!({"type": "response.output_text.delta",
                                        "delta": text, "logprobs": []})));
            }
            events.push(with(json!({"type": "response.output_text.done",
                                    "text": c.answer, "logprobs": []})));
            events.push(with(
                json!({"type": "response.content_part.done", "part": text_part(c.answer)}),
            ));
        }
    }
    events.push(
        json!({"type": "response.output_item.done", "output_index": 0,
                       "item": output_item(c, true)}),
    );
    events
        .push(json!({"type": "response.completed", "response": response_object(c, request, true)}));
    let preamble = if c.tool_call.is_some() { 3 } else { 4 };
    let events = events
        .into_iter()
        .enumerate()
        .map(|(n, mut e)| {
            e["sequence_number"] = json!(n);
            let name = e["type"].as_str().unwrap_or_default().to_string();
            named_event(&name, &e)
        })
        .collect();
    EventStream { events, preamble }
}

/// A stored response and the input items it was created from.
#[derive(Debug, Clone)]
struct Stored {
    response: Value,
    input: Vec<Value>,
}

/// The responses created with `store` (OpenAI's default), by id.
#[derive(Debug, Default)]
pub struct ResponseStore {
    entries: Mutex<VecDeque<(String, Stored)>>,
}

/// What a stored-response request gets: status and body.
pub type StoreAnswer = (u16, Value);

fn not_found(id: &str) -> StoreAnswer {
    (
        404,
        json!({"error": {"message": format!("Response with id '{id}' not found."),
                         "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

impl ResponseStore {
    /// Keeps a created response (with ids given to its input items).
    pub fn keep(&self, response: &Value, request: &Map<String, Value>) {
        let Some(id) = response["id"].as_str() else {
            return;
        };
        let input = match request.get("input") {
            Some(Value::String(s)) => vec![json!({"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": s}]})],
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let input = input
            .into_iter()
            .enumerate()
            .map(|(i, mut item)| {
                if item.get("id").is_none() && item.is_object() {
                    item["id"] = json!(format!("in_{i}_{id}"));
                }
                item
            })
            .collect();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == STORE_CAPACITY {
            entries.pop_front();
        }
        let stored = Stored {
            response: response.clone(),
            input,
        };
        entries.push_back((id.to_string(), stored));
    }

    fn find(&self, id: &str) -> Option<Stored> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, s)| s.clone())
    }

    /// Whether a response with this id is stored (for `previous_response_id`).
    pub fn has(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// `GET <id>`, `DELETE <id>`, `GET <id>/input_items`, `POST <id>/cancel` (`rest` is
    /// the path below `/v1/responses/`); `None` for another method or path.
    pub fn answer(&self, method: &str, rest: &str) -> Option<StoreAnswer> {
        let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
        let stored = self.find(id);
        Some(match (method, sub, stored) {
            ("GET", "", Some(s)) => (200, s.response),
            ("DELETE", "", Some(_)) => {
                let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                entries.retain(|(k, _)| k != id);
                (
                    200,
                    json!({"id": id, "object": "response", "deleted": true}),
                )
            }
            ("GET", "input_items", Some(s)) => (
                200,
                json!({"object": "list", "data": s.input, "has_more": false,
                       "first_id": s.input.first().and_then(|i| i.get("id")),
                       "last_id": s.input.last().and_then(|i| i.get("id"))}),
            ),
            ("POST", "cancel", Some(_)) => (
                400,
                json!({"error": {"message": "Only responses created with background=true can be cancelled.",
                                 "type": "invalid_request_error", "param": null, "code": null}}),
            ),
            ("GET" | "DELETE", "", None)
            | ("GET", "input_items", None)
            | ("POST", "cancel", None) => not_found(id),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::Usage;
    use llm_gateway::providers::openai_responses::read_stream_event;

    fn completion<'a>(call: Option<&'a (String, Value)>) -> Completion<'a> {
        Completion {
            id: "resp_mock_1".into(),
            model: "gpt-4o",
            answer: "Hi there",
            chunks: vec!["Hi", " there"],
            usage: Some(Usage {
                input: 10,
                output: 2,
            }),
            tool_call: call,
            choices: 1,
        }
    }

    fn parse(stream: &EventStream) -> Vec<(String, Value)> {
        stream
            .events
            .iter()
            .map(|e| {
                let text = std::str::from_utf8(e).unwrap();
                let (name, data) = text.trim_end().split_once("\ndata: ").unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_string();
                (name, serde_json::from_str(data).unwrap())
            })
            .collect()
    }

    #[test]
    fn a_text_stream_has_typed_numbered_events_and_usage_at_the_end() {
        let stream = stream_events(&completion(None), &Map::new());
        assert_eq!(stream.preamble, 4);
        let events = parse(&stream);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, (name, v)) in events.iter().enumerate() {
            assert_eq!(v["type"], *name);
            assert_eq!(v["sequence_number"], i);
        }
        assert_eq!(events[4].1["delta"], "Hi");
        assert_eq!(events[4].1["item_id"], "msg_mock_1");
        let done = &events[9].1["response"];
        assert_eq!(done["output"][0]["content"][0]["text"], "Hi there");
        assert_eq!(done["usage"]["total_tokens"], 12);
        let usage = read_stream_event(&events[9].1).usage.unwrap();
        assert_eq!((usage.input, usage.output), (Some(10), Some(2)));
    }

    #[test]
    fn a_tool_call_streams_its_arguments_in_pieces() {
        let call = ("get_weather".to_string(), json!({"city": "Paris"}));
        let c = completion(Some(&call));
        let plain = response_object(&c, &Map::new(), true);
        assert_eq!(
            plain["output"][0],
            json!({"type": "function_call", "id": "fc_mock_1", "call_id": "call_mock_1",
                   "name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "status": "completed"})
        );
        let stream = stream_events(&c, &Map::new());
        assert_eq!(stream.preamble, 3);
        let events = parse(&stream);
        let pieces: String = events
            .iter()
            .filter(|(n, _)| n == "response.function_call_arguments.delta")
            .map(|(_, v)| v["delta"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(pieces, "{\"city\":\"Paris\"}");
        assert_eq!(events[2].1["item"]["arguments"], "");
    }

    #[test]
    fn the_store_answers_get_delete_input_items_and_cancel() {
        let store = ResponseStore::default();
        let request: Map<String, Value> =
            serde_json::from_value(json!({"model": "gpt-4o", "input": "hi"})).unwrap();
        store.keep(
            &response_object(&completion(None), &request, true),
            &request,
        );
        assert!(store.has("resp_mock_1"));
        let (status, body) = store.answer("GET", "resp_mock_1").unwrap();
        assert_eq!((status, body["id"].as_str()), (200, Some("resp_mock_1")));
        let (_, items) = store.answer("GET", "resp_mock_1/input_items").unwrap();
        assert_eq!(items["data"][0]["content"][0]["text"], "hi");
        assert_eq!(store.answer("POST", "resp_mock_1/cancel").unwrap().0, 400);
        assert!(store.answer("PUT", "resp_mock_1").is_none());
        let (status, body) = store.answer("DELETE", "resp_mock_1").unwrap();
        assert_eq!((status, body["deleted"].clone()), (200, json!(true)));
        assert_eq!(store.answer("GET", "resp_mock_1").unwrap().0, 404);
    }
}
