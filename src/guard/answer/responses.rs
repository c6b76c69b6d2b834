//! The output guard on OpenAI Responses answers.
//!
//! Plain: every `output_text` of the `output` message items and every `function_call`'s
//! `arguments` is masked and restored; a value that blocks cuts the output there and the
//! response becomes `incomplete` with `incomplete_details.reason: "content_filter"` (a
//! function call whose arguments block is not sent at all).
//!
//! Streamed: `response.output_text.delta` and `response.function_call_arguments.delta`
//! pass through one guard per text part and per call, holding back only what could begin
//! a match. The events that repeat a whole text (`.output_text.done`,
//! `.content_part.done`, `.function_call_arguments.done`, `.output_item.done`,
//! `response.completed`) carry what was actually sent. Events the guard adds (a held tail
//! released as one more delta) or drops (an empty delta) shift the numbering, so every
//! event leaves numbered in order. A value that blocks ends the stream with
//! `response.incomplete` (`content_filter`), the output so far in it.

use serde_json::{json, Value};

use super::{named, note, raw_event, typed_event, AnswerGuard, GuardedStream};
use crate::guard::pii::OutputPiece;
use crate::guard::Acted;
use crate::providers::openai_responses::item_type;

/// Key of a function call's arguments among the texts sent (content index of none).
const ARGUMENTS: u64 = u64::MAX;

impl AnswerGuard {
    /// A whole `response` object's output, filtered in place.
    pub(super) fn filter_responses(
        &self,
        v: &mut Value,
        acted: &mut Vec<Acted>,
        changed: &mut bool,
    ) {
        let mut stop = false;
        if let Some(Value::Array(items)) = v.get_mut("output") {
            let mut keep = items.len();
            for (i, item) in items.iter_mut().enumerate() {
                match item_type(item) {
                    Some("message") => {
                        if let Some(Value::Array(parts)) = item.get_mut("content") {
                            let mut keep_parts = parts.len();
                            for (j, part) in parts.iter_mut().enumerate() {
                                if let Some(Value::String(text)) = part.get_mut("text") {
                                    if self.filter_text(text, acted, changed) {
                                        keep_parts = j + 1;
                                        stop = true;
                                        break;
                                    }
                                }
                            }
                            parts.truncate(keep_parts);
                        }
                        if stop {
                            keep = i + 1;
                        }
                    }
                    Some("function_call") => {
                        if let Some(Value::String(args)) = item.get_mut("arguments") {
                            if self.filter_text(args, acted, changed) {
                                keep = i;
                                stop = true;
                            }
                        }
                    }
                    _ => {}
                }
                if stop {
                    break;
                }
            }
            items.truncate(keep);
        }
        if stop {
            v["status"] = json!("incomplete");
            v["incomplete_details"] = json!({"reason": "content_filter"});
            *changed = true;
        }
    }
}

/// The stream's state that only Responses needs.
#[derive(Default)]
pub(super) struct ResponsesState {
    /// The number the next event leaves with.
    next_sequence: u64,
    /// The `response` of `response.created`: the shape of the final event the guard adds.
    template: Option<Value>,
    /// The text part the text guard is on: output index, content index, item id.
    text: Option<(u64, u64, Value)>,
    /// What was sent of each text part and each call's arguments, by (output index,
    /// content index or [`ARGUMENTS`]).
    sent: Vec<((u64, u64), String)>,
    /// The output items as added, by output index.
    items: Vec<(u64, Value)>,
}

impl ResponsesState {
    fn sent_mut(&mut self, key: (u64, u64)) -> &mut String {
        let at = match self.sent.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.sent.push((key, String::new()));
                self.sent.len() - 1
            }
        };
        &mut self.sent[at].1
    }

    fn sent(&self, key: (u64, u64)) -> Option<&str> {
        self.sent
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s.as_str())
    }

    /// An output item with the texts that were sent in place of the provider's.
    fn as_sent(&self, output_index: u64, item: &mut Value) {
        match item_type(item) {
            Some("message") => {
                if let Some(Value::Array(parts)) = item.get_mut("content") {
                    for (j, part) in parts.iter_mut().enumerate() {
                        if let Some(text) = self.sent((output_index, j as u64)) {
                            part["text"] = json!(text);
                        }
                    }
                }
            }
            Some("function_call") => {
                if let Some(args) = self.sent((output_index, ARGUMENTS)) {
                    item["arguments"] = json!(args);
                }
            }
            _ => {}
        }
    }
}

