//! Calls to another service spread over all of its replicas.
//!
//! gRPC keeps one HTTP/2 connection to an address and sends every call over it, so a client
//! that connects to a name once stays on whichever replica the name first resolved to. Here
//! the peer's host is resolved every `resolve_every_ms`, the channel keeps a connection to
//! every address it resolves to (a headless Kubernetes Service has one per ready pod), and
//! each call goes to the less loaded of two replicas picked at random (tower's
//! power-of-two-choices balancer, as tonic's `balance_channel` builds it). Under a mesh the
//! sidecar sees connections to pod addresses, which is what it expects of a headless Service.
//!
//! Until the first resolution, and for a host that is an IP address, the channel connects to
//! the URL as written. A failed or empty resolution keeps the addresses last seen: a DNS
//! outage does not take every replica away.

use std::{collections::BTreeSet, net::SocketAddr, sync::Arc, time::Duration};

use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
};
use http::Uri;
use tokio::sync::mpsc::Sender;
use tonic::transport::{Channel, Endpoint, channel::Change};

use crate::settings::ServiceUrl;

/// How long a connection may take to open, and a call to answer, on any replica.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error("{url} is not an http(s)://host:port URL")]
    Url { url: String },
    #[error("the endpoint {0}")]
    Endpoint(#[from] tonic::transport::Error),
    #[error("the system's DNS configuration: {0}")]
    Resolver(#[from] hickory_resolver::net::NetError),
}

/// Who answers calls through the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Replica {
    /// The URL as written, before the host has resolved.
    Unresolved,
    Address(SocketAddr),
}

/// A channel to `service` that connects on first use and balances each call across the
/// replicas its host resolves to. Must be called within a Tokio runtime: the resolution runs
/// as a task, which ends when the channel and all its clones are dropped.
pub fn channel(service: &ServiceUrl) -> Result<Channel, BalanceError> {
    let uri: Uri = service.url.parse().map_err(|_| url_error(service))?;
    let host = uri.host().ok_or_else(|| url_error(service))?;
    let as_written = endpoint(&service.url, &uri)?;
    if host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok()
    {
        // One address: nothing to resolve or balance.
        return Ok(as_written.connect_lazy());
    }
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    let resolver = resolver(service)?;
    let (channel, changes) = Channel::balance_channel(16);
    changes
        .try_send(Change::Insert(Replica::Unresolved, as_written))
        .expect("a new channel has room for its first endpoint");
    let follow = Follow {
        resolver,
        host: host.to_owned(),
        port,
        uri,
        every: service.resolve_every(),
        changes,
    };
    tokio::spawn(follow.run());
    Ok(channel)
}

fn url_error(service: &ServiceUrl) -> BalanceError {
    BalanceError::Url {
        url: service.url.clone(),
    }
}

/// An endpoint at `target` whose calls name `uri`'s authority, as a call to the URL would.
fn endpoint(target: &str, uri: &Uri) -> Result<Endpoint, BalanceError> {
    Ok(Endpoint::from_shared(target.to_owned())?
        .origin(uri.clone())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT))
}

fn resolver(service: &ServiceUrl) -> Result<Arc<TokioResolver>, BalanceError> {
    let mut builder = match service.nameserver {
        Some(server) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = server.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = server.port();
            let config = ResolverConfig::from_parts(
                None,
                Vec::new(),
                vec![NameServerConfig::new(server.ip(), true, vec![udp, tcp])],
            );
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        }
        None => TokioResolver::builder_tokio()?,
    };
    // Answers are kept no longer than one interval: each resolution sees the pods as they are.
    builder.options_mut().positive_max_ttl = Some(service.resolve_every());
    builder.options_mut().negative_max_ttl = Some(Duration::from_secs(1));
    Ok(Arc::new(builder.build()?))
}

/// The task that resolves the host again and again and tells the channel what changed.
struct Follow {
    resolver: Arc<TokioResolver>,
    host: String,
    port: u16,
    uri: Uri,
    every: Duration,
    changes: Sender<Change<Replica, Endpoint>>,
}

impl Follow {
    async fn run(self) {
        let mut current: BTreeSet<Replica> = BTreeSet::from([Replica::Unresolved]);
        loop {
            match self.resolve().await {
                Ok(found) if !found.is_empty() => {
                    if found != current && !self.apply(&current, &found).await {
                        return;
                    }
                    current = found;
                }
                Ok(_) => tracing::warn!(host = %self.host, "no address; keeping the last ones"),
                Err(error) => {
                    tracing::warn!(host = %self.host, %error, "resolution failed; keeping the last addresses");
                }
            }
            tokio::time::sleep(self.every).await;
            if self.changes.is_closed() {
                return;
            }
        }
    }

    async fn resolve(&self) -> Result<BTreeSet<Replica>, hickory_resolver::net::NetError> {
        let found = self.resolver.lookup_ip(self.host.as_str()).await?;
        Ok(found
            .iter()
            .map(|ip| Replica::Address(SocketAddr::new(ip, self.port)))
            .collect())
    }

    /// Inserts the new replicas before removing the gone ones, so the channel is never empty.
    /// False once the channel is gone.
    async fn apply(&self, current: &BTreeSet<Replica>, found: &BTreeSet<Replica>) -> bool {
        tracing::info!(
            host = %self.host,
            replicas = ?found.iter().collect::<Vec<_>>(),
            "peer replicas changed"
        );
        for replica in found.difference(current) {
            let Replica::Address(addr) = replica else {
                continue;
            };
            let scheme = self.uri.scheme_str().unwrap_or("http");
            let Ok(endpoint) = endpoint(&format!("{scheme}://{addr}"), &self.uri) else {
                continue;
            };
            if self
                .changes
                .send(Change::Insert(*replica, endpoint))
                .await
                .is_err()
            {
                return false;
            }
        }
        for replica in current.difference(found) {
            if self.changes.send(Change::Remove(*replica)).await.is_err() {
                return false;
            }
        }
        true
    }
}
