//! Service-to-service calls are balanced across every replica behind a name, and follow the
//! replicas as the name's addresses change.
//!
//! Two svc-user replicas run as processes on one port at two loopback addresses, as two pods
//! of a headless Service; `xir_testkit::kube::ClusterDns` answers for their name, as the
//! cluster DNS does. A svc-tweet replica is pointed at that name and that DNS server. Each
//! `GetTweet` it answers hydrates the author with one `BatchGetProfiles` call to svc-user; each
//! replica's own metrics count the calls it served.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use tonic::transport::Channel;
use xir_common::testing;
use xir_proto::tweet::v1::{
    CreateTweetRequest, GetTweetRequest, tweet_service_client::TweetServiceClient,
};
use xir_testkit::{Options, Service, Stack, bearer, kube::ClusterDns, processes::ServiceProcess};

const NAME: &str = "svc-user.xir.test";
const FIRST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const SECOND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A svc-user replica at `ip:port` on the stack's database, its metrics on a port of its own.
async fn user_replica(
    stack: &Stack,
    dir: &std::path::Path,
    ip: Ipv4Addr,
    port: u16,
) -> (ServiceProcess, SocketAddr) {
    let metrics = SocketAddr::from((ip, testing::free_port()));
    let mut replica = ServiceProcess::new(
        "svc-user",
        SocketAddr::from((ip, port)),
        dir,
        &[
            ("XIR_DATABASE__URL", stack.user_database.url().to_owned()),
            ("XIR_TIMELINE_SERVICE__URL", stack.url(Service::Timeline)),
            ("XIR_AUTH__URL", stack.url(Service::Auth)),
            ("XIR_SERVER__METRICS_PORT", metrics.port().to_string()),
        ],
    );
    replica.start().await;
    (replica, metrics)
}

/// The `BatchGetProfiles` calls the replica whose metrics are at `metrics` has served.
async fn profile_batches(metrics: SocketAddr) -> f64 {
    testing::scrape_metrics(metrics)
        .await
        .lines()
        .filter(|l| {
            l.starts_with("grpc_server_requests_total{")
                && l.contains("grpc_method=\"BatchGetProfiles\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Reads one tweet through the svc-tweet under test; each read hydrates the author through
/// svc-user.
struct Reader {
    tweets: TweetServiceClient<Channel>,
    tweet_id: i64,
    replicas: [SocketAddr; 2],
}

impl Reader {
    /// `calls` reads, then the `BatchGetProfiles` calls each replica served meanwhile.
    async fn read(&self, calls: usize) -> [f64; 2] {
        let before = [
            profile_batches(self.replicas[0]).await,
            profile_batches(self.replicas[1]).await,
        ];
        let mut tweets = self.tweets.clone();
        for _ in 0..calls {
            let tweet = tweets
                .get_tweet(GetTweetRequest {
                    tweet_id: self.tweet_id,
                })
                .await
                .expect("GetTweet")
                .into_inner();
            assert!(
                tweet.tweet.and_then(|t| t.author).is_some(),
                "the tweet comes with its author"
            );
        }
        [
            profile_batches(self.replicas[0]).await - before[0],
            profile_batches(self.replicas[1]).await - before[1],
        ]
    }

    /// Rounds of `calls` reads until what the replicas served in one round satisfies `done`.
    async fn until(&self, what: &str, calls: usize, done: impl Fn([f64; 2]) -> bool) {
        testing::eventually(Duration::from_secs(30), what, || async {
            done(self.read(calls).await).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn calls_reach_every_replica_behind_a_name_and_follow_its_addresses() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let stack = Stack::start(Options::default()).await;
    stack.seed_profiles(1, 1, "poster").await;
    let posted = stack
        .tweets()
        .await
        .create_tweet(bearer(
            &stack.token(1),
            CreateTweetRequest {
                text: "balanced".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("CreateTweet")
        .into_inner();
    let tweet_id = posted.tweet.expect("the tweet").tweet_id;

    let port = testing::free_port();
    let (_first, first_metrics) = user_replica(&stack, dir.path(), FIRST, port).await;
    let (_second, second_metrics) = user_replica(&stack, dir.path(), SECOND, port).await;
    let replicas = [first_metrics, second_metrics];
    let dns = ClusterDns::start().await;
    dns.add(NAME, FIRST);
    dns.add(NAME, SECOND);
    let caller = stack
        .start_tweet_replica_with(&format!(
            "url = \"http://{NAME}:{port}\"\nnameserver = \"{}\"\nresolve_every_ms = 200",
            dns.addr()
        ))
        .await;
    let tweets = TweetServiceClient::new(testing::channel(caller).await);

    let reader = Reader {
        tweets,
        tweet_id,
        replicas,
    };
    // Both replicas get calls once the name has resolved to both.
    reader
        .until("both replicas serving the caller's calls", 40, |served| {
            served[0] > 0.0 && served[1] > 0.0
        })
        .await;
    // A replica whose address leaves the name gets no more calls; the other gets them all.
    dns.remove(NAME, SECOND);
    reader
        .until(
            "the second replica left out once its address is gone",
            20,
            |served| served == [20.0, 0.0],
        )
        .await;
    // And gets calls again when it is back.
    dns.add(NAME, SECOND);
    reader
        .until("the second replica serving again", 40, |served| {
            served[1] > 0.0
        })
        .await;
}
