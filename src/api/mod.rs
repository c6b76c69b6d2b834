//! The LLM APIs the gateway reads: the shape of a request body and of its answer, plain
//! and streamed. A client speaks one; the provider is spoken to in one (the same, or the
//! other when the route translates). Adding a client API is a variant here, its wire
//! module under `providers/`, and the arms of this file. The `api` section of the
//! configuration (paths, body limit) is in `config`.

pub mod config;
pub mod query;

/// An LLM API a body is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI chat completions (`POST /v1/chat/completions`).
    OpenAiChat,
    /// Anthropic Messages (`POST /v1/messages`).
    AnthropicMessages,
    /// OpenAI embeddings (`POST /v1/embeddings`): text in, vectors out, no generated text.
    OpenAiEmbeddings,
    /// OpenAI Responses (`POST /v1/responses`): typed input items, typed stream events.
    OpenAiResponses,
}

impl Api {
    /// The name in the access log (`llm_api`) and in the chain's `x-llm-client-api`.
    pub fn name(self) -> &'static str {
        match self {
            Api::OpenAiChat => "openai_chat",
            Api::AnthropicMessages => "anthropic_messages",
            Api::OpenAiEmbeddings => "openai_embeddings",
            Api::OpenAiResponses => "openai_responses",
        }
    }

    /// The OpenTelemetry GenAI operation (`gen_ai.operation.name`) of a request in this
    /// API: the Responses API and Anthropic Messages are chats too.
    pub fn operation(self) -> &'static str {
        match self {
            Api::OpenAiEmbeddings => "embeddings",
            Api::OpenAiChat | Api::AnthropicMessages | Api::OpenAiResponses => "chat",
        }
    }

    /// The API of a name that [`Api::name`] gives.
    pub fn from_name(name: &str) -> Option<Api> {
        match name {
            "openai_chat" => Some(Api::OpenAiChat),
            "anthropic_messages" => Some(Api::AnthropicMessages),
            "openai_embeddings" => Some(Api::OpenAiEmbeddings),
            "openai_responses" => Some(Api::OpenAiResponses),
            _ => None,
        }
    }

    /// The path a provider serves this API on.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Api::OpenAiChat => "/v1/chat/completions",
            Api::AnthropicMessages => "/v1/messages",
            Api::OpenAiEmbeddings => "/v1/embeddings",
            Api::OpenAiResponses => "/v1/responses",
        }
    }

    /// The provider family reported when no route names one.
    pub fn family(self) -> &'static str {
        match self {
            Api::OpenAiChat | Api::OpenAiEmbeddings | Api::OpenAiResponses => "openai",
            Api::AnthropicMessages => "anthropic",
        }
    }

    /// The answer is generated text (reserved as output tokens by the limits, guarded on
    /// the way out); an embeddings answer is vectors, billed on its input alone.
    pub fn generates(self) -> bool {
        match self {
            Api::OpenAiChat | Api::AnthropicMessages | Api::OpenAiResponses => true,
            Api::OpenAiEmbeddings => false,
        }
    }
}

/// What a request is for the gateway, by its method and path (`api.*_paths`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A `POST` in an LLM API: every stage runs.
    Llm(Api),
    /// `GET` of the model list (`id: None`) or of one model: answered by the gateway.
    Models { id: Option<String> },
    /// `POST` of a Messages request to count its input tokens: answered by the gateway.
    CountTokens,
    /// A stored Responses object (`GET`/`DELETE <responses path>/{id}`, `GET
    /// .../{id}/input_items`, `POST .../{id}/cancel`): identity runs, then the request
    /// goes to the provider that holds stored responses, with its key.
    StoredResponse,
    /// An LLM or gateway path with another method: 405.
    WrongMethod,
    /// A path the operator allows: identity runs (the client's key stays in the gateway),
    /// then the request goes on untouched.
    Allowed,
    /// Any other path: 404, so that no spelling of an LLM path skips the stages.
    Unknown,
}

/// The APIs a provider speaks (`route.providers[].format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFormat {
    /// OpenAI chat completions (OpenAI, vLLM, Ollama, ...).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Either, as the client spoke it (the mock provider).
    Both,
}

impl ProviderFormat {
    /// The API this provider is spoken to in for a client of `client`: the client's own,
    /// or the one the route translates it to. `None` when the provider has no such API and
    /// no translation reaches one: Anthropic serves no embeddings. An OpenAI-format
    /// provider serves Responses as it is (OpenAI, vLLM); chat and Messages clients are
    /// spoken to in chat completions.
    pub fn api_for(self, client: Api) -> Option<Api> {
        match (self, client) {
            (ProviderFormat::Both, _) => Some(client),
            (_, Api::OpenAiEmbeddings) => (self == ProviderFormat::OpenAi).then_some(client),
            (ProviderFormat::OpenAi, Api::OpenAiResponses) => Some(Api::OpenAiResponses),
            (ProviderFormat::OpenAi, _) => Some(Api::OpenAiChat),
            (ProviderFormat::Anthropic, _) => Some(Api::AnthropicMessages),
        }
    }

    /// The name in `route.providers[].format`.
    pub fn name(self) -> &'static str {
        match self {
            ProviderFormat::OpenAi => "openai",
            ProviderFormat::Anthropic => "anthropic",
            ProviderFormat::Both => "both",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for api in [
            Api::OpenAiChat,
            Api::AnthropicMessages,
            Api::OpenAiEmbeddings,
            Api::OpenAiResponses,
        ] {
            assert_eq!(Api::from_name(api.name()), Some(api));
        }
        assert_eq!(Api::from_name("openai"), None);
    }

    #[test]
    fn a_provider_that_speaks_both_keeps_the_clients_api() {
        assert_eq!(
            ProviderFormat::Both.api_for(Api::AnthropicMessages),
            Some(Api::AnthropicMessages)
        );
        assert_eq!(
            ProviderFormat::OpenAi.api_for(Api::AnthropicMessages),
            Some(Api::OpenAiChat)
        );
        assert_eq!(
            ProviderFormat::OpenAi.api_for(Api::OpenAiResponses),
            Some(Api::OpenAiResponses)
        );
        assert_eq!(
            ProviderFormat::Anthropic.api_for(Api::OpenAiResponses),
            Some(Api::AnthropicMessages)
        );
    }

    #[test]
    fn embeddings_are_served_by_openai_format_providers_only() {
        let e = Api::OpenAiEmbeddings;
        assert_eq!(ProviderFormat::OpenAi.api_for(e), Some(e));
        assert_eq!(ProviderFormat::Both.api_for(e), Some(e));
        assert_eq!(ProviderFormat::Anthropic.api_for(e), None);
        assert!(!e.generates() && Api::OpenAiChat.generates());
    }
}
