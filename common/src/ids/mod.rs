//! Time-ordered 64-bit ids (snowflake layout): 41 bits of milliseconds since 2026-01-01, 10 bits
//! of worker id, 12 bits of sequence. Ids from one worker strictly increase; ids from different
//! workers never collide as long as no two live replicas share a worker id.
//!
//! Worker ids are leased in the service's own database (`postgres::ReadinessCheck` and
//! `mongo::ReadinessCheck` acquire and renew the lease with every readiness check): unique
//! among the live replicas, expiring after `ids.lease_ttl_ms`, renewed well before. A replica
//! mints ids only until a third of the lease before its expiry (measured on its own monotonic
//! clock from before the renewal was asked), so one that cannot renew stops minting, and its
//! readiness turns NOT_SERVING, before anyone else can take its id.

mod lease;

use std::{
    sync::Mutex,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

pub use self::lease::WorkerLease;

/// 2026-01-01T00:00:00Z in Unix milliseconds: 41 bits of time last until 2095.
pub const EPOCH_MS: u64 = 1_767_225_600_000;
const WORKER_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
pub const MAX_WORKER_ID: u16 = (1 << WORKER_BITS) - 1;
const MAX_SEQUENCE: u64 = (1 << SEQUENCE_BITS) - 1;

/// `[ids]`: where this replica's worker id comes from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdSettings {
    /// A fixed worker id (0-1023) instead of a lease: only where you guarantee yourself that
    /// no other live replica of the service uses it.
    pub worker_id: Option<u16>,
    /// How long a leased worker id stays held without renewal, in milliseconds. Renewed with
    /// every readiness check (`readiness.check_interval_ms`), which must be well below this.
    pub lease_ttl_ms: u64,
}

