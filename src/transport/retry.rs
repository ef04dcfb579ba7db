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
pub enum RetryDecision {
    /// Permanent: a 4xx, a consumed stream body, a local validation error.
    DoNotRetry,
    /// Transient: wait with exponential backoff and full jitter, then retry.
    Backoff,
    /// Retry at once, at most once per operation (after the caller corrected
    /// its clock from the server's `Date`).
    Immediately,
}

/// Implemented by the module errors so the loop can classify them.
pub trait Classify {
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
pub async fn run<T, E, F, Fut>(policy: &RetryPolicy, attempt: F) -> Result<T, E>
where
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    run_observed(policy, |_| {}, attempt).await
}

/// [`run`] that tells `on_retry` the reason of every failure it retries
/// (the operation's retry counter), just before the backoff.
pub(crate) async fn run_observed<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&'static str),
    mut attempt: F,
) -> Result<T, E>
where
    E: Classify,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut immediate_used = false;
    let mut backoffs = 0u32;
    let mut n = 0u32;
    loop {
        let mut err = match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        n += 1;
        let wait = match err.retry_decision() {
            RetryDecision::Immediately if !immediate_used => {
                immediate_used = true;
                Some(Duration::ZERO)
            }
            RetryDecision::Backoff | RetryDecision::Immediately => {
                backoffs += 1;
                Some(policy.backoff(backoffs))
            }
            RetryDecision::DoNotRetry => None,
        };
        let within_budget = |w: Duration| {
            n < policy.max_attempts && started.elapsed().saturating_add(w) < policy.deadline
        };
        match wait {
            Some(w) if within_budget(w) => {
                let reason = err.retry_reason();
                tracing::info!(
                    target: "coscls::retry",
                    retry = n as i64,
                    reason,
                    delay_ms = w.as_millis() as i64,
                    "retrying after a transient failure"
                );
                on_retry(reason);
                tokio::time::sleep(w).await;
            }
            _ => {
                err.set_attempts(n);
                return Err(err);
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
}
