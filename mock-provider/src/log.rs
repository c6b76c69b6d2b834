//! The requests received, newest last, for `GET /__mock/requests`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::Request;

/// How many requests are kept; older ones are dropped.
pub const CAPACITY: usize = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// The `--name` of the mock instance that received it.
    pub name: String,
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// Lowercased name -> value; repeated headers joined with ", ".
    pub headers: Map<String, Value>,
    /// The body as UTF-8, invalid bytes replaced.
    pub body: String,
}

impl LoggedRequest {
    pub fn of(request: &Request, name: &str) -> Self {
        let mut headers = Map::new();
        for (name, value) in &request.headers {
            let joined = match headers.get(name) {
                Some(Value::String(before)) => format!("{before}, {value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
        }
        LoggedRequest {
            name: name.to_string(),
            method: request.method.clone(),
            path: request.target.clone(),
            headers,
            body: String::from_utf8_lossy(&request.body).into_owned(),
        }
    }
}

#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    pub fn record(&self, request: &Request, name: &str) {
        let entry = LoggedRequest::of(request, name);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The JSON array served at `GET /__mock/requests`, oldest first.
    pub fn to_json(&self) -> Vec<u8> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::to_vec(&*entries).unwrap_or_else(|_| b"[]".to_vec())
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> Request {
        Request {
            method: "POST".into(),
            target: "/v1/messages".into(),
            http10: false,
            headers: vec![("x-a".into(), "1".into()), ("x-a".into(), "2".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn keeps_the_last_thousand_and_clears() {
        let log = RequestLog::default();
        for i in 0..CAPACITY + 5 {
            log.record(&request(&i.to_string()), "primary");
        }
        let list: Vec<Value> = serde_json::from_slice(&log.to_json()).unwrap();
        assert_eq!(list.len(), CAPACITY);
        assert_eq!(list[0]["body"], "5");
        assert_eq!(list[CAPACITY - 1]["body"], (CAPACITY + 4).to_string());
        assert_eq!(list[0]["headers"]["x-a"], "1, 2");
        assert_eq!(list[0]["path"], "/v1/messages");
        assert_eq!(list[0]["name"], "primary");
        log.clear();
        assert_eq!(log.to_json(), b"[]");
    }
}
