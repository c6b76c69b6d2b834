//! The output side of the guard on an answer in the client's wire format: PII the model
//! wrote is masked (or stops the answer), the request's placeholders are restored, leaks
//! are caught. Plain answers are rewritten whole; streams event by event, holding back
//! only the text that could still begin a match (see `pii::OutputGuard`), so the rest
//! reaches the client in order and at once. A stream stopped midway ends with a valid
//! final event: OpenAI `finish_reason: "content_filter"` then `[DONE]`; Anthropic an
//! `error` event; Responses `response.incomplete` (`content_filter`, see `responses.rs`). Tool calls are guarded like text: their arguments (OpenAI) or the strings
//! of their input (Anthropic) are masked and restored, streamed pieces included.

mod responses;

use serde_json::{json, Value};

use super::pii::{Finding, OutputGuard, OutputPiece, PiiPolicy, PiiVault};
use super::Acted;
use crate::api::Api;
use crate::sse::SseParser;

/// The output guard of one request, built by `inspect_request`.
pub struct AnswerGuard {
    policy: PiiPolicy,
    vault: PiiVault,
    system_prompt: Option<String>,
    api: Api,
    enforce: bool,
}

impl AnswerGuard {
    pub fn new(
        policy: &PiiPolicy,
        vault: PiiVault,
        system_prompt: Option<&str>,
        api: Api,
        enforce: bool,
    ) -> Self {
        AnswerGuard {
            policy: policy.clone(),
            vault,
            system_prompt: system_prompt.map(str::to_string),
            api,
            enforce,
        }
    }

    fn output_guard(&self) -> OutputGuard {
        OutputGuard::new(
            &self.policy,
            self.vault.clone(),
            self.system_prompt.as_deref(),
        )
    }

    /// A whole JSON answer: the rewritten body (when anything changed) and what acted.
    pub fn filter_body(&self, body: &[u8]) -> (Option<Vec<u8>>, Vec<Acted>) {
        let mut acted = Vec::new();
        let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
            return (None, acted);
        };
        let mut changed = false;
        match self.api {
            Api::OpenAiResponses => self.filter_responses(&mut v, &mut acted, &mut changed),
            Api::AnthropicMessages => {
                let mut stop = false;
                if let Some(Value::Array(blocks)) = v.get_mut("content") {
                    let mut keep = blocks.len();
                    for (i, b) in blocks.iter_mut().enumerate() {
                        let tool = b.get("type").and_then(Value::as_str) == Some("tool_use");
                        let stopped = if tool {
                            b.get_mut("input").is_some_and(|input| {
                                self.filter_strings(input, &mut acted, &mut changed)
                            })
                        } else {
                            match b.get_mut("text") {
                                Some(Value::String(text)) => {
                                    self.filter_text(text, &mut acted, &mut changed)
                                }
                                _ => false,
                            }
                        };
                        if stopped {
                            // A text block keeps what came before the value; a tool call
                            // with a blocked input is not sent at all.
                            keep = if tool { i } else { i + 1 };
                            stop = true;
                            break;
                        }
                    }
                    blocks.truncate(keep);
                }
                if stop {
                    v["stop_reason"] = json!("refusal");
                    changed = true;
                }
            }
            _ => {
                if let Some(Value::Array(choices)) = v.get_mut("choices") {
                    for c in choices.iter_mut() {
                        let mut stopped = false;
                        if let Some(Value::String(text)) = c.pointer_mut("/message/content") {
                            stopped = self.filter_text(text, &mut acted, &mut changed);
                        }
                        if let Some(Value::Array(calls)) = c.pointer_mut("/message/tool_calls") {
                            for call in calls.iter_mut() {
                                if let Some(Value::String(args)) =
                                    call.pointer_mut("/function/arguments")
                                {
                                    if !stopped {
                                        stopped = self.filter_text(args, &mut acted, &mut changed);
                                    }
                                }
                            }
                        }
                        if stopped {
                            // No tool call goes out of a stopped answer: its arguments may
                            // be cut.
                            if let Some(m) = c.get_mut("message").and_then(Value::as_object_mut) {
                                m.remove("tool_calls");
                            }
                            c["finish_reason"] = json!("content_filter");
                            changed = true;
                        }
                    }
                }
            }
        }
        (changed.then(|| v.to_string().into_bytes()), acted)
    }

    /// One text of a whole answer through a fresh output guard; true when it stopped the
    /// answer (enforce mode).
    fn filter_text(&self, text: &mut String, acted: &mut Vec<Acted>, changed: &mut bool) -> bool {
        let piece = self.output_guard().filter_all(text);
        note(acted, &piece, self.enforce);
        if self.enforce && piece.text != *text {
            *text = piece.text;
            *changed = true;
        }
        self.enforce && piece.blocked.is_some()
    }

    /// Every string inside a tool's input (keys stay), each through its own output guard;
    /// true when one stopped the answer.
    fn filter_strings(&self, v: &mut Value, acted: &mut Vec<Acted>, changed: &mut bool) -> bool {
        match v {
            Value::String(text) => self.filter_text(text, acted, changed),
            Value::Array(items) => items
                .iter_mut()
                .any(|item| self.filter_strings(item, acted, changed)),
            Value::Object(fields) => fields
                .values_mut()
                .any(|item| self.filter_strings(item, acted, changed)),
            _ => false,
        }
    }

    /// The guard for a streamed answer.
    pub fn stream(self) -> GuardedStream {
        // OpenAI chat: one guard for the answer; the others, one per text block or part.
        let guard = (self.api == Api::OpenAiChat).then(|| self.output_guard());
        GuardedStream {
            answer: self,
            parser: SseParser::new(),
            guard,
            template: None,
            text_block: None,
            tools: Vec::new(),
            stopped: false,
            acted: Vec::new(),
            responses: responses::ResponsesState::default(),
        }
    }
}

