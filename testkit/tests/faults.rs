//! Fault injection: a mixed write load (sign-ups, follows, tweets, likes, reposts) runs against
//! the four services as real processes while each service in turn is killed with SIGKILL and
//! started again, FerretDB (tweets, timelines) is killed and started again on its data, and
//! every PostgreSQL connection is cut for a while. Afterwards, read only through the public
//! RPCs: every acknowledged write is there exactly once, every home timeline holds exactly the
//! tweets of its owner and the people they follow, every counter equals what is stored, and no
//! notification was made twice.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tonic::{Request, transport::Channel};
use xir_common::testing;
use xir_proto::{
    auth::v1::{SignUpRequest, auth_service_client::AuthServiceClient},
    timeline::v1::{
        GetHomeTimelineRequest, ListNotificationsRequest,
        timeline_service_client::TimelineServiceClient,
    },
    tweet::v1::{
        CreateTweetRequest, GetTweetRequest, LikeTweetRequest, ListUserTweetsRequest,
        RepostRequest, tweet_service_client::TweetServiceClient,
    },
    user::v1::{
        FollowRequest, GetProfileRequest, ListFollowingRequest, get_profile_request::User,
        user_service_client::UserServiceClient,
    },
};
use xir_testkit::processes::{FerretProcess, ServiceProcess};

const PASSWORD: &str = "fault-injection-password";
const CONVERGENCE_BOUND: Duration = Duration::from_secs(600);

fn lazy(addr: SocketAddr) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid address")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

fn authed<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

#[derive(Clone)]
struct Clients {
    auth: AuthServiceClient<Channel>,
    users: UserServiceClient<Channel>,
    tweets: TweetServiceClient<Channel>,
    timelines: TimelineServiceClient<Channel>,
}

/// What the load was told happened, and how often it was told no.
#[derive(Default)]
struct Ledger {
    users: Vec<(i64, String)>,
    follows: BTreeSet<(i64, i64)>,
    tweets: BTreeMap<i64, (i64, String)>,
    likes: BTreeSet<(i64, i64)>,
    reposts: BTreeSet<(i64, i64)>,
    /// Every (user, tweet) pair a like or repost was tried on, acknowledged or not: nobody
    /// else reacts, so these are the only places a stored reaction can be.
    tried: BTreeSet<(i64, i64)>,
    attempts: BTreeMap<&'static str, (u32, u32)>,
}

