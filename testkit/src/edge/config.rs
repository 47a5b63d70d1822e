//! The parts of deploy/envoy/envoy.yaml the stand-in obeys, read from the file itself so the
//! contract test exercises the real routing table: which gRPC methods are routed to which
//! cluster (and which are refused), route timeouts, read retries, and the transcoder's
//! options.

use std::{path::Path, time::Duration};

use regex::Regex;
use serde_yaml::Value;

/// The edge configuration in the repository.
pub fn envoy_yaml_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/envoy/envoy.yaml")
}

#[derive(Debug)]
pub struct EdgeConfig {
    /// The services the transcoder maps (`grpc_json_transcoder.services`).
    pub services: Vec<String>,
    pub routes: Vec<Route>,
    pub options: TranscoderOptions,
}

#[derive(Debug, Clone, Copy)]
pub struct TranscoderOptions {
    pub convert_grpc_status: bool,
    pub reject_unknown_method: bool,
    pub reject_unknown_query_parameters: bool,
    pub always_print_primitive_fields: bool,
    pub always_print_enums_as_ints: bool,
    pub preserve_proto_field_names: bool,
}

#[derive(Debug)]
pub struct Route {
    matcher: Matcher,
    pub action: Action,
}

#[derive(Debug)]
enum Matcher {
    Path(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub enum Action {
    Forward {
        cluster: String,
        timeout: Option<Duration>,
        /// Retries on UNAVAILABLE (`retry_on: unavailable`).
        retries_on_unavailable: u32,
    },
    Respond {
        status: u16,
        body: String,
    },
}

impl EdgeConfig {
    pub fn load(path: &Path) -> Result<EdgeConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut root: Value =
            serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        root.apply_merge().map_err(|e| e.to_string())?;
        let manager = find_typed_config(&root, "HttpConnectionManager")
            .ok_or("no http_connection_manager in envoy.yaml")?;
        let transcoder = find_typed_config(manager, "GrpcJsonTranscoder")
            .ok_or("no grpc_json_transcoder in envoy.yaml")?;
        let virtual_hosts = manager["route_config"]["virtual_hosts"]
            .as_sequence()
            .ok_or("route_config.virtual_hosts missing")?;
        // The stand-in serves every domain: one virtual host, as in envoy.yaml.
        let [host] = virtual_hosts.as_slice() else {
            return Err("the stand-in expects exactly one virtual host".into());
        };
        let routes = host["routes"]
            .as_sequence()
            .ok_or("virtual host without routes")?
            .iter()
            .map(Route::parse)
            .collect::<Result<_, _>>()?;
        let flag = |section: &str, name: &str| transcoder[section][name].as_bool().unwrap_or(false);
        Ok(EdgeConfig {
            services: transcoder["services"]
                .as_sequence()
                .ok_or("grpc_json_transcoder.services missing")?
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            routes,
            options: TranscoderOptions {
                convert_grpc_status: transcoder["convert_grpc_status"].as_bool().unwrap_or(false),
                reject_unknown_method: flag("request_validation_options", "reject_unknown_method"),
                reject_unknown_query_parameters: flag(
                    "request_validation_options",
                    "reject_unknown_query_parameters",
                ),
                always_print_primitive_fields: flag(
                    "print_options",
                    "always_print_primitive_fields",
                ),
                always_print_enums_as_ints: flag("print_options", "always_print_enums_as_ints"),
                preserve_proto_field_names: flag("print_options", "preserve_proto_field_names"),
            },
        })
    }

    /// The action of the first route matching the (transcoded) gRPC path, as Envoy picks it.
    pub fn route(&self, grpc_path: &str) -> Option<&Action> {
        self.routes
            .iter()
            .find(|route| route.matcher.matches(grpc_path))
            .map(|route| &route.action)
    }
}

impl Route {
    fn parse(route: &Value) -> Result<Route, String> {
        let matcher = &route["match"];
        let matcher = if let Some(path) = matcher["path"].as_str() {
            Matcher::Path(path.to_owned())
        } else if let Some(prefix) = matcher["prefix"].as_str() {
            Matcher::Prefix(prefix.to_owned())
        } else if let Some(regex) = matcher["safe_regex"]["regex"].as_str() {
            // Envoy's safe_regex is RE2 and matches the whole path.
            Matcher::Regex(Regex::new(&format!("^(?:{regex})$")).map_err(|e| e.to_string())?)
        } else {
            return Err(format!("unsupported route match: {matcher:?}"));
        };
        let action = if let Some(forward) = route.get("route") {
            let retry = &forward["retry_policy"];
            let retries_on_unavailable = match retry["retry_on"].as_str() {
                Some(on) if on.split(',').any(|c| c.trim() == "unavailable") => {
                    retry["num_retries"].as_u64().unwrap_or(1) as u32
                }
                _ => 0,
            };
            Action::Forward {
                cluster: forward["cluster"]
                    .as_str()
                    .ok_or("route without cluster")?
                    .to_owned(),
                timeout: forward["timeout"]
                    .as_str()
                    .map(parse_duration)
                    .transpose()?,
                retries_on_unavailable,
            }
        } else if let Some(direct) = route.get("direct_response") {
            Action::Respond {
                status: direct["status"]
                    .as_u64()
                    .ok_or("direct_response without status")? as u16,
                body: direct["body"]["inline_string"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }
        } else {
            return Err(format!("unsupported route action: {route:?}"));
        };
        Ok(Route { matcher, action })
    }
}

impl Matcher {
    fn matches(&self, path: &str) -> bool {
        match self {
            Matcher::Path(exact) => path == exact,
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Matcher::Regex(regex) => regex.is_match(path),
        }
    }
}

/// Envoy durations in YAML: "5s", "0.25s".
fn parse_duration(text: &str) -> Result<Duration, String> {
    text.strip_suffix('s')
        .and_then(|seconds| seconds.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("unsupported duration {text:?}"))
}

/// The first `typed_config` below `value` whose `@type` ends with `.{type_name}`.
fn find_typed_config<'a>(value: &'a Value, type_name: &str) -> Option<&'a Value> {
    match value {
        Value::Mapping(map) => {
            if let Some(Value::String(url)) = map.get("@type")
                && url.ends_with(&format!(".{type_name}"))
            {
                return Some(value);
            }
            map.values().find_map(|v| find_typed_config(v, type_name))
        }
        Value::Sequence(items) => items.iter().find_map(|v| find_typed_config(v, type_name)),
        _ => None,
    }
}
