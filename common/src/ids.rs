//! Time-ordered 64-bit ids (snowflake layout): 41 bits of milliseconds since 2026-01-01, 10 bits
//! of worker id, 12 bits of sequence. Ids from one worker strictly increase; ids from different
//! workers never collide as long as no two live replicas share a worker id.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

/// 2026-01-01T00:00:00Z in Unix milliseconds: 41 bits of time last until 2095.
pub const EPOCH_MS: u64 = 1_767_225_600_000;
const WORKER_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
pub const MAX_WORKER_ID: u16 = (1 << WORKER_BITS) - 1;
const MAX_SEQUENCE: u64 = (1 << SEQUENCE_BITS) - 1;

/// `[ids]`: where this replica's worker id comes from.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdSettings {
    /// 0-1023, unique among the live replicas of one service. When absent, derived from the
    /// pod's IPv4 address (`POD_IP`, its low 10 bits: unique within a /22 pod range), else 0.
    pub worker_id: Option<u16>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerIdError {
    #[error("ids.worker_id must be at most {MAX_WORKER_ID}, got {0}")]
    OutOfRange(u16),
    #[error("POD_IP {0:?} is not an IPv4 address")]
    BadPodIp(String),
}

impl IdSettings {
    /// The worker id to use, checked.
    pub fn resolve(&self) -> Result<u16, WorkerIdError> {
        if let Some(id) = self.worker_id {
            return if id <= MAX_WORKER_ID {
                Ok(id)
            } else {
                Err(WorkerIdError::OutOfRange(id))
            };
        }
        match std::env::var("POD_IP") {
            Ok(ip) => {
                let addr: std::net::Ipv4Addr = ip
                    .parse()
                    .map_err(|_| WorkerIdError::BadPodIp(ip.clone()))?;
                Ok((u32::from(addr) & u32::from(MAX_WORKER_ID)) as u16)
            }
            Err(_) => Ok(0),
        }
    }
}

/// Generates ids for one worker. Cheap to share: one short lock per id.
#[derive(Debug)]
pub struct IdGenerator {
    worker_id: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    last_ms: u64,
    sequence: u64,
}

impl IdGenerator {
    pub fn new(worker_id: u16) -> Self {
        assert!(worker_id <= MAX_WORKER_ID, "worker id out of range");
        Self {
            worker_id: u64::from(worker_id),
            state: Mutex::new(State {
                last_ms: 0,
                sequence: 0,
            }),
        }
    }

    pub fn worker_id(&self) -> u16 {
        self.worker_id as u16
    }

    pub fn next_id(&self) -> i64 {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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
        ((now << (WORKER_BITS + SEQUENCE_BITS))
            | (self.worker_id << SEQUENCE_BITS)
            | state.sequence) as i64
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

/// The smallest id generated at or after `unix_ms`: a cursor bound for "since this time".
pub fn first_id_at(unix_ms: u64) -> i64 {
    (unix_ms.saturating_sub(EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)) as i64
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_strictly_increase_and_carry_time_and_worker() {
        let generator = IdGenerator::new(513);
        let ids: Vec<i64> = (0..20_000).map(|_| generator.next_id()).collect();
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
            assert!(seen.insert(a.next_id()));
            assert!(seen.insert(b.next_id()));
        }
    }

    #[test]
    fn worker_ids_are_checked() {
        let settings = IdSettings {
            worker_id: Some(1024),
        };
        assert_eq!(settings.resolve(), Err(WorkerIdError::OutOfRange(1024)));
        assert_eq!(IdSettings { worker_id: Some(7) }.resolve(), Ok(7));
    }
}
