//! CPU-heavy work (password hashing, tweet text parsing) off the async workers, with a bound:
//! at most `running` pieces of work at once, at most `queued` more waiting for a turn, and any
//! call beyond that refused at once with `RESOURCE_EXHAUSTED` rather than queued without end.
//! A flood then costs a fixed amount of CPU and memory, and a call whose client gave up while
//! it waited is dropped before it costs anything.
//!
//! The work runs on `running` threads of the pool's own, not on tokio's blocking pool: that
//! pool starts threads freely, and the allocator keeps a large freed block (argon2's 19 MiB) in
//! each thread's arena, so a flood through it grew a process by 19 MiB per concurrent request
//! (600 MiB for 34) although only two hashes ever ran at once. On a fixed set of threads the
//! memory is bounded by `running` blocks.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, mpsc},
};

use tokio::sync::Semaphore;
use tonic::Status;

use crate::settings::ServerSettings;

/// The bound for one process; cheap to clone (clones share it).
#[derive(Clone, Debug)]
pub struct CpuPool {
    /// Running plus waiting: a call that cannot take one of these is refused.
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
    /// To the pool's threads; work is sent only with a turn, so one is always free for it.
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
}

type Job = Box<dyn FnOnce() + Send>;
type Outcome<T> = Result<T, Box<dyn std::any::Any + Send>>;

/// Starts `count` threads that run jobs until every sender is gone.
fn start_threads(count: usize) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    for index in 0..count {
        let receiver = receiver.clone();
        std::thread::Builder::new()
            .name(format!("xir-cpu-{index}"))
            .spawn(move || {
                loop {
                    let next = receiver
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .expect("cannot start a CPU worker thread");
    }
    sender
}

/// The pool is full: the caller should try again shortly.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the server is busy; try again in a moment")]
pub struct Busy;

impl From<Busy> for Status {
    fn from(busy: Busy) -> Self {
        crate::errors::resource_exhausted(busy.to_string(), 1)
    }
}

impl CpuPool {
    /// `running` at once (0: one per core) and `queued` waiting.
    pub fn new(running: usize, queued: usize) -> Self {
        let running = if running == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            running
        };
        Self {
            admitted: Arc::new(Semaphore::new(running + queued)),
            running: Arc::new(Semaphore::new(running)),
            jobs: Arc::new(Mutex::new(start_threads(running))),
        }
    }

    pub fn from_settings(settings: &ServerSettings) -> Self {
        Self::new(settings.cpu_heavy_running, settings.cpu_heavy_queued)
    }

    /// Runs `work` on the blocking pool once it has a turn; `Busy` at once when every turn
    /// and every place in the queue is taken. A panic in `work` is the caller's panic.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let turn = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let (done, finished) = tokio::sync::oneshot::channel::<Outcome<T>>();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(work));
            // The places go back before the caller hears: by the time it has its answer, the
            // pool has room again.
            drop((admitted, turn));
            let _ = done.send(outcome);
        });
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .send(job)
            .map_err(|_| Busy)?;
        match finished.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::mpsc, time::Duration};

    use super::*;

    /// Starts a piece of work that holds `pool`'s only turn until the sender is used.
    async fn occupy_the_only_turn(
        pool: &CpuPool,
    ) -> (
        mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<Option<()>, Busy>>,
    ) {
        let (release, blocked) = mpsc::channel::<()>();
        let running = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(move || blocked.recv().ok()).await }
        });
        while pool.running.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (release, running)
    }

    #[tokio::test]
    async fn work_beyond_the_running_and_queued_bound_is_refused_at_once() {
        let pool = CpuPool::new(1, 1);
        let (release, running) = occupy_the_only_turn(&pool).await;
        // The second piece waits in the only queue place.
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 2).await }
        });
        while pool.admitted.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(pool.run(|| 3).await, Err(Busy), "a third is refused");
        release.send(()).expect("release");
        assert_eq!(running.await.expect("task"), Ok(Some(())));
        assert_eq!(queued.await.expect("task"), Ok(2));
        assert_eq!(pool.run(|| 4).await, Ok(4), "turns come back");
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_while_queued_costs_nothing() {
        let pool = CpuPool::new(1, 1);
        let (release, running) = occupy_the_only_turn(&pool).await;
        let (ran, never) = mpsc::channel::<()>();
        let abandoned =
            tokio::time::timeout(Duration::from_millis(20), pool.run(move || ran.send(())));
        assert!(abandoned.await.is_err(), "still waiting when abandoned");
        release.send(()).expect("release");
        running.await.expect("task").expect("ran");
        assert!(
            never.recv_timeout(Duration::from_millis(100)).is_err(),
            "the abandoned work never ran"
        );
        assert_eq!(
            pool.admitted.available_permits(),
            2,
            "its place was given back"
        );
    }
}