fn index(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl GuardedStream {
    /// Writes an event numbered in order: as it came when its number is already right
    /// (and nothing changed), else rewritten.
    fn responses_emit(&mut self, name: &str, data: &str, v: Option<&mut Value>, out: &mut Vec<u8>) {
        let n = self.responses.next_sequence;
        self.responses.next_sequence += 1;
        match v {
            Some(v) => {
                v["sequence_number"] = json!(n);
                let kind = v
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or(name)
                    .to_string();
                out.extend(named(&kind, v));
            }
            None => out.extend(raw_event(name, data)),
        }
    }

    /// One whole event of a Responses stream.
    pub(super) fn responses_event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        let Some((mut v, kind)) = typed_event(name, data) else {
            self.responses_flush(out);
            if !self.stopped {
                out.extend(raw_event(name, data));
            }
            return;
        };
        let enforce = self.answer.enforce;
        let renumber = index(&v, "sequence_number") != self.responses.next_sequence;
        let output_index = index(&v, "output_index");
        let mut changed = false;
        match kind.as_str() {
            "response.created" | "response.in_progress" | "response.queued" => {
                self.responses.template = v.get("response").cloned();
            }
            "response.output_item.added" => {
                if let Some(item) = v.get("item") {
                    self.responses.items.push((output_index, item.clone()));
                    if item_type(item) == Some("function_call") {
                        self.tool_guard(output_index);
                    }
                }
            }
            "response.content_part.added" => {
                self.responses_flush_text(out);
                let at = (
                    output_index,
                    index(&v, "content_index"),
                    v["item_id"].clone(),
                );
                self.responses.text = Some(at);
                self.guard = Some(self.answer.output_guard());
            }
            "response.output_text.delta" => {
                let delta = v["delta"].as_str().unwrap_or("").to_string();
                let key = (output_index, index(&v, "content_index"));
                if self.responses.text.as_ref().map(|t| (t.0, t.1)) != Some(key) {
                    self.responses_flush_text(out);
                    self.responses.text = Some((key.0, key.1, v["item_id"].clone()));
                    self.guard = Some(self.answer.output_guard());
                }
                let piece = match self.guard.as_mut() {
                    Some(g) => g.feed(&delta),
                    None => OutputPiece::default(),
                };
                self.responses_delta(piece, key, (name, data), v, out);
                return;
            }
            "response.function_call_arguments.delta" => {
                let delta = v["delta"].as_str().unwrap_or("").to_string();
                let piece = self.tool_guard(output_index).feed(&delta);
                self.responses_delta(piece, (output_index, ARGUMENTS), (name, data), v, out);
                return;
            }
            "response.output_text.done" => {
                let key = (output_index, index(&v, "content_index"));
                if self.responses.text.as_ref().map(|t| (t.0, t.1)) == Some(key) {
                    self.responses_flush_text(out);
                }
                if let (true, Some(text)) = (enforce, self.responses.sent(key)) {
                    v["text"] = json!(text);
                    changed = true;
                }
            }
            "response.content_part.done" => {
                let key = (output_index, index(&v, "content_index"));
                if let (true, Some(text)) = (enforce, self.responses.sent(key)) {
                    v["part"]["text"] = json!(text);
                    changed = true;
                }
            }
            "response.function_call_arguments.done" => {
                self.responses_flush_tool(output_index, out);
                let key = (output_index, ARGUMENTS);
                if let (true, Some(args)) = (enforce, self.responses.sent(key)) {
                    v["arguments"] = json!(args);
                    changed = true;
                }
            }
            "response.output_item.done" => {
                self.responses_flush_tool(output_index, out);
                if self
                    .responses
                    .text
                    .as_ref()
                    .is_some_and(|t| t.0 == output_index)
                {
                    self.responses_flush_text(out);
                }
                if let (true, Some(item)) = (enforce, v.get_mut("item")) {
                    self.responses.as_sent(output_index, item);
                    changed = true;
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" | "error" => {
                self.responses_flush(out);
                if let (true, Some(Value::Array(items))) =
                    (enforce, v.pointer_mut("/response/output"))
                {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.responses.as_sent(i as u64, item);
                    }
                    changed = true;
                }
            }
            _ => {}
        }
        if self.stopped {
            return;
        }
        let rewrite = (changed && enforce) || renumber;
        self.responses_emit(name, data, rewrite.then_some(&mut v), out);
    }

    /// A delta event (`raw`: its name and data as they came; no data for one the guard
    /// adds) whose text (text part or arguments at `key`) became `piece`.
    fn responses_delta(
        &mut self,
        piece: OutputPiece,
        key: (u64, u64),
        raw: (&str, &str),
        mut v: Value,
        out: &mut Vec<u8>,
    ) {
        note(&mut self.acted, &piece, self.answer.enforce);
        let (name, data) = raw;
        if !self.answer.enforce {
            // Monitor: the provider's events as they came (renumbered if need be).
            if !data.is_empty() {
                let renumber = index(&v, "sequence_number") != self.responses.next_sequence;
                self.responses_emit(name, data, renumber.then_some(&mut v), out);
            }
            return;
        }
        if !piece.text.is_empty() {
            self.responses.sent_mut(key).push_str(&piece.text);
            v["delta"] = json!(piece.text);
            self.responses_emit(name, data, Some(&mut v), out);
        }
        if piece.blocked.is_some() {
            self.responses_stop(key, out);
        }
    }

    /// Releases what every guard holds (ends them).
    pub(super) fn responses_flush(&mut self, out: &mut Vec<u8>) {
        self.responses_flush_text(out);
        let calls: Vec<u64> = self.tools.iter().map(|(i, _)| *i).collect();
        for output_index in calls {
            self.responses_flush_tool(output_index, out);
        }
    }

    /// Releases the text part's held tail as one more delta (ends its guard).
    fn responses_flush_text(&mut self, out: &mut Vec<u8>) {
        let (Some(mut guard), Some((output_index, content_index, item_id))) =
            (self.guard.take(), self.responses.text.take())
        else {
            return;
        };
        let piece = guard.finish();
        let v = json!({"type": "response.output_text.delta", "item_id": item_id,
                       "output_index": output_index, "content_index": content_index,
                       "delta": "", "logprobs": []});
        self.responses_delta(piece, (output_index, content_index), ("", ""), v, out);
    }

    /// Releases a call's held arguments as one more delta (ends its guard).
    fn responses_flush_tool(&mut self, output_index: u64, out: &mut Vec<u8>) {
        let Some(at) = self.tools.iter().position(|(i, _)| *i == output_index) else {
            return;
        };
        let (_, mut guard) = self.tools.remove(at);
        if self.stopped {
            return;
        }
        let piece = guard.finish();
        let item_id = self
            .responses
            .items
            .iter()
            .find(|(i, _)| *i == output_index)
            .map_or(Value::Null, |(_, item)| item["id"].clone());
        let v = json!({"type": "response.function_call_arguments.delta", "item_id": item_id,
                       "output_index": output_index, "delta": ""});
        self.responses_delta(piece, (output_index, ARGUMENTS), ("", ""), v, out);
    }

    /// Ends the stream: `response.incomplete` (`content_filter`) with the output sent so
    /// far; a call whose arguments blocked (`blocked`) is left out.
    fn responses_stop(&mut self, blocked: (u64, u64), out: &mut Vec<u8>) {
        if self.stopped {
            return;
        }
        let mut output = Vec::new();
        for (i, item) in &self.responses.items {
            if blocked == (*i, ARGUMENTS) {
                continue;
            }
            let mut item = item.clone();
            if item_type(&item) == Some("message") {
                let parts: Vec<Value> = self
                    .responses
                    .sent
                    .iter()
                    .filter(|((o, c), _)| *o == *i && *c != ARGUMENTS)
                    .map(
                        |(_, text)| json!({"type": "output_text", "text": text, "annotations": []}),
                    )
                    .collect();
                item["content"] = Value::Array(parts);
            } else {
                self.responses.as_sent(*i, &mut item);
            }
            item["status"] = json!("incomplete");
            output.push(item);
        }
        let mut response = self.responses.template.clone().unwrap_or_else(|| json!({}));
        response["status"] = json!("incomplete");
        response["incomplete_details"] = json!({"reason": "content_filter"});
        response["output"] = Value::Array(output);
        response["usage"] = Value::Null;
        let mut v = json!({"type": "response.incomplete", "response": response});
        self.responses_emit("response.incomplete", "", Some(&mut v), out);
        self.stopped = true;
    }
}