/// Records a piece's findings (and its block) as acted rules.
fn note(acted: &mut Vec<Acted>, piece: &OutputPiece, enforce: bool) {
    for f in &piece.findings {
        push_finding(acted, f, enforce);
    }
}

fn push_finding(acted: &mut Vec<Acted>, f: &Finding, enforce: bool) {
    let rule = match f.entity.as_str() {
        "canary" | "system_prompt" => format!("leak.{}", f.entity),
        e => format!("pii.{e}"),
    };
    let action = if enforce {
        f.action.as_str()
    } else {
        "monitor"
    };
    if !acted.iter().any(|a| a.rule == rule && a.action == action) {
        acted.push(Acted { rule, action });
    }
}

/// A streamed answer through the output guard: whole SSE events in, whole events out.
pub struct GuardedStream {
    answer: AnswerGuard,
    parser: SseParser,
    /// OpenAI: one guard for the answer's text. Anthropic: one per text block.
    guard: Option<OutputGuard>,
    /// OpenAI: the last content chunk (raw JSON), the shape of chunks the gateway writes.
    template: Option<String>,
    /// Anthropic: index of the open text block.
    text_block: Option<u64>,
    /// One guard per tool call being streamed: OpenAI's tool call index, Anthropic's
    /// content block index.
    tools: Vec<(u64, OutputGuard)>,
    stopped: bool,
    /// Rules that acted so far (output side).
    pub acted: Vec<Acted>,
    /// Responses: numbering, the texts sent, the final event's shape.
    responses: responses::ResponsesState,
}

