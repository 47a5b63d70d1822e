//! Channels to the other services: every call carries the caller's trace context and its
//! service token for the receiver (see [`crate::identity`]).

use std::{sync::Arc, time::Duration};

use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::{
    identity::{Peer, SERVICE_TOKEN_HEADER, ServiceIdentity},
    propagation,
};

/// Stamps outgoing calls to one peer.
#[derive(Clone)]
pub struct PeerInterceptor {
    identity: Arc<ServiceIdentity>,
    target: Peer,
}

impl PeerInterceptor {
    pub fn new(identity: Arc<ServiceIdentity>, target: Peer) -> Self {
        Self { identity, target }
    }
}

impl Interceptor for PeerInterceptor {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = propagation::propagate(request)?;
        let token = MetadataValue::try_from(self.identity.token_for(self.target))
            .map_err(|_| Status::internal("a service token is not ASCII"))?;
        request.metadata_mut().insert(SERVICE_TOKEN_HEADER, token);
        Ok(request)
    }
}

/// The client type every service uses for calls to another.
pub type PeerChannel = InterceptedService<Channel, PeerInterceptor>;

/// A channel to `target` at `url` that connects on first use (a peer that is down does not
/// stop this service from starting).
pub fn connect_lazy(
    url: &str,
    identity: &Arc<ServiceIdentity>,
    target: Peer,
) -> Result<PeerChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    Ok(InterceptedService::new(
        channel,
        PeerInterceptor::new(identity.clone(), target),
    ))
}