impl Default for IdSettings {
    fn default() -> Self {
        Self {
            worker_id: None,
            lease_ttl_ms: 30_000,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerIdError {
    #[error("ids.worker_id must be at most {MAX_WORKER_ID}, got {0}")]
    OutOfRange(u16),
    #[error("ids.lease_ttl_ms must be at least 3000, got {0}")]
    LeaseTooShort(u64),
}

/// No id can be minted now: the worker id lease is not (or no longer) held.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("cannot create ids now (no worker id lease); try again")]
pub struct IdsUnavailable;

impl From<IdsUnavailable> for tonic::Status {
    fn from(error: IdsUnavailable) -> Self {
        tonic::Status::unavailable(error.to_string())
    }
}

/// Generates ids for one worker. Cheap to share: one short lock per id.
#[derive(Debug)]
pub struct IdGenerator {
    lease_ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    worker_id: Option<u16>,
    /// Until when ids may be minted; `None` with a worker id: fixed, forever.
    valid_until: Option<Instant>,
    last_ms: u64,
    sequence: u64,
}

impl IdGenerator {
    /// A generator with a fixed worker id (tests, and `ids.worker_id`).
    pub fn new(worker_id: u16) -> Self {
        assert!(worker_id <= MAX_WORKER_ID, "worker id out of range");
        Self::with_state(Duration::ZERO, Some(worker_id))
    }

    /// A fixed worker id when the settings name one, else a generator that mints nothing
    /// until its lease is granted.
    pub fn from_settings(settings: &IdSettings) -> Result<Self, WorkerIdError> {
        match settings.worker_id {
            Some(id) if id > MAX_WORKER_ID => Err(WorkerIdError::OutOfRange(id)),
            Some(id) => Ok(Self::new(id)),
            None if settings.lease_ttl_ms < 3_000 => {
                Err(WorkerIdError::LeaseTooShort(settings.lease_ttl_ms))
            }
            None => Ok(Self::with_state(
                Duration::from_millis(settings.lease_ttl_ms),
                None,
            )),
        }
    }

    fn with_state(lease_ttl: Duration, worker_id: Option<u16>) -> Self {
        Self {
            lease_ttl,
            state: Mutex::new(State {
                worker_id,
                valid_until: None,
                last_ms: 0,
                sequence: 0,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the worker id comes from a lease (to be acquired and renewed).
    pub fn is_leased(&self) -> bool {
        !self.lease_ttl.is_zero()
    }

    /// How long a lease is asked for.
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// The worker id in use, if any.
    pub fn worker_id(&self) -> Option<u16> {
        self.state().worker_id
    }

    /// The lease on `worker_id` was granted or renewed by a request sent at `asked_at`: mint
    /// until two thirds of the lease from then.
    pub fn grant(&self, worker_id: u16, asked_at: Instant) {
        let mut state = self.state();
        if state.worker_id != Some(worker_id) {
            tracing::info!(worker_id, "leased a worker id");
            state.worker_id = Some(worker_id);
            state.sequence = 0;
            state.valid_until = None;
        }
        // A renewal that answers after a later one must not shorten what that one granted.
        let until = asked_at + self.lease_ttl * 2 / 3;
        state.valid_until = Some(state.valid_until.map_or(until, |held| held.max(until)));
    }

    /// The lease was lost (taken over after it expired): mint nothing until a new one.
    pub fn revoke(&self) {
        let mut state = self.state();
        tracing::warn!(worker_id = ?state.worker_id, "worker id lease lost");
        state.worker_id = None;
        state.valid_until = None;
    }

    /// Whether ids can be minted now.
    pub fn is_available(&self) -> bool {
        let state = self.state();
        Self::usable(&state)
    }

    fn usable(state: &State) -> bool {
        match (state.worker_id, state.valid_until) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(_), Some(until)) => Instant::now() < until,
        }
    }

    pub fn next_id(&self) -> Result<i64, IdsUnavailable> {
        let mut state = self.state();
        if !Self::usable(&state) {
            return Err(IdsUnavailable);
        }
        let worker_id = u64::from(state.worker_id.ok_or(IdsUnavailable)?);
        let mut now = now_ms();
        // A clock stepping backwards must not reuse ids: keep counting from the last instant.
        if now < state.last_ms {
            now = state.last_ms;
        }
        if now == state.last_ms {
            state.sequence = (state.sequence + 1) & MAX_SEQUENCE;
            if state.sequence == 0 {
                // 4096 ids in this millisecond already: borrow the next one.
                now = state.last_ms + 1;
            }
        } else {
            state.sequence = 0;
        }
        state.last_ms = now;
        Ok(
            ((now << (WORKER_BITS + SEQUENCE_BITS)) | (worker_id << SEQUENCE_BITS) | state.sequence)
                as i64,
        )
    }
}

fn now_ms() -> u64 {
    let since_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    (since_unix.as_millis() as u64).saturating_sub(EPOCH_MS)
}

/// The Unix time in milliseconds at which `id` was generated.
pub fn timestamp_ms(id: i64) -> u64 {
    ((id as u64) >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS
}

/// When `id` was generated, as a protobuf timestamp (a repost's or notification's time is its
/// id's).
pub fn created_at(id: i64) -> prost_types::Timestamp {
    let ms = timestamp_ms(id);
    prost_types::Timestamp {
        seconds: (ms / 1000) as i64,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// The smallest id generated at or after `unix_ms`: a cursor bound for "since this time".
pub fn first_id_at(unix_ms: u64) -> i64 {
    (unix_ms.saturating_sub(EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)) as i64
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_strictly_increase_and_carry_time_and_worker() {
        let generator = IdGenerator::new(513);
        let ids: Vec<i64> = (0..20_000).map(|_| generator.next_id().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        assert!(ids.iter().all(|&id| id > 0));
        let worker = (ids[0] >> SEQUENCE_BITS) & i64::from(MAX_WORKER_ID);
        assert_eq!(worker, 513);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        assert!(now.abs_diff(timestamp_ms(ids[0])) < 5_000);
        assert!(first_id_at(timestamp_ms(ids[0])) <= ids[0]);
    }

    #[test]
    fn two_workers_never_collide() {
        let a = IdGenerator::new(1);
        let b = IdGenerator::new(2);
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(a.next_id().unwrap()));
            assert!(seen.insert(b.next_id().unwrap()));
        }
    }

    #[test]
    fn worker_ids_are_checked() {
        let settings = IdSettings {
            worker_id: Some(1024),
            ..IdSettings::default()
        };
        assert_eq!(
            IdGenerator::from_settings(&settings).err(),
            Some(WorkerIdError::OutOfRange(1024))
        );
        let fixed = IdGenerator::from_settings(&IdSettings {
            worker_id: Some(7),
            ..IdSettings::default()
        })
        .unwrap();
        assert!(!fixed.is_leased());
        assert_eq!(fixed.worker_id(), Some(7));
    }

    pub(super) fn leased_for_3s() -> IdGenerator {
        IdGenerator::from_settings(&IdSettings {
            worker_id: None,
            lease_ttl_ms: 3_000,
        })
        .unwrap()
    }

    #[test]
    fn a_leased_generator_mints_only_while_its_lease_holds() {
        let generator = leased_for_3s();
        assert!(generator.is_leased());
        assert_eq!(generator.next_id(), Err(IdsUnavailable), "before any lease");
        generator.grant(42, Instant::now());
        let id = generator.next_id().unwrap();
        assert_eq!((id >> SEQUENCE_BITS) & i64::from(MAX_WORKER_ID), 42);
        // The late answer to an earlier renewal does not shorten the lease a later one gave.
        generator.grant(42, Instant::now() - Duration::from_millis(2_001));
        assert!(
            generator.next_id().is_ok(),
            "still leased by the later renewal"
        );
        // A lease renewed only long ago has run out: two thirds of it have passed.
        let stale = leased_for_3s();
        stale.grant(42, Instant::now() - Duration::from_millis(2_001));
        assert_eq!(
            stale.next_id(),
            Err(IdsUnavailable),
            "lease about to expire"
        );
        generator.grant(43, Instant::now());
        assert!(
            generator.next_id().unwrap() > id,
            "a new worker id keeps time order"
        );
        generator.revoke();
        assert!(!generator.is_available());
    }
}
