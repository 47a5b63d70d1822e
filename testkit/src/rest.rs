//! JSON over HTTP/1.1 to the edge, as a web client speaks it.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, Method, StatusCode};

/// One REST answer; `json` is `Null` when the body was empty or not JSON (`text` has it).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
    pub text: String,
}

impl Reply {
    /// A response header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The password [`RestClient::sign_up`] gives every account.
pub const PASSWORD: &str = "correct horse battery";

/// An account signed up over REST: its id (int64 ids are JSON strings) and access token.
pub struct RestAccount {
    pub id: String,
    pub token: String,
}

/// JSON over HTTP/1.1 to the edge, from one client address.
#[derive(Clone)]
pub struct RestClient {
    base: String,
    http: reqwest::Client,
}

impl RestClient {
    pub(crate) fn new(edge: SocketAddr, source: Option<IpAddr>) -> Self {
        RestClient {
            base: format!("http://{edge}"),
            http: reqwest::Client::builder()
                .local_address(source)
                .build()
                .expect("HTTP client"),
        }
    }

    /// A client of the edge at `base` (`http://host:port`).
    pub fn with_base(base: &str) -> Self {
        RestClient {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Signs `username` up (`username@example.com`, [`PASSWORD`], the username in capitals as
    /// display name); panics unless the edge answers 200.
    pub async fn sign_up(&self, username: &str) -> RestAccount {
        let reply = self
            .request(
                Method::POST,
                "/v1/auth/signup",
                None,
                Some(serde_json::json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                    "displayName": username.to_uppercase(),
                })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "sign-up: {}", reply.text);
        RestAccount {
            id: reply.json["userId"].as_str().expect("userId").to_owned(),
            token: reply.json["tokens"]["accessToken"]
                .as_str()
                .expect("accessToken")
                .to_owned(),
        }
    }

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
        self.try_request(method, path_and_query, token, body, extra_headers)
            .await
            .expect("the edge answers")
    }

    /// [`RestClient::request_with_headers`], a connection that fails or breaks being an
    /// error rather than a panic (for tests that count failures).
    pub async fn try_request(
        &self,
        method: Method,
        path_and_query: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        extra_headers: &[(&str, &str)],
    ) -> Result<Reply, reqwest::Error> {
        let mut request = self
            .http
            .request(method, format!("{}{path_and_query}", self.base));
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
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Reply {
            status,
            headers,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }
}
