//! Input tokens of an OpenAI chat-completions request, by OpenAI's published method
//! (the "How to count tokens with tiktoken" cookbook): a fixed overhead per message and
//! per name, every string field of a message encoded, 3 tokens priming the reply, and
//! tool definitions rendered as `name:description` and `key:type:description` lines
//! with fixed overheads.
//!
//! Exact for text messages and function tools; images by OpenAI's published method from
//! their dimensions (`image`). Audio and tool-call arguments are counted by their text
//! only (an estimate).

use serde_json::{Map, Value};

use super::{count_text, encoding_for_model, image, Encoding};

struct ToolOverheads {
    func_init: i64,
    prop_init: i64,
    prop_key: i64,
    enum_init: i64,
    enum_item: i64,
    func_end: i64,
}

fn tool_overheads(encoding: Encoding) -> ToolOverheads {
    let func_init = match encoding {
        Encoding::O200kBase => 7,
        Encoding::Cl100kBase => 10,
    };
    ToolOverheads {
        func_init,
        prop_init: 3,
        prop_key: 3,
        enum_init: -3,
        enum_item: 3,
        func_end: 12,
    }
}

/// Whether two models count a chat request the same way (same encoding and overheads),
/// so a count made for one holds for the other.
pub fn same_chat_counting(a: &str, b: &str) -> bool {
    let legacy = |m: &str| m.starts_with("gpt-3.5-turbo-0301");
    encoding_for_model(a).0 == encoding_for_model(b).0 && legacy(a) == legacy(b)
}

/// Counts the input tokens of a validated chat-completions request object.
pub fn count_openai_chat(model: &str, request: &Map<String, Value>) -> u64 {
    let (encoding, _) = encoding_for_model(model);
    let (per_message, per_name): (i64, i64) = if model.starts_with("gpt-3.5-turbo-0301") {
        (4, -1)
    } else {
        (3, 1)
    };
    let mut total: i64 = 0;
    if let Some(Value::Array(messages)) = request.get("messages") {
        for message in messages {
            total += per_message;
            let Value::Object(message) = message else {
                continue;
            };
            for (key, value) in message {
                total += value_tokens(model, encoding, key, value) as i64;
                if key == "name" {
                    total += per_name;
                }
            }
        }
    }
    total += 3;
    total += tools_tokens(encoding, request);
    total.max(0) as u64
}

fn value_tokens(model: &str, encoding: Encoding, key: &str, value: &Value) -> u64 {
    match value {
        Value::String(s) => count_text(encoding, s),
        Value::Null | Value::Bool(_) => 0,
        // Text parts by their text; image parts by their dimensions (never their data).
        Value::Array(parts) if key == "content" => parts
            .iter()
            .map(|part| match (part.get("text"), part.get("type")) {
                (Some(Value::String(t)), _) => count_text(encoding, t),
                (_, Some(t)) if t == "image_url" => image::openai_part(model, part).tokens,
                _ => match part.get("refusal") {
                    Some(Value::String(t)) => count_text(encoding, t),
                    _ => 0,
                },
            })
            .sum(),
        Value::Array(calls) if key == "tool_calls" => calls
            .iter()
            .map(|call| {
                let f = call.get("function");
                let s = |k: &str| {
                    f.and_then(|f| f.get(k))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                };
                count_text(encoding, s("name")) + count_text(encoding, s("arguments"))
            })
            .sum(),
        Value::Object(call) if key == "function_call" => {
            let s = |k: &str| call.get(k).and_then(Value::as_str).unwrap_or("");
            count_text(encoding, s("name")) + count_text(encoding, s("arguments"))
        }
        other => count_text(encoding, &other.to_string()),
    }
}