impl GuardedStream {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        self.parser.feed(bytes);
        while let Some(event) = self.parser.next_event() {
            self.event(&event.event, &event.data, &mut out);
            if self.stopped {
                break;
            }
        }
        out
    }

    /// The end of the upstream stream: an unterminated last event, and held text.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        if let Some(event) = self.parser.finish() {
            self.event(&event.event, &event.data, &mut out);
        }
        if !self.stopped {
            self.flush(&mut out);
        }
        out
    }

    fn event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        match self.answer.api {
            Api::AnthropicMessages => self.anthropic_event(name, data, out),
            Api::OpenAiResponses => self.responses_event(name, data, out),
            // Embeddings answers are vectors; the guard never reads them (no stream).
            Api::OpenAiChat | Api::OpenAiEmbeddings => self.openai_event(data, out),
        }
    }

    /// Whether the guard ended the stream (the rest of the upstream is to be dropped).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn take(&mut self, piece: &OutputPiece) {
        note(&mut self.acted, piece, self.answer.enforce);
    }

    fn openai_event(&mut self, data: &str, out: &mut Vec<u8>) {
        if let (Some(spot), Some(guard)) = (ContentSpot::find(data), self.guard.as_mut()) {
            // The common event, a piece of text: rewritten in place, without a JSON tree.
            let piece = guard.feed(&spot.text);
            self.take(&piece);
            if !self.answer.enforce {
                out.extend(format!("data: {data}\n\n").into_bytes());
            } else if !piece.text.is_empty() {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&data.as_bytes()[..spot.start]);
                serde_json::to_writer(&mut *out, &piece.text).expect("a string serialises");
                out.extend_from_slice(&data.as_bytes()[spot.end..]);
                out.extend_from_slice(b"\n\n");
            }
            // One buffer for every chunk's template.
            let template = self.template.get_or_insert_with(String::new);
            template.clear();
            template.push_str(data);
            if piece.blocked.is_some() && self.answer.enforce {
                self.stop_openai(out);
            }
            return;
        }
        let trimmed = data.trim();
        let parsed = serde_json::from_str::<Value>(trimmed).ok();
        let content = parsed.as_ref().and_then(|v| {
            let choices = v.get("choices")?.as_array()?;
            (choices.len() == 1)
                .then(|| choices[0].pointer("/delta/content")?.as_str())
                .flatten()
        });
        if let Some(v) = parsed
            .as_ref()
            .filter(|v| v.pointer("/choices/0/delta/tool_calls").is_some())
        {
            self.openai_tool_chunk(v.clone(), data, out);
            return;
        }
        let (Some(mut v), Some(text)) = (parsed.clone(), content.map(str::to_string)) else {
            let terminal = trimmed == "[DONE]"
                || parsed.as_ref().is_some_and(|v| {
                    v.get("error").is_some()
                        || v.get("choices")
                            .and_then(Value::as_array)
                            .is_some_and(|cs| {
                                cs.is_empty() || cs.iter().any(|c| !c["finish_reason"].is_null())
                            })
                });
            if terminal {
                self.flush(out);
            }
            if !self.stopped {
                out.extend(format!("data: {data}\n\n").into_bytes());
            }
            return;
        };
        let Some(guard) = self.guard.as_mut() else {
            out.extend(format!("data: {data}\n\n").into_bytes());
            return;
        };
        let finished = !v["choices"][0]["finish_reason"].is_null();
        let mut piece = guard.feed(&text);
        if finished && piece.blocked.is_none() {
            // Content and finish in one chunk: what is held goes out in it.
            let rest = guard.finish();
            piece.text.push_str(&rest.text);
            piece.findings.extend(rest.findings);
            piece.blocked = rest.blocked;
            self.guard = None;
        }
        self.take(&piece);
        let only_content = v
            .pointer("/choices/0/delta")
            .and_then(Value::as_object)
            .is_some_and(|d| d.len() == 1);
        if !self.answer.enforce {
            out.extend(format!("data: {data}\n\n").into_bytes());
        } else if !(piece.text.is_empty() && only_content && !finished) {
            v["choices"][0]["delta"]["content"] = json!(piece.text);
            out.extend(format!("data: {v}\n\n").into_bytes());
        }
        self.template = Some(v.to_string());
        if piece.blocked.is_some() && self.answer.enforce {
            self.stop_openai(out);
        }
    }

    /// The guard of tool call (or block) `index`, made on first use.
    fn tool_guard(&mut self, index: u64) -> &mut OutputGuard {
        let at = match self.tools.iter().position(|(i, _)| *i == index) {
            Some(at) => at,
            None => {
                self.tools.push((index, self.answer.output_guard()));
                self.tools.len() - 1
            }
        };
        &mut self.tools[at].1
    }

    /// OpenAI: a chunk carrying pieces of tool call arguments; each call's pieces go
    /// through that call's guard.
    fn openai_tool_chunk(&mut self, mut v: Value, data: &str, out: &mut Vec<u8>) {
        let finished = !v["choices"][0]["finish_reason"].is_null();
        let mut blocked = false;
        // Text beside the calls (rare) goes through the text guard.
        if let (Some(Value::String(text)), Some(guard)) = (
            v.pointer_mut("/choices/0/delta/content"),
            self.guard.as_mut(),
        ) {
            let piece = guard.feed(text);
            note(&mut self.acted, &piece, self.answer.enforce);
            blocked |= piece.blocked.is_some();
            *text = piece.text;
        }
        if let Some(Value::Array(calls)) = v.pointer_mut("/choices/0/delta/tool_calls") {
            for call in calls.iter_mut() {
                let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let Some(Value::String(args)) = call.pointer_mut("/function/arguments") else {
                    continue;
                };
                let guard = self.tool_guard(index);
                let mut piece = guard.feed(args);
                if finished && piece.blocked.is_none() {
                    let rest = guard.finish();
                    piece.text.push_str(&rest.text);
                    piece.findings.extend(rest.findings);
                    piece.blocked = rest.blocked;
                    self.tools.retain(|(i, _)| *i != index);
                }
                note(&mut self.acted, &piece, self.answer.enforce);
                blocked |= piece.blocked.is_some();
                *args = piece.text;
            }
        }
        if blocked && self.answer.enforce {
            self.stop_openai(out);
            return;
        }
        if finished {
            self.flush(out);
            if self.stopped {
                return;
            }
        }
        if self.answer.enforce {
            out.extend(format!("data: {v}\n\n").into_bytes());
        } else {
            out.extend(format!("data: {data}\n\n").into_bytes());
        }
        self.template = Some(v.to_string());
    }

    /// OpenAI: a chunk of the last chunk's shape carrying `content`, or finishing.
    fn openai_chunk(&self, content: Option<&str>, finish: Option<&str>) -> Vec<u8> {
        let delta = match content {
            Some(t) => json!({ "content": t }),
            None => json!({}),
        };
        format!("data: {}\n\n", self.openai_chunk_value(delta, finish)).into_bytes()
    }

    fn openai_chunk_value(&self, delta: Value, finish: Option<&str>) -> Value {
        let template = self
            .template
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        let mut c = template.unwrap_or_else(|| {
            json!({"id": "chatcmpl-guard", "object": "chat.completion.chunk", "created": 0,
                   "model": "", "choices": [{"index": 0}]})
        });
        c["choices"][0]["delta"] = delta;
        c["choices"][0]["finish_reason"] = json!(finish);
        if let Some(u) = c.get_mut("usage") {
            *u = Value::Null;
        }
        c
    }

    fn stop_openai(&mut self, out: &mut Vec<u8>) {
        out.extend(self.openai_chunk(None, Some("content_filter")));
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.stopped = true;
    }

    fn anthropic_event(&mut self, name: &str, data: &str, out: &mut Vec<u8>) {
        let Some((v, kind)) = typed_event(name, data) else {
            self.flush(out);
            out.extend(raw_event(name, data));
            return;
        };
        match kind.as_str() {
            "content_block_start" => {
                match v.pointer("/content_block/type").and_then(Value::as_str) {
                    Some("text") => {
                        self.flush(out);
                        self.text_block = v.get("index").and_then(Value::as_u64);
                        self.guard = Some(self.answer.output_guard());
                    }
                    Some("tool_use") => {
                        self.flush(out);
                        self.tool_guard(v.get("index").and_then(Value::as_u64).unwrap_or(0));
                    }
                    _ => {}
                }
                if !self.stopped {
                    out.extend(raw_event(name, data));
                }
            }
            "content_block_delta"
                if v.pointer("/delta/type").and_then(Value::as_str) == Some("input_json_delta")
                    && !self.tools.is_empty() =>
            {
                let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let json = v
                    .pointer("/delta/partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let piece = self.tool_guard(index).feed(&json);
                self.anthropic_delta(piece, "partial_json", v, name, data, out);
            }
            "content_block_delta"
                if v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta")
                    && self.guard.is_some() =>
            {
                let text = v
                    .pointer("/delta/text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let piece = self
                    .guard
                    .as_mut()
                    .map(|g| g.feed(&text))
                    .unwrap_or_default();
                self.anthropic_delta(piece, "text", v, name, data, out);
            }
            "content_block_stop" | "message_delta" | "message_stop" | "error" => {
                // The end of a text block, the message or an error: what is held goes first.
                self.flush(out);
                if !self.stopped {
                    out.extend(raw_event(name, data));
                }
            }
            // ping, tool input deltas, events added later: as they are.
            _ => out.extend(raw_event(name, data)),
        }
    }

    /// Anthropic: a delta event whose `field` (text or tool input) became `piece`.
    fn anthropic_delta(
        &mut self,
        piece: OutputPiece,
        field: &str,
        mut v: Value,
        name: &str,
        data: &str,
        out: &mut Vec<u8>,
    ) {
        self.take(&piece);
        if !self.answer.enforce {
            out.extend(raw_event(name, data));
        } else if !piece.text.is_empty() {
            v["delta"][field] = json!(piece.text);
            out.extend(named("content_block_delta", &v));
        }
        if piece.blocked.is_some() && self.answer.enforce {
            self.stop_anthropic(piece.blocked.as_deref().unwrap_or("output"), out);
        }
    }

    fn stop_anthropic(&mut self, entity: &str, out: &mut Vec<u8>) {
        let error = json!({"type": "error", "error": {
            "type": "invalid_request_error",
            "message": format!("The answer was stopped by the gateway's content policy (category: {})", category(entity)),
        }});
        out.extend(named("error", &error));
        self.stopped = true;
    }

    /// Releases what the guards hold (ends them): the text, then each tool call's.
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.answer.api == Api::OpenAiResponses {
            return self.responses_flush(out);
        }
        self.flush_text(out);
        for (index, mut guard) in std::mem::take(&mut self.tools) {
            if self.stopped {
                return;
            }
            let piece = guard.finish();
            self.take(&piece);
            if !self.answer.enforce {
                continue;
            }
            if !piece.text.is_empty() {
                out.extend(match self.answer.api {
                    Api::AnthropicMessages => named(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": piece.text}}),
                    ),
                    _ => self.openai_tool_args(index, &piece.text),
                });
            }
            if let Some(entity) = piece.blocked.as_deref() {
                match self.answer.api {
                    Api::AnthropicMessages => self.stop_anthropic(entity, out),
                    _ => self.stop_openai(out),
                }
            }
        }
    }

    /// OpenAI: a chunk of the last chunk's shape carrying more arguments of tool call
    /// `index`.
    fn openai_tool_args(&self, index: u64, args: &str) -> Vec<u8> {
        let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": args}}]});
        format!("data: {}\n\n", self.openai_chunk_value(delta, None)).into_bytes()
    }

    /// Releases the text held by the text guard (ends it).
    fn flush_text(&mut self, out: &mut Vec<u8>) {
        let Some(mut guard) = self.guard.take() else {
            return;
        };
        let piece = guard.finish();
        self.take(&piece);
        let enforce = self.answer.enforce;
        match self.answer.api {
            Api::AnthropicMessages => {
                if enforce && !piece.text.is_empty() {
                    let index = self.text_block.unwrap_or(0);
                    out.extend(named(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": index,
                                "delta": {"type": "text_delta", "text": piece.text}}),
                    ));
                }
                if enforce && piece.blocked.is_some() {
                    self.stop_anthropic(piece.blocked.as_deref().unwrap_or("output"), out);
                }
            }
            _ => {
                if enforce && !piece.text.is_empty() {
                    out.extend(self.openai_chunk(Some(&piece.text), None));
                }
                if enforce && piece.blocked.is_some() {
                    self.stop_openai(out);
                }
                // OpenAI: one guard per answer; a finished guard is not replaced.
            }
        }
    }
}

