//! Retry policy and the attempt loop.
//!
//! The policy is pure (classification and backoff are plain functions with
//! table tests); the loop calls the operation's attempt closure, which builds
//! and signs a fresh request each time, so no attempt reuses a signature.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// What a failed attempt allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryDecision {
    /// Permanent: a 4xx, a consumed stream body, a local validation error.
    DoNotRetry,
    /// Transient: wait with exponential backoff and full jitter, then retry.
    Backoff,
    /// Retry at once, at most once per operation (after the caller corrected
    /// its clock from the server's `Date`).
    Immediately,
}

/// Implemented by the module errors so the loop can classify them.
pub(crate) trait Classify {
    /// Whether and how to retry after this error.
    fn retry_decision(&self) -> RetryDecision;
    /// Low-cardinality reason for the retries counter (`slow_down`, `http_503`, `timeout`…).
    fn retry_reason(&self) -> &'static str;
    /// Called on the final error with the number of attempts made.
    fn set_attempts(&mut self, _attempts: u32) {}
}

/// How often and how patiently to retry.
///
/// ```
/// use coscls::transport::retry::RetryPolicy;
/// use std::time::Duration;
/// let policy = RetryPolicy::default().with_max_attempts(6).with_deadline(Duration::from_secs(30));
/// assert_eq!(policy.max_attempts, 6);
/// assert!(policy.backoff_cap(3) <= Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Cap of the first backoff window.
    pub base_delay: Duration,
    /// Largest backoff window.
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            deadline: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the total number of attempts (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the total deadline.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the first and the largest backoff window.
    pub fn with_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max.max(base);
        self
    }

    /// Upper bound of the wait before retry number `retry` (1-based):
    /// `min(max_delay, base_delay * 2^(retry-1))`.
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait before retry number `retry`: uniform in `[0, cap]` ("full
    /// jitter"), so clients that failed together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry);
        cap.mul_f64(fastrand::f64())
    }
}

/// Runs `attempt(n)` for n = 0, 1, … until it succeeds, fails permanently,
/// or the policy is exhausted. `n` is the resend count, 0 on the first try.
#[cfg(test)]
pub(crate) async fn run<T, E, F, Fut>(policy: &RetryPolicy, attempt: F) -> Result<T, E>
where
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_observed(policy, |_| {}, attempt).await
}

/// The one retry schedule: after each failed attempt it decides whether
/// another attempt may start and how long to wait first. Every retry loop
/// in the crate ([`run`], and the producer's, through the pipeline) asks it,
/// so every attempt follows the same rules:
///
/// - a permanent error ([`RetryDecision::DoNotRetry`]) ends the operation;
/// - the first [`RetryDecision::Immediately`] (a corrected clock) retries at
///   once; later ones back off like any transient error;
/// - a transient error waits [`RetryPolicy::backoff`] of the number of
///   backoffs so far (full jitter under `base_delay * 2^(k-1)`, capped at
///   `max_delay`);
/// - no attempt starts beyond `max_attempts` in total, nor when the wait
///   would end past `deadline` after the first attempt began.
#[derive(Debug)]
pub(crate) struct Schedule<'p> {
    policy: &'p RetryPolicy,
    started: Instant,
    immediate_used: bool,
    backoffs: u32,
    attempts: u32,
}

impl<'p> Schedule<'p> {
    pub(crate) fn new(policy: &'p RetryPolicy) -> Self {
        Schedule {
            policy,
            started: Instant::now(),
            immediate_used: false,
            backoffs: 0,
            attempts: 0,
        }
    }

    /// Attempts that have failed so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Records a failed attempt; returns the wait before the next one, or
    /// `None` when none may follow.
    pub(crate) fn after_failure(&mut self, decision: RetryDecision) -> Option<Duration> {
        self.attempts = self.attempts.saturating_add(1);
        let wait = match decision {
            RetryDecision::Immediately if !self.immediate_used => {
                self.immediate_used = true;
                Duration::ZERO
            }
            RetryDecision::Backoff | RetryDecision::Immediately => {
                self.backoffs = self.backoffs.saturating_add(1);
                self.policy.backoff(self.backoffs)
            }
            RetryDecision::DoNotRetry => return None,
        };
        let within = self.attempts < self.policy.max_attempts
            && self.started.elapsed().saturating_add(wait) < self.policy.deadline;
        within.then_some(wait)
    }
}