fn tools_tokens(encoding: Encoding, request: &Map<String, Value>) -> i64 {
    let functions: Vec<&Map<String, Value>> = match (request.get("tools"), request.get("functions"))
    {
        (Some(Value::Array(tools)), _) if !tools.is_empty() => tools
            .iter()
            .filter_map(|t| t.get("function").and_then(Value::as_object))
            .collect(),
        (_, Some(Value::Array(fs))) if !fs.is_empty() => {
            fs.iter().filter_map(Value::as_object).collect()
        }
        _ => return 0,
    };
    let o = tool_overheads(encoding);
    let str_of = |m: &Map<String, Value>, k: &str| {
        m.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let mut total = 0i64;
    for f in &functions {
        total += o.func_init;
        let mut desc = str_of(f, "description");
        if desc.ends_with('.') {
            desc.pop();
        }
        total += count_text(encoding, &format!("{}:{}", str_of(f, "name"), desc)) as i64;
        let props = f
            .get("parameters")
            .and_then(|p| p.get("properties"))
            .and_then(Value::as_object);
        if let Some(props) = props.filter(|p| !p.is_empty()) {
            total += o.prop_init;
            for (key, prop) in props {
                total += o.prop_key;
                let empty = Map::new();
                let prop = prop.as_object().unwrap_or(&empty);
                if let Some(Value::Array(items)) = prop.get("enum") {
                    total += o.enum_init;
                    for item in items {
                        total += o.enum_item;
                        let text = item
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| item.to_string());
                        total += count_text(encoding, &text) as i64;
                    }
                }
                let mut pdesc = str_of(prop, "description");
                if pdesc.ends_with('.') {
                    pdesc.pop();
                }
                let ptype = str_of(prop, "type");
                total += count_text(encoding, &format!("{key}:{ptype}:{pdesc}")) as i64;
            }
        }
    }
    total + o.func_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn count(v: Value) -> u64 {
        let model = v["model"].as_str().unwrap().to_string();
        count_openai_chat(&model, v.as_object().unwrap())
    }

    #[test]
    fn cookbook_example_messages() {
        // The cookbook's example conversation; OpenAI's API reported 129 prompt tokens for
        // gpt-3.5-turbo / gpt-4 (cl100k) and the cookbook method agrees.
        let messages = json!([
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
        ]);
        assert_eq!(
            count(json!({"model": "gpt-4-0613", "messages": messages})),
            129
        );
        assert_eq!(
            count(json!({"model": "gpt-3.5-turbo-0125", "messages": messages})),
            129
        );
        assert_eq!(count(json!({"model": "gpt-4o", "messages": messages})), 124);
    }

    #[test]
    fn models_that_count_alike() {
        assert!(same_chat_counting("auto", "gpt-4o-mini"));
        assert!(!same_chat_counting("auto", "gpt-4"));
        assert!(!same_chat_counting("gpt-3.5-turbo", "gpt-3.5-turbo-0301"));
    }

    #[test]
    fn empty_conversation_is_just_reply_priming() {
        assert_eq!(count(json!({"model": "gpt-4o", "messages": []})), 3);
    }

    #[test]
    fn text_parts_count_like_a_string() {
        let a = count(
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}),
        );
        let b = count(
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]}),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn tools_add_their_published_overheads() {
        let base = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "What's the weather like in San Francisco?"}]});
        let mut with_tools = base.clone();
        with_tools["tools"] = json!([{"type": "function", "function": {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": {"type": "object", "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
            }, "required": ["location"]}
        }}]);
        let enc = Encoding::O200kBase;
        let expected_tools = 7
            + count_text(
                enc,
                "get_current_weather:Get the current weather in a given location",
            ) as i64
            + 3
            + 3
            + count_text(
                enc,
                "location:string:The city and state, e.g. San Francisco, CA",
            ) as i64
            + 3
            - 3
            + 3
            + count_text(enc, "celsius") as i64
            + 3
            + count_text(enc, "fahrenheit") as i64
            + count_text(enc, "unit:string:The unit of temperature to return") as i64
            + 12;
        assert_eq!(
            count(with_tools) as i64 - count(base) as i64,
            expected_tools
        );
    }
}
