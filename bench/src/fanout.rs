//! Fan-out at scale: an author with N followers (1k, 10k, 100k) posts, and the clock runs from
//! `CreateTweet` returning until every follower's home timeline in Redis holds the tweet. The
//! followers go in through a bulk path of the bench (profiles and follow edges straight into
//! svc-user's tables, their timelines created empty in Redis, as an active reader's are),
//! since a hundred thousand sign-ups would time argon2, not fan-out. Also: the post latency of
//! an author above the celebrity threshold, who is never fanned out.

use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;
use xir_proto::tweet::v1::CreateTweetRequest;
use xir_testkit::bearer;

use svc_timeline::{fanout::Entry, homes};

use crate::{Clients, KEY_PREFIX, load, seed::Account};

/// Bulk follower ids start here, far below the snowflake ids sign-up mints.
const BULK_IDS: i64 = 1_000_000_000;

/// Makes `followers` followers of `author` (ids from `first`), with empty home timelines.
pub async fn bulk_followers(
    clients: &Clients,
    pool: &PgPool,
    author: &Account,
    first: i64,
    followers: i64,
) -> anyhow::Result<()> {
    let first = BULK_IDS + first;
    sqlx::query(
        "INSERT INTO profiles (user_id, username, display_name, created_at)
         SELECT id, 'f' || id, 'Follower ' || id, now() FROM generate_series($1::bigint, $1 + $2 - 1) AS id",
    )
    .bind(first)
    .bind(followers)
    .execute(pool)
    .await
    .context("insert follower profiles")?;
    sqlx::query(
        "INSERT INTO follows (follower_id, followee_id)
         SELECT id, $3 FROM generate_series($1::bigint, $1 + $2 - 1) AS id",
    )
    .bind(first)
    .bind(followers)
    .bind(author.id)
    .execute(pool)
    .await
    .context("insert follow edges")?;
    sqlx::query("UPDATE profiles SET followers_count = followers_count + $2 WHERE user_id = $1")
        .bind(author.id)
        .bind(followers)
        .execute(pool)
        .await
        .context("count the followers")?;
    let mut redis = clients.redis.clone();
    let ids: Vec<i64> = (first..first + followers).collect();
    for chunk in ids.chunks(10_000) {
        let mut pipe = redis::pipe();
        for id in chunk {
            // Existing and complete, as svc-timeline leaves a timeline it built.
            pipe.zadd(homes::timeline_key(KEY_PREFIX, *id), homes::SENTINEL, 0)
                .ignore();
            pipe.set(homes::built_key(KEY_PREFIX, *id), 1).ignore();
        }
        pipe.query_async::<()>(&mut redis)
            .await
            .context("create follower timelines")?;
    }
    Ok(())
}

/// Seconds from `CreateTweet` returning until all `followers` timelines (ids from `first`)
/// hold the tweet; `None` past `within`.
pub async fn time_fan_out(
    clients: &Clients,
    author: &Account,
    first: i64,
    followers: i64,
    within: Duration,
) -> anyhow::Result<Option<f64>> {
    let tweet = post_retrying(clients, author, &format!("to {followers} followers")).await?;
    let posted = Instant::now();
    let member = Entry {
        item_id: tweet.tweet_id,
        tweet_id: tweet.tweet_id,
        author_id: author.id,
        reposted_by: 0,
    }
    .member();
    let first = BULK_IDS + first;
    let ids: Vec<i64> = (first..first + followers).collect();
    let mut redis = clients.redis.clone();
    // Timelines found holding the tweet are not asked again.
    let mut waiting = ids;
    while !waiting.is_empty() {
        if posted.elapsed() > within {
            return Ok(None);
        }
        let mut still = Vec::new();
        for chunk in waiting.chunks(20_000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.zscore(homes::timeline_key(KEY_PREFIX, *id), &member);
            }
            let scores: Vec<Option<f64>> = pipe
                .query_async(&mut redis)
                .await
                .context("read timelines")?;
            still.extend(
                chunk
                    .iter()
                    .zip(scores)
                    .filter(|(_, s)| s.is_none())
                    .map(|(id, _)| *id),
            );
        }
        waiting = still;
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(Some(posted.elapsed().as_secs_f64()))
}

/// Posts `text`, asking again for a while when svc-tweet answers UNAVAILABLE (after an
/// overload its id lease may need a renewal first).
async fn post_retrying(
    clients: &Clients,
    author: &Account,
    text: &str,
) -> anyhow::Result<xir_proto::tweet::v1::Tweet> {
    let mut tweets = clients.tweet.clone();
    for attempt in 1.. {
        let request = bearer(
            &author.token,
            CreateTweetRequest {
                text: text.to_owned(),
                ..Default::default()
            },
        );
        match tweets.create_tweet(request).await {
            Ok(reply) => return reply.into_inner().tweet.context("the tweet"),
            Err(status) if status.code() == tonic::Code::Unavailable && attempt < 30 => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(status) => return Err(status).context("post"),
        }
    }
    unreachable!("the loop returns")
}

/// `CreateTweet` latency of `author` (above the celebrity threshold), one post after another.
pub async fn celebrity_posts(clients: &Clients, author: &Account, posts: u64) -> load::Run {
    let tweets = clients.tweet.clone();
    let token = author.token.clone();
    load::closed_loop_until(1, Duration::from_secs(3600), posts, move |n| {
        let (mut tweets, token) = (tweets.clone(), token.clone());
        async move {
            tweets
                .create_tweet(bearer(
                    &token,
                    CreateTweetRequest {
                        text: format!("celebrity post {n}"),
                        ..Default::default()
                    },
                ))
                .await
                .map(drop)
                .map_err(|status| status.to_string())
        }
    })
    .await
}
