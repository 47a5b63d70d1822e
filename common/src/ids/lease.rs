//! The worker-id lease a readiness check acquires and renews (see the `ids` module docs).

use super::IdGenerator;

/// A generator whose worker id is leased, and the name this process holds the lease under:
/// what a readiness check needs to acquire and renew it, in PostgreSQL or MongoDB.
#[derive(Debug, Clone)]
pub struct WorkerLease {
    pub ids: std::sync::Arc<IdGenerator>,
    pub holder: std::sync::Arc<str>,
    /// Held while a renewal runs: one at a time.
    renewing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl WorkerLease {
    /// The lease of `ids`, or `None` when its worker id is fixed by settings.
    pub fn of(ids: std::sync::Arc<IdGenerator>) -> Option<Self> {
        // Host, pid and a random part: a restarted process never renews its predecessor's.
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
        let holder = format!(
            "{host}/{}/{:016x}",
            std::process::id(),
            rand::random::<u64>()
        );
        ids.is_leased().then(|| Self {
            ids,
            holder: holder.into(),
            renewing: Default::default(),
        })
    }

    /// Runs `renewal` as a task of its own, one at a time. Under load the database may answer
    /// after the readiness check has stopped waiting; the renewal still completes and the
    /// lease it renewed still counts, instead of lapsing because nobody waited for the answer.
    /// It is given up after two thirds of the lease, when what it would grant has run out
    /// anyway: a request the database never answers must not hold back every later renewal.
    /// `None` while an earlier renewal is still running, when it was given up, or when the
    /// runtime shuts down.
    pub async fn renew<F, E>(&self, renewal: F) -> Option<Result<(), E>>
    where
        F: std::future::Future<Output = Result<(), E>> + Send + 'static,
        E: Send + 'static,
    {
        let one_at_a_time = self.renewing.clone().try_lock_owned().ok()?;
        let useful_for = self.ids.lease_ttl() * 2 / 3;
        tokio::spawn(async move {
            let outcome = tokio::time::timeout(useful_for, renewal).await.ok();
            drop(one_at_a_time);
            outcome
        })
        .await
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::ids::tests::leased_for_3s;

    #[tokio::test]
    async fn a_renewal_completes_after_its_caller_stopped_waiting_and_runs_one_at_a_time() {
        let ids = std::sync::Arc::new(leased_for_3s());
        let lease = WorkerLease::of(ids.clone()).expect("a leased generator");
        let (answer, answered) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let ids = ids.clone();
            async move {
                let asked_at = Instant::now();
                let _ = answered.await;
                ids.grant(7, asked_at);
                Ok::<(), ()>(())
            }
        };
        // The readiness check gives up on the slow renewal...
        let gave_up = tokio::time::timeout(Duration::from_millis(50), lease.renew(slow)).await;
        assert!(gave_up.is_err());
        assert!(
            lease.renew(async { Ok::<(), ()>(()) }).await.is_none(),
            "no second renewal while the first still runs"
        );
        // ...and the database answers afterwards: the lease counts.
        answer.send(()).unwrap();
        for _ in 0..100 {
            if ids.is_available() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(ids.worker_id(), Some(7));
        assert!(ids.is_available());
        assert_eq!(lease.renew(async { Ok::<(), ()>(()) }).await, Some(Ok(())));
    }

    #[tokio::test]
    async fn a_renewal_the_database_never_answers_is_given_up_after_two_thirds_of_the_lease() {
        let ids = std::sync::Arc::new(leased_for_3s());
        let lease = WorkerLease::of(ids).expect("a leased generator");
        let hung = lease.renew(std::future::pending::<Result<(), ()>>());
        assert_eq!(hung.await, None, "given up");
        assert_eq!(
            lease.renew(async { Ok::<(), ()>(()) }).await,
            Some(Ok(())),
            "the next renewal runs"
        );
    }
}
