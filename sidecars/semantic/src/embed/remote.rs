//! Any OpenAI-compatible `/v1/embeddings` endpoint (vLLM, TEI, Ollama, LiteLLM, OpenAI
//! behind a local TLS proxy): plain HTTP/1.1, keep-alive, the vectors normalised here.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;

use super::normalise;

pub struct RemoteEmbedder {
    client: Client<HttpConnector, Full<Bytes>>,
    url: hyper::Uri,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
    dim: usize,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

impl RemoteEmbedder {
    /// Connects to `url` (the endpoint itself, e.g. `http://127.0.0.1:8080/v1/embeddings`)
    /// and learns the vector length from one probe request.
    pub async fn connect(
        url: &str,
        model: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<RemoteEmbedder, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("--embeddings-url {url:?} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "--embeddings-url must be http:// (got {url:?}); put a local TLS proxy in front of https endpoints"
            ));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let mut r = RemoteEmbedder {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url: uri,
            model: model.to_string(),
            api_key,
            timeout,
            dim: 0,
        };
        let probe = r.embed(&["dimension probe".to_string()]).await?;
        r.dim = probe[0].len();
        if r.dim == 0 {
            return Err(format!("{url} answered an empty embedding"));
        }
        Ok(r)
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn url(&self) -> String {
        self.url.to_string()
    }

    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let body = serde_json::to_vec(&json!({"model": self.model, "input": texts}))
            .map_err(|e| e.to_string())?;
        let mut req = Request::post(self.url.clone()).header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let call = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("embeddings endpoint: {e}"))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("embeddings endpoint: {e}"))?
                .to_bytes();
            if !status.is_success() {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
                return Err(format!("embeddings endpoint answered {status}: {text}"));
            }
            Ok(bytes)
        };
        let bytes = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| format!("embeddings endpoint: no answer in {:?}", self.timeout))??;
        let answer: Answer = serde_json::from_slice(&bytes)
            .map_err(|e| format!("embeddings endpoint answered something else: {e}"))?;
        if answer.data.len() != texts.len() {
            return Err(format!(
                "embeddings endpoint answered {} vectors for {} texts",
                answer.data.len(),
                texts.len()
            ));
        }
        let mut out = vec![Vec::new(); texts.len()];
        for (pos, item) in answer.data.into_iter().enumerate() {
            let i = item.index.unwrap_or(pos);
            let slot = out
                .get_mut(i)
                .ok_or_else(|| format!("embeddings endpoint answered index {i}"))?;
            let mut v = item.embedding;
            if self.dim != 0 && v.len() != self.dim {
                return Err(format!(
                    "embeddings endpoint changed dimension: {} (was {})",
                    v.len(),
                    self.dim
                ));
            }
            normalise(&mut v);
            *slot = v;
        }
        Ok(out)
    }
}
