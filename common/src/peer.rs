//! Channels to the other services: every call carries the caller's trace context and its
//! service token for the receiver (see [`crate::identity`]).

use std::sync::Arc;

use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

use crate::{
    balance::{self, BalanceError},
    identity::{Peer, SERVICE_TOKEN_HEADER, ServiceIdentity},
    propagation,
    settings::ServiceUrl,
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

/// A channel to `target` at `service`'s URL that connects on first use (a peer that is down
/// does not stop this service from starting) and balances calls across its replicas.
pub fn connect(
    service: &ServiceUrl,
    identity: &Arc<ServiceIdentity>,
    target: Peer,
) -> Result<PeerChannel, BalanceError> {
    Ok(InterceptedService::new(
        balance::channel(service)?,
        PeerInterceptor::new(identity.clone(), target),
    ))
}
