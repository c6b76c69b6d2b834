//! What a request asks of a provider beyond plain chat: structured output, several
//! choices, log probabilities, images, tools. A provider that cannot serve one of them
//! (declared in `route.providers[].unsupported`, or a translation that has no
//! equivalent) is skipped by the fallback chain for that request.

use serde_json::{Map, Value};

use crate::api::Api;

/// A capability a request may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `response_format` of type `json_schema` or `json_object`.
    StructuredOutput,
    /// `n` > 1.
    Choices,
    /// `logprobs: true` or `top_logprobs`.
    Logprobs,
    /// Image parts or blocks.
    Images,
    /// Tool (function) definitions.
    Tools,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::StructuredOutput,
        Feature::Choices,
        Feature::Logprobs,
        Feature::Images,
        Feature::Tools,
    ];

    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Feature::StructuredOutput => "structured_output",
            Feature::Choices => "n",
            Feature::Logprobs => "logprobs",
            Feature::Images => "images",
            Feature::Tools => "tools",
        }
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The features a request of `api` uses, each with the field that asks for it.
pub fn used(api: Api, req: &Map<String, Value>) -> Vec<(Feature, &'static str)> {
    let mut out = Vec::new();
    let format = req
        .get("response_format")
        .and_then(|f| f.get("type"))
        .and_then(Value::as_str);
    if matches!(format, Some("json_schema" | "json_object")) {
        out.push((Feature::StructuredOutput, "response_format"));
    }
    if req.get("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        out.push((Feature::Choices, "n"));
    }
    if req.get("logprobs") == Some(&Value::Bool(true)) {
        out.push((Feature::Logprobs, "logprobs"));
    } else if !matches!(req.get("top_logprobs"), None | Some(Value::Null)) {
        out.push((Feature::Logprobs, "top_logprobs"));
    }
    if has_image(api, req) {
        out.push((Feature::Images, "messages"));
    }
    if matches!(req.get("tools"), Some(Value::Array(t)) if !t.is_empty()) {
        out.push((Feature::Tools, "tools"));
    }
    out
}

fn has_image(api: Api, req: &Map<String, Value>) -> bool {
    let (list, image_type) = match api {
        Api::OpenAiChat => ("messages", "image_url"),
        Api::AnthropicMessages => ("messages", "image"),
        Api::OpenAiResponses => ("input", "input_image"),
        Api::OpenAiEmbeddings => return false,
    };
    let Some(Value::Array(messages)) = req.get(list) else {
        return false;
    };
    messages.iter().any(|m| match m.get("content") {
        Some(Value::Array(parts)) => parts
            .iter()
            .any(|p| p.get("type").and_then(Value::as_str) == Some(image_type)),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(api: Api, v: Value) -> Vec<Feature> {
        used(api, v.as_object().unwrap())
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn each_feature_is_seen_in_its_field() {
        let msgs = json!([{"role": "user", "content": "x"}]);
        assert_eq!(
            of(Api::OpenAiChat, json!({"messages": msgs})),
            Vec::<Feature>::new()
        );
        assert_eq!(
            of(
                Api::OpenAiChat,
                json!({"messages": msgs, "n": 2, "logprobs": true,
                "response_format": {"type": "json_schema"}, "tools": [{}]})
            ),
            vec![
                Feature::StructuredOutput,
                Feature::Choices,
                Feature::Logprobs,
                Feature::Tools
            ]
        );
        assert_eq!(
            of(
                Api::OpenAiChat,
                json!({"messages": msgs, "n": 1, "logprobs": false, "top_logprobs": null,
                "response_format": {"type": "text"}, "tools": []})
            ),
            Vec::<Feature>::new()
        );
        let image = json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]);
        assert_eq!(
            of(Api::OpenAiChat, json!({"messages": image})),
            vec![Feature::Images]
        );
        let block = json!([{"role": "user", "content": [{"type": "image", "source": {}}]}]);
        assert_eq!(
            of(Api::AnthropicMessages, json!({"messages": block})),
            vec![Feature::Images]
        );
        assert_eq!(Feature::from_name("n"), Some(Feature::Choices));
        assert_eq!(Feature::from_name("vision"), None);
    }
}