impl Ledger {
    fn record(&mut self, kind: &'static str, acknowledged: bool) {
        let entry = self.attempts.entry(kind).or_default();
        if acknowledged {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
    }
}

/// A small deterministic generator: the load is the same on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

async fn sign_up(clients: &Clients, ledger: &Mutex<Ledger>, n: usize) {
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
async fn one_write(clients: &Clients, ledger: &Mutex<Ledger>, dice: &mut Dice, n: usize) {
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

/// Everything a user's pages say, read through the public RPCs.
#[derive(Debug, Default, PartialEq)]
struct Found {
    /// Original tweets: id -> (author, text, like count, repost count).
    tweets: BTreeMap<i64, (i64, String, i64, i64)>,
    following: BTreeMap<i64, BTreeSet<i64>>,
    followers_count: BTreeMap<i64, i64>,
    /// (viewer, tweet) pairs the viewer likes / reposted, from the viewer states.
    liked: BTreeSet<(i64, i64)>,
    reposted: BTreeSet<(i64, i64)>,
    /// The tweets each home timeline shows (original or reposted), and whether any item
    /// appeared twice.
    home: BTreeMap<i64, BTreeSet<i64>>,
    repeated_items: u32,
    repeated_notifications: u32,
    duplicate_texts: u32,
}

async fn read_everything(
    clients: &Clients,
    users: &[(i64, String)],
    tried: &BTreeSet<(i64, i64)>,
) -> Result<Found, tonic::Status> {
    let mut found = Found::default();
    let mut texts = HashMap::new();
    let tokens: HashMap<i64, &String> = users.iter().map(|(id, token)| (*id, token)).collect();
    for (viewer, tweet_id) in tried {
        let tweet = clients
            .tweets
            .clone()
            .get_tweet(authed(
                tokens[viewer],
                GetTweetRequest {
                    tweet_id: *tweet_id,
                },
            ))
            .await?
            .into_inner()
            .tweet
            .expect("a tweet");
        let state = tweet.viewer.unwrap_or_default();
        if state.liked {
            found.liked.insert((*viewer, *tweet_id));
        }
        if state.reposted {
            found.reposted.insert((*viewer, *tweet_id));
        }
    }
    for (author, token) in users {
        let mut max_id = 0;
        loop {
            let page = clients
                .tweets
                .clone()
                .list_user_tweets(authed(
                    token,
                    ListUserTweetsRequest {
                        exclude_replies: false,
                        user_id: *author,
                        max_id,
                        since_id: 0,
                        limit: 100,
                    },
                ))
                .await?
                .into_inner();
            for item in page.items {
                let tweet = item.tweet.expect("a tweet");
                if item.reposted_by_user_id == 0 {
                    if found
                        .tweets
                        .insert(
                            tweet.tweet_id,
                            (
                                *author,
                                tweet.text.clone(),
                                tweet.like_count,
                                tweet.repost_count,
                            ),
                        )
                        .is_some()
                    {
                        found.repeated_items += 1;
                    }
                    if texts.insert(tweet.text.clone(), tweet.tweet_id).is_some() {
                        found.duplicate_texts += 1;
                    }
                }
            }
            if page.next_max_id == 0 {
                break;
            }
            max_id = page.next_max_id;
        }
    }
    for (user, token) in users {
        let profile = clients
            .users
            .clone()
            .get_profile(GetProfileRequest {
                user: Some(User::UserId(*user)),
            })
            .await?
            .into_inner()
            .profile
            .expect("a profile");
        found.followers_count.insert(*user, profile.followers_count);
        let mut following = BTreeSet::new();
        let mut cursor = String::new();
        loop {
            let page = clients
                .users
                .clone()
                .list_following(ListFollowingRequest {
                    user_id: *user,
                    limit: 100,
                    cursor,
                })
                .await?
                .into_inner();
            following.extend(page.profiles.iter().map(|p| p.user_id));
            if page.next_cursor.is_empty() {
                break;
            }
            cursor = page.next_cursor;
        }
        found.following.insert(*user, following);

        let mut home = BTreeSet::new();
        let mut items = BTreeSet::new();
        let mut max_id = 0;
        loop {
            let page = clients
                .timelines
                .clone()
                .get_home_timeline(authed(
                    token,
                    GetHomeTimelineRequest {
                        max_id,
                        since_id: 0,
                        limit: 100,
                    },
                ))
                .await?
                .into_inner();
            for item in page.items {
                if !items.insert(item.item_id) {
                    found.repeated_items += 1;
                }
                // A tweet shows once, as an original or as a repost, whichever is newer.
                home.insert(item.card.and_then(|c| c.tweet).map_or(0, |t| t.tweet_id));
            }
            if page.next_max_id == 0 {
                break;
            }
            max_id = page.next_max_id;
        }
        found.home.insert(*user, home);

        let mut seen = BTreeSet::new();
        let mut max_id = 0;
        loop {
            let page = clients
                .timelines
                .clone()
                .list_notifications(authed(
                    token,
                    ListNotificationsRequest {
                        max_id,
                        limit: 100,
                        since_id: 0,
                    },
                ))
                .await?
                .into_inner();
            for notification in page.notifications {
                let key = (
                    notification.actor.map_or(0, |a| a.user_id),
                    notification.kind,
                    notification
                        .card
                        .and_then(|c| c.tweet)
                        .map_or(0, |t| t.tweet_id),
                );
                if !seen.insert(key) {
                    found.repeated_notifications += 1;
                }
            }
            if page.next_max_id == 0 {
                break;
            }
            max_id = page.next_max_id;
        }
    }
    Ok(found)
}

/// Why `found` is not (yet) the converged state, or None when it is.
fn divergence(found: &Found) -> Option<String> {
    for (tweet_id, (_, _, like_count, repost_count)) in &found.tweets {
        let likes = found.liked.iter().filter(|(_, t)| t == tweet_id).count() as i64;
        let reposts = found.reposted.iter().filter(|(_, t)| t == tweet_id).count() as i64;
        if *like_count != likes || *repost_count != reposts {
            return Some(format!(
                "tweet {tweet_id}: counts {like_count} likes / {repost_count} reposts, stored {likes} / {reposts}"
            ));
        }
    }
    for (user, following) in &found.following {
        let followers = found
            .following
            .values()
            .filter(|f| f.contains(user))
            .count() as i64;
        if found.followers_count[user] != followers {
            return Some(format!(
                "user {user}: followers_count {}, {followers} follow them",
                found.followers_count[user]
            ));
        }
        // The tweets of the owner and of everyone they follow, and the tweets those people
        // reposted.
        let circle = |someone: &i64| someone == user || following.contains(someone);
        let expected: BTreeSet<i64> = found
            .tweets
            .iter()
            .filter(|(_, (author, ..))| circle(author))
            .map(|(id, _)| *id)
            .chain(
                found
                    .reposted
                    .iter()
                    .filter(|(reposter, tweet)| {
                        circle(reposter) && found.tweets.contains_key(tweet)
                    })
                    .map(|(_, tweet)| *tweet),
            )
            .collect();
        if found.home[user] != expected {
            let missing: Vec<_> = expected
                .difference(&found.home[user])
                .map(|id| (id, found.tweets[id].0))
                .collect();
            let extra: Vec<_> = found.home[user].difference(&expected).collect();
            return Some(format!(
                "home timeline of {user} (following {following:?}): missing (tweet, author) \
                 {missing:?}, extra {extra:?}"
            ));
        }
    }
    None
}

#[tokio::test]
async fn acknowledged_writes_survive_killed_services_and_databases() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut ferret = FerretProcess::new(dir.path());
    ferret.start().await;
    let postgres = testing::url_socket_addr(&testing::postgres_database("faults_probe").await);
    let postgres_proxy = testing::SwitchableProxy::start(postgres, true).await;
    let behind_proxy = |url: String| testing::url_with_addr(&url, postgres_proxy.addr());
    let auth_db = behind_proxy(testing::postgres_database("faults_auth").await);
    let user_db = behind_proxy(testing::postgres_database("faults_user").await);

    let addr = || SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
    let (auth_addr, user_addr, tweet_addr, timeline_addr) = (addr(), addr(), addr(), addr());
    let url = |addr: SocketAddr| format!("http://{addr}");
    let shared = [("XIR_AUTH__URL", url(auth_addr))];
    let outbox = [
        ("XIR_OUTBOX__POLL_INTERVAL_MS", "50".to_owned()),
        ("XIR_OUTBOX__RETRY_MAX_MS", "1000".to_owned()),
    ];
    let generous = ("XIR_NOTIFYING_WRITES__BURST", "10000".to_owned());
    let with = |own: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
        shared.iter().cloned().chain(own.iter().cloned()).collect()
    };
    let signing_key = svc_auth::keys::generate_pem().expect("a signing key");
    let mut services = [
        ServiceProcess::new(
            "svc-auth",
            auth_addr,
            dir.path(),
            &with(&[
                ("XIR_DATABASE__URL", auth_db),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TOKENS__SIGNING_KEY_PEM", signing_key),
                // Cheap hashing: this test is about faults, not password cost.
                ("XIR_PASSWORDS__MEMORY_KIB", "1024".to_owned()),
                ("XIR_PASSWORDS__ITERATIONS", "1".to_owned()),
                outbox[0].clone(),
                outbox[1].clone(),
            ]),
        ),
        ServiceProcess::new(
            "svc-user",
            user_addr,
            dir.path(),
            &with(&[
                ("XIR_DATABASE__URL", user_db),
                ("XIR_TIMELINE_SERVICE__URL", url(timeline_addr)),
                outbox[0].clone(),
                outbox[1].clone(),
                generous.clone(),
            ]),
        ),
        ServiceProcess::new(
            "svc-tweet",
            tweet_addr,
            dir.path(),
            &with(&[
                ("XIR_DATABASE__URL", ferret.url()),
                ("XIR_DATABASE__NAME", testing::unique_name("faults_tweet")),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TIMELINE_SERVICE__URL", url(timeline_addr)),
                outbox[0].clone(),
                outbox[1].clone(),
                generous.clone(),
            ]),
        ),
        ServiceProcess::new(
            "svc-timeline",
            timeline_addr,
            dir.path(),
            &with(&[
                ("XIR_DATABASE__URL", ferret.url()),
                (
                    "XIR_DATABASE__NAME",
                    testing::unique_name("faults_timeline"),
                ),
                ("XIR_USER_SERVICE__URL", url(user_addr)),
                ("XIR_TWEET_SERVICE__URL", url(tweet_addr)),
            ]),
        ),
    ];
    for service in &mut services {
        service.start().await;
    }
    let clients = Clients {
        auth: AuthServiceClient::new(lazy(auth_addr)),
        users: UserServiceClient::new(lazy(user_addr)),
        tweets: TweetServiceClient::new(lazy(tweet_addr)),
        timelines: TimelineServiceClient::new(lazy(timeline_addr)),
    };
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    for n in 0..6 {
        sign_up(&clients, &ledger, n).await;
    }
    assert_eq!(
        ledger.lock().unwrap().users.len(),
        6,
        "sign-ups before any fault"
    );

    // The load: three writers until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|worker| {
            let (clients, ledger, stop) = (clients.clone(), ledger.clone(), stop.clone());
            tokio::spawn(async move {
                let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (worker as u64 + 1));
                let mut n = 1_000 * (worker + 1);
                while !stop.load(Ordering::SeqCst) {
                    one_write(&clients, &ledger, &mut dice, n).await;
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();

    let pause = || tokio::time::sleep(Duration::from_secs(2));
    let mut faults = Vec::new();
    for index in [1, 2, 3, 0] {
        pause().await;
        services[index].kill().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        services[index].start().await;
        faults.push(format!("SIGKILL {}", services[index].name));
    }
    pause().await;
    ferret.kill().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ferret.start().await;
    faults.push("SIGKILL FerretDB".to_owned());
    pause().await;
    postgres_proxy.set_up(false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres_proxy.set_up(true);
    faults.push("PostgreSQL connections cut for 3 s".to_owned());
    pause().await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer finished");
    }
    for service in &services {
        service.wait_ready().await;
    }

    let ledger = Arc::try_unwrap(ledger)
        .ok()
        .expect("the writers are done")
        .into_inner()
        .unwrap();
    println!("faults injected, in order: {}", faults.join(", "));
    for (kind, (acknowledged, failed)) in &ledger.attempts {
        println!("{kind}: {acknowledged} acknowledged, {failed} failed during faults");
    }

    // Converge: read everything until it is consistent, within a generous bound.
    let started = Instant::now();
    let found = loop {
        match read_everything(&clients, &ledger.users, &ledger.tried).await {
            Ok(found) => match divergence(&found) {
                None => break found,
                Some(why) => {
                    if started.elapsed() >= CONVERGENCE_BOUND {
                        // Keep the services' logs and FerretDB's data for a post-mortem.
                        let kept = dir.keep();
                        panic!(
                            "not converged after {CONVERGENCE_BOUND:?}: {why}\n\
                             logs and database files kept in {}",
                            kept.display()
                        );
                    }
                }
            },
            Err(status) => assert!(
                started.elapsed() < CONVERGENCE_BOUND,
                "reads still failing after {CONVERGENCE_BOUND:?}: {status:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let converged = started.elapsed();

    // Every acknowledged write is there, once.
    let lost_tweets: Vec<_> = ledger
        .tweets
        .iter()
        .filter(|(id, (author, text))| {
            found.tweets.get(id).map(|(a, t, ..)| (a, t)) != Some((author, text))
        })
        .collect();
    let lost_follows: Vec<_> = ledger
        .follows
        .iter()
        .filter(|(a, b)| !found.following[a].contains(b))
        .collect();
    let lost_likes: Vec<_> = ledger.likes.difference(&found.liked).collect();
    let lost_reposts: Vec<_> = ledger.reposts.difference(&found.reposted).collect();
    println!(
        "acknowledged: {} users, {} follows, {} tweets, {} likes, {} reposts",
        ledger.users.len(),
        ledger.follows.len(),
        ledger.tweets.len(),
        ledger.likes.len(),
        ledger.reposts.len()
    );
    println!(
        "found: {} follows, {} tweets, {} likes, {} reposts (unacknowledged writes may have landed too)",
        found.following.values().map(BTreeSet::len).sum::<usize>(),
        found.tweets.len(),
        found.liked.len(),
        found.reposted.len()
    );
    println!(
        "lost: {} follows, {} tweets, {} likes, {} reposts; duplicated: {} items, {} tweet texts, {} notifications",
        lost_follows.len(),
        lost_tweets.len(),
        lost_likes.len(),
        lost_reposts.len(),
        found.repeated_items,
        found.duplicate_texts,
        found.repeated_notifications
    );
    println!("converged {converged:?} after the load stopped (bound {CONVERGENCE_BOUND:?})");
    assert!(lost_tweets.is_empty(), "lost tweets: {lost_tweets:?}");
    assert!(lost_follows.is_empty(), "lost follows: {lost_follows:?}");
    assert!(lost_likes.is_empty(), "lost likes: {lost_likes:?}");
    assert!(lost_reposts.is_empty(), "lost reposts: {lost_reposts:?}");
    assert_eq!(found.repeated_items, 0, "an item listed twice");
    assert_eq!(found.duplicate_texts, 0, "a tweet written twice");
    assert_eq!(found.repeated_notifications, 0, "a notification made twice");
    assert!(ledger.tweets.len() >= 10, "the load wrote tweets");
}
