//! The lists whose pages are checked (followers, a user's tweets, the home timeline, notifications) and the changes made between pages.

use std::{collections::HashSet, time::Duration};

use tonic::transport::Channel;
use xir_proto::{
    timeline::v1::{
        GetHomeTimelineRequest, ListNotificationsRequest,
        timeline_service_client::TimelineServiceClient,
    },
    tweet::v1::{CreateTweetRequest, DeleteTweetRequest, ListUserTweetsRequest},
    user::v1::{ListFollowersRequest, UnfollowRequest},
};
use xir_testkit::{Options, Stack, bearer};

use crate::{check, fresh_users, read_all, run, runtime, strictly_descending};

#[test]
pub(crate) fn followers_page_without_gaps_or_repeats_while_people_follow_and_unfollow() {
    let runtime = runtime();
    let stack = runtime.block_on(Stack::start(Options::default()));
    run(&runtime, async |scenario| {
        let (followee, initial, later) = followed_by(&stack, scenario.initial).await;
        let followee = &followee;
        // Newest first.
        let initial: Vec<i64> = initial.iter().rev().copied().collect();

        let mut later = later.iter().copied();
        let mut unfollowers = initial.iter().copied().step_by(2);
        let (mut arrived, mut left) = (HashSet::new(), HashSet::new());
        let mut writes = 0;
        let reader = stack.token(*followee);
        let mut pages = stack.users().await;
        let seen = read_all(
            &scenario,
            async |cursor: Option<String>| {
                let page = pages
                    .list_followers(bearer(
                        &reader,
                        ListFollowersRequest {
                            user_id: *followee,
                            limit: scenario.page,
                            cursor: cursor.unwrap_or_default(),
                        },
                    ))
                    .await
                    .expect("list followers")
                    .into_inner();
                let ids = page.profiles.iter().map(|p| p.user_id).collect();
                (ids, Some(page.next_cursor).filter(|c| !c.is_empty()))
            },
            async || {
                // Alternately an initial follower leaves (while any is left to) and a new one
                // arrives.
                writes += 1;
                if writes % 2 == 1
                    && let Some(follower) = unfollowers.next()
                {
                    unfollow(&stack, follower, *followee).await;
                    left.insert(follower);
                    return;
                }
                let follower = later.next().expect("enough later followers");
                stack.follow(follower, *followee).await;
                arrived.insert(follower);
            },
        )
        .await;
        check(&seen, &initial, &left, &arrived);
    });
}

/// A new user followed by `count` new users, in that order, and 30 more users who do not
/// follow anyone yet.
pub(crate) async fn followed_by(stack: &Stack, count: usize) -> (i64, Vec<i64>, Vec<i64>) {
    let people = fresh_users(1 + count + 30);
    seed(stack, &people).await;
    let followee = people[0];
    let (followers, later) = people[1..].split_at(count);
    for &follower in followers {
        stack.follow(follower, followee).await;
    }
    (followee, followers.to_vec(), later.to_vec())
}

/// Profiles for `people`, inserted directly (a graph to start from).
pub(crate) async fn seed(stack: &Stack, people: &[i64]) {
    stack
        .seed_profiles(people[0], people.len() as i64, "pager")
        .await;
}

pub(crate) async fn unfollow(stack: &Stack, follower: i64, followee: i64) {
    stack
        .users()
        .await
        .unfollow(bearer(
            &stack.token(follower),
            UnfollowRequest { user_id: followee },
        ))
        .await
        .expect("unfollow");
}

pub(crate) async fn post(stack: &Stack, author: i64, text: &str) -> i64 {
    stack
        .tweets()
        .await
        .create_tweet(bearer(
            &stack.token(author),
            CreateTweetRequest {
                text: text.to_owned(),
                ..Default::default()
            },
        ))
        .await
        .expect("post")
        .into_inner()
        .tweet
        .expect("the tweet")
        .tweet_id
}

pub(crate) async fn delete(stack: &Stack, author: i64, tweet_id: i64) {
    stack
        .tweets()
        .await
        .delete_tweet(bearer(
            &stack.token(author),
            DeleteTweetRequest { tweet_id },
        ))
        .await
        .expect("delete");
}

