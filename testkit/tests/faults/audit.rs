//! Reading everything back after the faults, and comparing it with the ledger.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use xir_proto::{
    timeline::v1::{GetHomeTimelineRequest, ListNotificationsRequest},
    tweet::v1::{GetTweetRequest, ListUserTweetsRequest},
    user::v1::{GetProfileRequest, ListFollowingRequest, get_profile_request::User},
};

use crate::{Clients, authed};

/// Everything a user's pages say, read through the public RPCs.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Found {
    /// Original tweets: id -> (author, text, like count, repost count).
    pub(crate) tweets: BTreeMap<i64, (i64, String, i64, i64)>,
    pub(crate) following: BTreeMap<i64, BTreeSet<i64>>,
    pub(crate) followers_count: BTreeMap<i64, i64>,
    /// (viewer, tweet) pairs the viewer likes / reposted, from the viewer states.
    pub(crate) liked: BTreeSet<(i64, i64)>,
    pub(crate) reposted: BTreeSet<(i64, i64)>,
    /// The tweets each home timeline shows (original or reposted), and whether any item
    /// appeared twice.
    pub(crate) home: BTreeMap<i64, BTreeSet<i64>>,
    pub(crate) repeated_items: u32,
    pub(crate) repeated_notifications: u32,
    pub(crate) duplicate_texts: u32,
}

pub(crate) async fn read_everything(
    clients: &Clients,
    users: &[(i64, String)],
    tried: &BTreeSet<(i64, i64)>,
) -> Result<Found, tonic::Status> {
    let mut found = Found::default();
    let tokens: HashMap<i64, &String> = users.iter().map(|(id, token)| (*id, token)).collect();
    read_viewer_states(clients, &tokens, tried, &mut found).await?;
    let mut texts = HashMap::new();
    for (author, token) in users {
        read_user_tweets(clients, *author, token, &mut texts, &mut found).await?;
    }
    for (user, token) in users {
        read_graph(clients, *user, &mut found).await?;
        read_home(clients, *user, token, &mut found).await?;
        read_notifications(clients, token, &mut found).await?;
    }
    Ok(found)
}

/// Whether each viewer likes and reposts each tweet a reaction was tried on.
async fn read_viewer_states(
    clients: &Clients,
    tokens: &HashMap<i64, &String>,
    tried: &BTreeSet<(i64, i64)>,
    found: &mut Found,
) -> Result<(), tonic::Status> {
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
    Ok(())
}

/// Every page of `author`'s tweets; a tweet listed twice or a text written twice is counted.
async fn read_user_tweets(
    clients: &Clients,
    author: i64,
    token: &str,
    texts: &mut HashMap<String, i64>,
    found: &mut Found,
) -> Result<(), tonic::Status> {
    let mut max_id = 0;
    loop {
        let page = clients
            .tweets
            .clone()
            .list_user_tweets(authed(
                token,
                ListUserTweetsRequest {
                    exclude_replies: false,
                    user_id: author,
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
                            author,
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
    Ok(())
}

/// `user`'s follower count and every page of whom they follow.
async fn read_graph(clients: &Clients, user: i64, found: &mut Found) -> Result<(), tonic::Status> {
    let profile = clients
        .users
        .clone()
        .get_profile(GetProfileRequest {
            user: Some(User::UserId(user)),
        })
        .await?
        .into_inner()
        .profile
        .expect("a profile");
    found.followers_count.insert(user, profile.followers_count);
    let mut following = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let page = clients
            .users
            .clone()
            .list_following(ListFollowingRequest {
                user_id: user,
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
    found.following.insert(user, following);
    Ok(())
}

/// Every page of `user`'s home timeline; an item listed twice is counted.
async fn read_home(
    clients: &Clients,
    user: i64,
    token: &str,
    found: &mut Found,
) -> Result<(), tonic::Status> {
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
    found.home.insert(user, home);
    Ok(())
}

/// Every page of the user's notifications; one made twice is counted.
async fn read_notifications(
    clients: &Clients,
    token: &str,
    found: &mut Found,
) -> Result<(), tonic::Status> {
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
    Ok(())
}

/// Why `found` is not (yet) the converged state, or None when it is.
pub(crate) fn divergence(found: &Found) -> Option<String> {
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
