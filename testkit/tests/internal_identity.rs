//! Internal RPCs answer only the services that call them: every method of every service's
//! internal table is called directly on its port with no identity, with a user's access
//! token, with a token meant for another service and as each service in turn.

use std::net::SocketAddr;

use tonic::{Code, Request, metadata::MetadataValue};
use xir_common::{
    identity::{IdentitySettings, InternalRpc, Peer, SERVICE_TOKEN_HEADER, ServiceIdentity},
    testing,
};
use xir_testkit::{Options, Stack};

/// The code a raw call of `path` (with an empty request) answers. Streaming and unary methods
/// alike: a unary answer is a stream of one message.
async fn call(addr: SocketAddr, path: &str, metadata: &[(&'static str, String)]) -> Code {
    let mut grpc = tonic::client::Grpc::new(testing::channel(addr).await);
    grpc.ready().await.expect("the service accepts calls");
    let mut request = Request::new(());
    for (key, value) in metadata {
        request.metadata_mut().insert(
            *key,
            MetadataValue::try_from(value.as_str()).expect("ascii"),
        );
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = path.parse().expect("a method path");
    match grpc.server_streaming(request, path, codec).await {
        Ok(response) => match response.into_inner().message().await {
            Ok(_) => Code::Ok,
            Err(status) => status.code(),
        },
        Err(status) => status.code(),
    }
}

fn token(from: Peer, to: Peer) -> String {
    ServiceIdentity::development(from, &IdentitySettings::default()).token_for(to)
}

#[tokio::test]
async fn internal_rpcs_refuse_everyone_but_their_callers() {
    let stack = Stack::start(Options::default()).await;
    let user_token = format!("Bearer {}", stack.token(1));
    let services: [(Peer, &str, SocketAddr, &[InternalRpc]); 3] = [
        (
            Peer::User,
            xir_proto::user::v1::SERVICE_NAME,
            stack.user_addr,
            svc_user::startup::INTERNAL_RPCS,
        ),
        (
            Peer::Tweet,
            xir_proto::tweet::v1::SERVICE_NAME,
            stack.tweet_addr,
            svc_tweet::startup::INTERNAL_RPCS,
        ),
        (
            Peer::Timeline,
            xir_proto::timeline::v1::SERVICE_NAME,
            stack.timeline_addr,
            svc_timeline::startup::INTERNAL_RPCS,
        ),
    ];
    let mut checked = 0;
    for (target, service, addr, table) in services {
        for rpc in table {
            let path = format!("/{service}/{}", rpc.method);
            assert_eq!(
                call(addr, &path, &[]).await,
                Code::Unauthenticated,
                "{path}"
            );
            assert_eq!(
                call(addr, &path, &[("authorization", user_token.clone())]).await,
                Code::Unauthenticated,
                "{path} with a user's access token"
            );
            let caller = rpc.callers[0];
            let elsewhere = Peer::ALL
                .into_iter()
                .find(|peer| *peer != target)
                .expect("another service");
            assert_eq!(
                call(
                    addr,
                    &path,
                    &[(SERVICE_TOKEN_HEADER, token(caller, elsewhere))]
                )
                .await,
                Code::Unauthenticated,
                "{path} with {caller}'s token for {elsewhere}"
            );
            for peer in Peer::ALL {
                let code = call(addr, &path, &[(SERVICE_TOKEN_HEADER, token(peer, target))]).await;
                if rpc.callers.contains(&peer) {
                    // Past the gate: the empty request meets the method itself (some answer
                    // it, some find it invalid), never an identity refusal.
                    assert!(
                        !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
                        "{path} refused its caller {peer}: {code:?}"
                    );
                } else {
                    assert_eq!(code, Code::PermissionDenied, "{path} called by {peer}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12, "every internal RPC of the three services");
}