#[test]
pub(crate) fn a_users_tweets_page_without_gaps_or_repeats_while_they_post_and_delete() {
    let runtime = runtime();
    let stack = runtime.block_on(Stack::start(Options::default()));
    run(&runtime, async |scenario| {
        let author = fresh_users(1)[0];
        seed(&stack, &[author]).await;
        let mut initial = Vec::new();
        for n in 0..scenario.initial {
            initial.push(post(&stack, author, &format!("before paging {n}")).await);
        }
        initial.reverse();

        let mut deletable = initial.clone().into_iter().step_by(2);
        let (mut arrived, mut left) = (HashSet::new(), HashSet::new());
        let mut writes = 0;
        let mut tweets = stack.tweets().await;
        let reader = stack.token(author);
        let seen = read_all(
            &scenario,
            async |max_id: Option<i64>| {
                let page = tweets
                    .list_user_tweets(bearer(
                        &reader,
                        ListUserTweetsRequest {
                            exclude_replies: false,
                            user_id: author,
                            max_id: max_id.unwrap_or(0),
                            since_id: 0,
                            limit: scenario.page,
                        },
                    ))
                    .await
                    .expect("list user tweets")
                    .into_inner();
                let ids = page.items.iter().map(|i| i.item_id).collect();
                (ids, Some(page.next_max_id).filter(|&id| id != 0))
            },
            async || {
                // Alternately one of the initial tweets is deleted (while any is left to be)
                // and a new one posted.
                writes += 1;
                if writes % 2 == 1
                    && let Some(tweet_id) = deletable.next()
                {
                    delete(&stack, author, tweet_id).await;
                    left.insert(tweet_id);
                    return;
                }
                arrived.insert(post(&stack, author, &format!("while paging {writes}")).await);
            },
        )
        .await;
        strictly_descending(&seen);
        check(&seen, &initial, &left, &arrived);
    });
}

