//! Pagination invariants, as properties over generated interleavings of page reads and writes.
//! A client pages newest-first through a list (page sizes 1 to 5) while, between its pages,
//! new items arrive (and some old ones leave). Whatever the interleaving:
//! - no item is returned twice and every page list ends;
//! - every item that was there before the first page and stayed is returned, so new writes
//!   never open a gap;
//! - items come in the list's order (for id-ordered lists, strictly descending ids);
//! - nothing that never belonged to the list appears.
//!
//! Checked on the real services: followers (svc-user, a sequence cursor), a user's tweets
//! (svc-tweet), the home timeline (svc-timeline, stored fan-out entries merged with a
//! celebrity's tweets read at request time) and notifications.

use std::{
    collections::HashSet,
    sync::atomic::{AtomicI64, Ordering},
};

use proptest::{
    collection::vec,
    prelude::*,
    test_runner::{Config, TestRunner},
};

mod lists;

/// How one run interleaves: items there before the first page, the page size, and how many
/// writes land before each next page (cycled).
#[derive(Debug, Clone)]
struct Scenario {
    initial: usize,
    page: i32,
    writes_between_pages: Vec<usize>,
}

fn scenarios() -> impl Strategy<Value = Scenario> {
    (1usize..=8, 1i32..=5, vec(0usize..=3, 1..=6)).prop_map(
        |(initial, page, writes_between_pages)| Scenario {
            initial,
            page,
            writes_between_pages,
        },
    )
}

/// Few cases: each one is dozens of calls on real services.
fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 6,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Fresh user ids for each case, on a stack shared by the cases.
static NEXT_USER: AtomicI64 = AtomicI64::new(1_000);

fn fresh_users(count: usize) -> Vec<i64> {
    let first = NEXT_USER.fetch_add(count as i64, Ordering::SeqCst);
    (first..first + count as i64).collect()
}

/// More pages than any scenario can need: a list that does not end is a failure.
const MAX_PAGES: usize = 200;

/// Pages through a list: `page(cursor)` returns one page of ids and the next cursor (`None` at
/// the end); `write()` runs between pages as many times as the scenario says.
async fn read_all<C>(
    scenario: &Scenario,
    mut page: impl AsyncFnMut(Option<C>) -> (Vec<i64>, Option<C>),
    mut write: impl AsyncFnMut(),
) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = None;
    for turn in 0..MAX_PAGES {
        let (ids, next) = page(cursor).await;
        assert!(
            ids.len() <= scenario.page as usize,
            "a page of {} for limit {}",
            ids.len(),
            scenario.page
        );
        seen.extend(ids);
        let Some(next) = next else {
            return seen;
        };
        cursor = Some(next);
        let writes = scenario.writes_between_pages[turn % scenario.writes_between_pages.len()];
        for _ in 0..writes {
            write().await;
        }
    }
    panic!("the list did not end within {MAX_PAGES} pages: {seen:?}");
}

/// The invariants. `initial`: the list before the first page, in its order; `left`: what was
/// removed meanwhile; `arrived`: what was added meanwhile.
fn check(seen: &[i64], initial: &[i64], left: &HashSet<i64>, arrived: &HashSet<i64>) {
    let mut unique = HashSet::new();
    for id in seen {
        assert!(unique.insert(*id), "{id} returned twice: {seen:?}");
        assert!(
            initial.contains(id) || arrived.contains(id),
            "{id} never belonged to the list: {seen:?}"
        );
    }
    let stayed: Vec<i64> = initial
        .iter()
        .copied()
        .filter(|id| !left.contains(id))
        .collect();
    let seen_that_stayed: Vec<i64> = seen
        .iter()
        .copied()
        .filter(|id| initial.contains(id) && !left.contains(id))
        .collect();
    assert_eq!(
        seen_that_stayed, stayed,
        "every item that stayed, once, in order (initial {initial:?}, left {left:?}, seen {seen:?})"
    );
}

fn strictly_descending(seen: &[i64]) {
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "ids not strictly descending: {seen:?}"
    );
}

fn run(runtime: &tokio::runtime::Runtime, case: impl AsyncFn(Scenario)) {
    runner()
        .run(&scenarios(), |scenario| {
            runtime.block_on(case(scenario));
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}