/// Where the text of an OpenAI chunk that carries only text is: one choice, a delta whose
/// only field is `content` (a string), no finish reason. Found on the raw JSON: an
/// unescaped `"` cannot occur inside a JSON string, so these key patterns are structure.
/// Anything else (spaces after colons, tool calls, several choices) takes the slow path.
struct ContentSpot {
    /// The string literal's byte range in the data, quotes included.
    start: usize,
    end: usize,
    text: String,
}

impl ContentSpot {
    fn find(data: &str) -> Option<ContentSpot> {
        const KEY: &str = "\"delta\":{\"content\":";
        let at = data.find(KEY)?;
        if data[at + 1..].contains("\"delta\":")
            || !data.contains("\"finish_reason\":null")
            || data.contains("\"tool_calls\"")
        {
            return None;
        }
        let start = at + KEY.len();
        let b = data.as_bytes();
        if b.get(start) != Some(&b'"') {
            return None;
        }
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        // The delta holds the content only.
        if b.get(i + 1) != Some(&b'}') {
            return None;
        }
        let end = i + 1;
        let text = serde_json::from_str::<String>(data.get(start..end)?).ok()?;
        Some(ContentSpot { start, end, text })
    }
}

fn category(entity: &str) -> String {
    match entity {
        "canary" | "system_prompt" => format!("leak.{entity}"),
        e => format!("pii.{e}"),
    }
}

/// A typed event's JSON and its type (its `type`, else its `event:` name); `None` when
/// the data is not JSON.
fn typed_event(name: &str, data: &str) -> Option<(Value, String)> {
    let v = serde_json::from_str::<Value>(data.trim()).ok()?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(name)
        .to_string();
    Some((v, kind))
}

fn named(name: &str, v: &Value) -> Vec<u8> {
    format!("event: {name}\ndata: {v}\n\n").into_bytes()
}

fn raw_event(name: &str, data: &str) -> Vec<u8> {
    let mut out = String::new();
    if !name.is_empty() {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out.into_bytes()
}

#[cfg(test)]
mod tests;