/// Reads a whole list once (page size 100) until `settled` accepts it.
pub(crate) async fn settled_list<F: AsyncFnMut() -> Vec<i64>>(
    what: &str,
    mut read: F,
    settled: impl Fn(&[i64]) -> bool,
) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let ids = read().await;
        if settled(&ids) {
            return ids;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not settle within 120 s: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A viewer following a regular author and a celebrity (who has more followers than the
/// fan-out threshold), and `initial` tweets by the two in turn: the ids and the posts.
async fn a_viewer_of_a_regular_and_a_celebrity(
    stack: &Stack,
    initial: usize,
) -> (i64, i64, i64, Vec<(i64, i64)>) {
    let people = fresh_users(6);
    seed(stack, &people).await;
    let (viewer, regular, celebrity) = (people[0], people[1], people[2]);
    stack.seed_followers(celebrity, &people[3..]).await;
    for followee in [regular, celebrity] {
        stack.follow(viewer, followee).await;
    }
    let mut posted = Vec::new();
    for n in 0..initial {
        let author = if n % 2 == 0 { regular } else { celebrity };
        posted.push((
            author,
            post(stack, author, &format!("before paging {n}")).await,
        ));
    }
    (viewer, regular, celebrity, posted)
}

/// One page of the home timeline: its item ids and the next page's `max_id`.
async fn home_page(
    timelines: &mut TimelineServiceClient<Channel>,
    reader: &str,
    max_id: i64,
    limit: i32,
) -> (Vec<i64>, i64) {
    let page = timelines
        .get_home_timeline(bearer(
            reader,
            GetHomeTimelineRequest {
                max_id,
                since_id: 0,
                limit,
            },
        ))
        .await
        .expect("home timeline")
        .into_inner();
    let ids: Vec<i64> = page.items.iter().map(|i| i.item_id).collect();
    (ids, page.next_max_id)
}

#[test]
pub(crate) fn the_home_timeline_pages_without_gaps_or_repeats_while_followees_post() {
    let runtime = runtime();
    // Above two followers an author is a celebrity: read at request time, not fanned out.
    let stack = runtime.block_on(Stack::start(Options {
        celebrity_followers: 2,
        ..Options::default()
    }));
    run(&runtime, async |scenario| {
        let (viewer, regular, celebrity, posted) =
            a_viewer_of_a_regular_and_a_celebrity(&stack, scenario.initial).await;
        let reader = stack.token(viewer);
        let timelines = stack.timelines().await;
        let page =
            async |timelines: &mut TimelineServiceClient<Channel>, max_id: i64, limit: i32| {
                home_page(timelines, &reader, max_id, limit).await
            };
        // The fan-out is asynchronous: start once every tweet is there (a tweet's item id is
        // its tweet id).
        let mut expected: Vec<i64> = posted.iter().map(|(_, tweet)| *tweet).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let initial = settled_list(
            "the home timeline",
            async || page(&mut timelines.clone(), 0, 100).await.0,
            |ids| ids == expected,
        )
        .await;

        let mut deletable = posted.iter().copied().step_by(2);
        let (mut arrived, mut left) = (HashSet::new(), HashSet::new());
        let mut reads = timelines.clone();
        let mut writes = 0;
        let seen = read_all(
            &scenario,
            async |max_id: Option<i64>| {
                let (ids, next) = page(&mut reads, max_id.unwrap_or(0), scenario.page).await;
                (ids, Some(next).filter(|&id| id != 0))
            },
            async || {
                // Alternately one of the initial tweets is deleted (while any is left to be)
                // and a followee posts, the two kinds of followee in turn.
                writes += 1;
                if writes % 2 == 1
                    && let Some((author, tweet_id)) = deletable.next()
                {
                    delete(&stack, author, tweet_id).await;
                    left.insert(tweet_id);
                    return;
                }
                let author = if writes % 4 < 2 { regular } else { celebrity };
                arrived.insert(post(&stack, author, &format!("while paging {writes}")).await);
            },
        )
        .await;
        strictly_descending(&seen);
        check(&seen, &initial, &left, &arrived);
    });
}

#[test]
pub(crate) fn notifications_page_without_gaps_or_repeats_while_new_ones_arrive() {
    let runtime = runtime();
    let stack = runtime.block_on(Stack::start(Options::default()));
    run(&runtime, async |scenario| {
        let (recipient, _, later) = followed_by(&stack, scenario.initial).await;
        let recipient = &recipient;

        let reader = stack.token(*recipient);
        let timelines = stack.timelines().await;
        let page =
            async |timelines: &mut TimelineServiceClient<Channel>, max_id: i64, limit: i32| {
                let page = timelines
                    .list_notifications(bearer(
                        &reader,
                        ListNotificationsRequest {
                            max_id,
                            limit,
                            since_id: 0,
                        },
                    ))
                    .await
                    .expect("notifications")
                    .into_inner();
                let ids: Vec<i64> = page
                    .notifications
                    .iter()
                    .map(|n| n.notification_id)
                    .collect();
                (ids, page.next_max_id)
            };
        let initial = settled_list(
            "the notifications",
            async || page(&mut timelines.clone(), 0, 100).await.0,
            |ids| ids.len() == scenario.initial,
        )
        .await;

        let mut later = later.iter().copied();
        let mut reads = timelines.clone();
        let mut followed = 0;
        let seen = read_all(
            &scenario,
            async |max_id: Option<i64>| {
                let (ids, next) = page(&mut reads, max_id.unwrap_or(0), scenario.page).await;
                (ids, Some(next).filter(|&id| id != 0))
            },
            async || {
                let follower = later.next().expect("enough later followers");
                stack.follow(follower, *recipient).await;
                followed += 1;
            },
        )
        .await;
        strictly_descending(&seen);
        // Notifications made meanwhile have ids above every initial one; any of them may be
        // seen or not, depending on when the fan-out made them.
        let newest = initial.first().copied().unwrap_or(0);
        let arrived: HashSet<i64> = seen.iter().copied().filter(|&id| id > newest).collect();
        assert!(
            arrived.len() <= followed,
            "{arrived:?} from {followed} follows"
        );
        check(&seen, &initial, &HashSet::new(), &arrived);
    });
}
