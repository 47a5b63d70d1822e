//! A per-user rate limit for writes that notify somebody else (follows, likes, reposts,
//! mentions): a token bucket per user in this replica, so one user cannot flood another's
//! notifications however fast they click. Memory is bounded: buckets that have refilled are
//! forgotten when the table is full, and past that new users pass unlimited (and a warning
//! says so) rather than be refused for others' activity.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tonic::Status;

/// `[notifying_writes]`: how many writes that notify others one user may make.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateSettings {
    /// Sustained rate, per minute.
    pub per_minute: u32,
    /// Made at once after a quiet spell.
    pub burst: u32,
    /// Users tracked at once in one replica.
    pub max_users: usize,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            per_minute: 60,
            burst: 30,
            max_users: 100_000,
        }
    }
}

pub struct PerUserLimit {
    settings: RateSettings,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Over the limit: try again after this long.
#[derive(Debug, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl From<Limited> for Status {
    fn from(limited: Limited) -> Self {
        let seconds = limited.retry_after.as_secs().max(1);
        crate::errors::resource_exhausted(
            format!("too many follows, likes, reposts and mentions; try again in {seconds} s"),
            seconds,
        )
    }
}

impl PerUserLimit {
    pub fn new(settings: RateSettings) -> Self {
        Self {
            settings,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.settings.per_minute.max(1)) / 60.0
    }

    /// Takes one write from `user`'s bucket, or says when the next one will be there.
    pub fn check(&self, user: i64) -> Result<(), Limited> {
        self.check_at(user, Instant::now())
    }

    fn check_at(&self, user: i64, now: Instant) -> Result<(), Limited> {
        let burst = f64::from(self.settings.burst.max(1));
        let rate = self.per_second();
        let refilled = |bucket: &Bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            (bucket.tokens + elapsed * rate).min(burst)
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(&user) && buckets.len() >= self.settings.max_users {
            buckets.retain(|_, bucket| refilled(bucket) < burst);
            if buckets.len() >= self.settings.max_users {
                tracing::warn!(
                    max_users = self.settings.max_users,
                    "per-user rate table full: this user passes unlimited"
                );
                return Ok(());
            }
        }
        let bucket = buckets.entry(user).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let tokens = refilled(bucket);
        if tokens < 1.0 {
            return Err(Limited {
                retry_after: Duration::from_secs_f64((1.0 - tokens) / rate),
            });
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            updated: now,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32, max_users: usize) -> PerUserLimit {
        PerUserLimit::new(RateSettings {
            per_minute,
            burst,
            max_users,
        })
    }

    #[test]
    fn a_burst_then_the_sustained_rate_per_user() {
        let limit = limit(60, 3, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.check_at(1, start), Ok(()));
        }
        let refused = limit.check_at(1, start).expect_err("over the burst");
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(
            limit.check_at(2, start),
            Ok(()),
            "another user is unaffected"
        );
        assert_eq!(
            limit.check_at(1, start + Duration::from_secs(1)),
            Ok(()),
            "one a second"
        );
        assert!(limit.check_at(1, start + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn memory_is_bounded_by_forgetting_refilled_buckets() {
        let limit = limit(60, 2, 2);
        let start = Instant::now();
        limit.check_at(1, start).expect("first");
        limit.check_at(2, start).expect("second");
        // Full table, nobody refilled: a third user passes, untracked.
        limit.check_at(3, start).expect("passes untracked");
        assert_eq!(limit.buckets.lock().expect("lock").len(), 2);
        // Later the refilled buckets are forgotten to make room.
        limit
            .check_at(3, start + Duration::from_secs(5))
            .expect("tracked now");
        assert_eq!(limit.buckets.lock().expect("lock").len(), 1);
    }
}