fn log_retry(retry: u32, reason: &'static str, wait: Duration) {
    tracing::info!(
        target: "coscls::retry",
        retry = retry as i64,
        reason,
        delay_ms = wait.as_millis() as i64,
        "retrying after a transient failure"
    );
}

/// [`run`] that tells `on_retry` the reason of every failure it retries
/// (the operation's retry counter), just before the backoff.
pub(crate) async fn run_observed<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&E),
    mut attempt: F,
) -> Result<T, E>
where
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut schedule = Schedule::new(policy);
    loop {
        let mut err = match attempt(schedule.attempts()).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        match schedule.after_failure(err.retry_decision()) {
            Some(w) => {
                log_retry(schedule.attempts(), err.retry_reason(), w);
                on_retry(&err);
                tokio::time::sleep(w).await;
            }
            None => {
                err.set_attempts(schedule.attempts());
                return Err(err);
            }
        }
    }
}

/// How an operation run with an abort signal ([`run_until`]) ended without success.
#[derive(Debug)]
pub(crate) enum Stopped<E> {
    /// The last attempt failed and the schedule allows no other.
    Failed {
        /// Its error.
        error: E,
        /// Attempts made.
        attempts: u32,
    },
    /// The abort signal fired first.
    Aborted {
        /// The error of the attempt before, if one failed.
        last_error: Option<E>,
        /// Whether an attempt was cut off mid-flight (its request may have
        /// taken effect).
        in_flight: bool,
        /// Attempts started, the cut one included.
        attempts: u32,
    },
}

