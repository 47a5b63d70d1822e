//! The writes of the fault run, and the ledger of what was acknowledged.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::Mutex,
    time::Duration,
};

use tonic::{Request, transport::Channel};
use xir_proto::{
    auth::v1::{SignUpRequest, auth_service_client::AuthServiceClient},
    timeline::v1::timeline_service_client::TimelineServiceClient,
    tweet::v1::{
        CreateTweetRequest, LikeTweetRequest, RepostRequest,
        tweet_service_client::TweetServiceClient,
    },
    user::v1::{FollowRequest, user_service_client::UserServiceClient},
};

pub(crate) const PASSWORD: &str = "fault-injection-password";

pub(crate) fn lazy(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid address")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

pub(crate) fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) auth: AuthServiceClient<Channel>,
    pub(crate) users: UserServiceClient<Channel>,
    pub(crate) tweets: TweetServiceClient<Channel>,
    pub(crate) timelines: TimelineServiceClient<Channel>,
}

/// What the load was told happened, and how often it was told no.
#[derive(Default)]
pub(crate) struct Ledger {
    pub(crate) users: Vec<(i64, String)>,
    pub(crate) follows: BTreeSet<(i64, i64)>,
    pub(crate) tweets: BTreeMap<i64, (i64, String)>,
    pub(crate) likes: BTreeSet<(i64, i64)>,
    pub(crate) reposts: BTreeSet<(i64, i64)>,
    /// Every (user, tweet) pair a like or repost was tried on, acknowledged or not: nobody
    /// else reacts, so these are the only places a stored reaction can be.
    pub(crate) tried: BTreeSet<(i64, i64)>,
    pub(crate) attempts: BTreeMap<&'static str, (u32, u32)>,
}

impl Ledger {
    pub(crate) fn record(&mut self, kind: &'static str, acknowledged: bool) {
        let entry = self.attempts.entry(kind).or_default();
        if acknowledged {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
}

/// A small deterministic generator: the load is the same on every run.
pub(crate) struct Dice(pub(crate) u64);

impl Dice {
    pub(crate) fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

pub(crate) async fn sign_up(clients: &Clients, ledger: &Mutex<Ledger>, n: usize) {
    let username = format!("fault_{n}");
    let outcome = clients
        .auth
        .clone()
        .sign_up(SignUpRequest {
            username: username.clone(),
            email: format!("{username}@example.org"),
            password: PASSWORD.into(),
            display_name: String::new(),
        })
        .await;
    let mut ledger = ledger.lock().unwrap();
    ledger.record("sign-up", outcome.is_ok());
    if let Ok(response) = outcome {
        let response = response.into_inner();
        let token = response.tokens.expect("tokens").access_token;
        ledger.users.push((response.user_id, token));
    }
}

/// One write of the mix, by a user the load already has.
pub(crate) async fn one_write(
    clients: &Clients,
    ledger: &Mutex<Ledger>,
    dice: &mut Dice,
    n: usize,
) {
    let (users, tweets) = {
        let ledger = ledger.lock().unwrap();
        let tweets: Vec<i64> = ledger.tweets.keys().copied().collect();
        (ledger.users.clone(), tweets)
    };
    let (me, token) = users[dice.next(users.len())].clone();
    match dice.next(20) {
        0 | 1 => sign_up(clients, ledger, n).await,
        2..=6 => {
            let (other, _) = users[dice.next(users.len())];
            if other == me {
                return;
            }
            let outcome = clients
                .users
                .clone()
                .follow(authed(&token, FollowRequest { user_id: other }))
                .await;
            let mut ledger = ledger.lock().unwrap();
            ledger.record("follow", outcome.is_ok());
            if outcome.is_ok() {
                ledger.follows.insert((me, other));
            }
        }
        7..=12 => {
            let text = format!("fault load tweet {n}");
            let outcome = clients
                .tweets
                .clone()
                .create_tweet(authed(
                    &token,
                    CreateTweetRequest {
                        text: text.clone(),
                        ..Default::default()
                    },
                ))
                .await;
            let mut ledger = ledger.lock().unwrap();
            ledger.record("tweet", outcome.is_ok());
            if let Ok(response) = outcome {
                let tweet = response.into_inner().tweet.expect("the tweet");
                ledger.tweets.insert(tweet.tweet_id, (me, text));
            }
        }
        13..=19 if !tweets.is_empty() => {
            let tweet_id = tweets[dice.next(tweets.len())];
            let like = dice.next(7) < 4;
            let mut tweets_client = clients.tweets.clone();
            let acknowledged = if like {
                tweets_client
                    .like_tweet(authed(&token, LikeTweetRequest { tweet_id }))
                    .await
                    .is_ok()
            } else {
                tweets_client
                    .repost(authed(&token, RepostRequest { tweet_id }))
                    .await
                    .is_ok()
            };
            let mut ledger = ledger.lock().unwrap();
            ledger.tried.insert((me, tweet_id));
            ledger.record(if like { "like" } else { "repost" }, acknowledged);
            if acknowledged {
                let kept = if like {
                    &mut ledger.likes
                } else {
                    &mut ledger.reposts
                };
                kept.insert((me, tweet_id));
            }
        }
        _ => {}
    }
}
