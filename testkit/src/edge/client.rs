//! A small REST client for tests: JSON in, status, headers and JSON out.

use http::{HeaderMap, Method, StatusCode};

/// One REST answer; `json` is `Null` when the body was empty or not JSON (`text` has it).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
    pub text: String,
}

impl super::Edge {
    /// `method path` with an optional bearer token and JSON body.
    pub async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        self.request_with_headers(method, path_and_query, token, body, &[])
            .await
    }

    pub async fn request_with_headers(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        extra_headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path_and_query}", self.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in extra_headers {
            request = request.header(*name, *value);
        }
        if let Some(json) = body {
            request = request
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&json).expect("JSON"));
        }
        let response = request.send().await.expect("the edge answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        Reply {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}