/// [`run_observed`] that also stops when `abort` resolves: between attempts
/// at once, and mid-attempt by dropping the attempt. `on_retry` sees each
/// retried error just before the attempt that retries it (after the wait),
/// so it counts attempts actually made. On success, returns the number of
/// attempts too.
pub(crate) async fn run_until<T, E, F, Fut>(
    policy: &RetryPolicy,
    abort: impl Future<Output = ()>,
    mut on_retry: impl FnMut(&E),
    mut attempt: F,
) -> Result<(T, u32), Stopped<E>>
where
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    tokio::pin!(abort);
    let mut schedule = Schedule::new(policy);
    let mut last: Option<E> = None;
    loop {
        let n = schedule.attempts();
        if let Some(e) = &last {
            on_retry(e);
        }
        let outcome = tokio::select! {
            biased;
            _ = &mut abort => None,
            r = attempt(n) => Some(r),
        };
        let mut err = match outcome {
            Some(Ok(v)) => return Ok((v, n.saturating_add(1))),
            Some(Err(e)) => e,
            None => {
                return Err(Stopped::Aborted {
                    last_error: last,
                    in_flight: true,
                    attempts: n.saturating_add(1),
                })
            }
        };
        match schedule.after_failure(err.retry_decision()) {
            Some(w) => {
                log_retry(schedule.attempts(), err.retry_reason(), w);
                last = Some(err);
                tokio::select! {
                    biased;
                    _ = &mut abort => {
                        return Err(Stopped::Aborted {
                            last_error: last,
                            in_flight: false,
                            attempts: schedule.attempts(),
                        })
                    }
                    _ = tokio::time::sleep(w) => {}
                }
            }
            None => {
                err.set_attempts(schedule.attempts());
                return Err(Stopped::Failed {
                    error: err,
                    attempts: schedule.attempts(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct E(RetryDecision, u32);
    impl Classify for E {
        fn retry_decision(&self) -> RetryDecision {
            self.0
        }
        fn retry_reason(&self) -> &'static str {
            "test"
        }
        fn set_attempts(&mut self, n: u32) {
            self.1 = n;
        }
    }

    #[test]
    fn backoff_windows_double_up_to_the_cap() {
        let p =
            RetryPolicy::default().with_backoff(Duration::from_millis(100), Duration::from_secs(1));
        let caps: Vec<u128> = (1..=6).map(|r| p.backoff_cap(r).as_millis()).collect();
        assert_eq!(caps, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(1));
        for r in 1..=6 {
            assert!(p.backoff(r) <= p.backoff_cap(r));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_retry_until_attempts_run_out() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::default().with_max_attempts(3);
        let r: Result<(), E> = run(&p, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(RetryDecision::Backoff, 0)) }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(r.unwrap_err().1, 3, "the final error records the attempts");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<(), E> = run(&RetryPolicy::default(), |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(E(RetryDecision::DoNotRetry, 0)) }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn immediate_retry_is_granted_once_then_backs_off() {
        let seen = std::sync::Mutex::new(Vec::new());
        let r: Result<u32, E> = run(&RetryPolicy::default().with_max_attempts(10), |n| {
            seen.lock().unwrap().push((n, Instant::now()));
            async move {
                if n < 2 {
                    Err(E(RetryDecision::Immediately, 0))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r.unwrap(), 2);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[1].1, seen[0].1, "first immediate retry does not wait");
        assert!(seen[2].1 >= seen[1].1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_stops_retries() {
        let calls = AtomicU32::new(0);
        let p = RetryPolicy::default()
            .with_max_attempts(100)
            .with_backoff(Duration::from_secs(1), Duration::from_secs(1))
            .with_deadline(Duration::from_millis(10));
        let r: Result<(), E> = run(&p, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(E(RetryDecision::Backoff, 0))
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn run_until_follows_the_same_schedule_and_counts_every_attempt_once() {
        let p = RetryPolicy::default()
            .with_max_attempts(4)
            .with_backoff(Duration::from_millis(10), Duration::from_millis(10));
        let calls = AtomicU32::new(0);
        let retried = AtomicU32::new(0);
        let r: Result<((), u32), Stopped<E>> = run_until(
            &p,
            std::future::pending(),
            |_| {
                retried.fetch_add(1, Ordering::SeqCst);
            },
            |n| {
                assert_eq!(n, calls.fetch_add(1, Ordering::SeqCst));
                async { Err(E(RetryDecision::Backoff, 0)) }
            },
        )
        .await;
        match r {
            Err(Stopped::Failed { error, attempts }) => {
                assert_eq!((attempts, error.1), (4, 4));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(retried.load(Ordering::SeqCst), 3, "one retry per resend");

        let ok: Result<(u32, u32), Stopped<E>> = run_until(
            &p,
            std::future::pending(),
            |_| {},
            |n| async move {
                if n < 2 {
                    Err(E(RetryDecision::Backoff, 0))
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(ok.unwrap(), (2, 3));
    }

    #[tokio::test(start_paused = true)]
    async fn run_until_stops_on_abort_mid_attempt_or_mid_backoff() {
        let p = RetryPolicy::default()
            .with_max_attempts(10)
            .with_backoff(Duration::from_secs(60), Duration::from_secs(60));
        // Mid-backoff: the first attempt failed, the abort comes during the wait.
        let r: Result<((), u32), Stopped<E>> = run_until(
            &p,
            tokio::time::sleep(Duration::from_millis(1)),
            |_| {},
            |_| async { Err(E(RetryDecision::Backoff, 0)) },
        )
        .await;
        match r {
            Err(Stopped::Aborted {
                last_error: Some(_),
                in_flight: false,
                attempts: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
        // Mid-attempt: the request never answers.
        let r: Result<((), u32), Stopped<E>> = run_until(
            &p,
            tokio::time::sleep(Duration::from_millis(1)),
            |_| {},
            |_| std::future::pending::<Result<(), E>>(),
        )
        .await;
        match r {
            Err(Stopped::Aborted {
                last_error: None,
                in_flight: true,
                attempts: 1,
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
