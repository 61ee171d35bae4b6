//! Exponential backoff with jitter between reconnect attempts.
//!
//! The delay doubles per attempt up to a ceiling; each delay is drawn between
//! half and all of that, so the PHP-FPM workers of a host that lost the broker
//! together do not reconnect in lockstep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempts: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            attempts: 0,
        }
    }

    /// The delay before the next attempt: random between half of
    /// `min(max, initial * 2^attempts)` and all of it.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempts = self.attempts.saturating_add(1);
        // The lower bound rounds up, so a ceiling of 1 ns still waits 1 ns.
        let spread = ceiling / 2;
        let floor = ceiling - spread;
        // Only a spread beyond 584 years overflows u64 nanoseconds.
        let spread_nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
        floor + Duration::from_nanos(fastrand::u64(..=spread_nanos))
    }

    /// Starts over from `initial`, after a successful connection.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    fn ceiling(&self) -> Duration {
        let doubled = 1u32
            .checked_shl(self.attempts)
            .and_then(|factor| self.initial.checked_mul(factor));
        match doubled {
            Some(delay) => delay.min(self.max),
            // Overflow means "beyond any Duration", except that zero doubled stays zero.
            None if self.initial.is_zero() => Duration::ZERO,
            None => self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn delays(backoff: &mut Backoff, count: usize) -> Vec<Duration> {
        (0..count).map(|_| backoff.next_delay()).collect()
    }

    #[test]
    fn each_delay_lies_between_half_and_all_of_its_ceiling() {
        for _ in 0..200 {
            let mut backoff = Backoff::new(100 * MS, 30_000 * MS);
            for (attempt, delay) in delays(&mut backoff, 12).into_iter().enumerate() {
                let ceiling = (100 * MS * 2u32.pow(attempt as u32)).min(30_000 * MS);
                assert!(
                    delay >= ceiling / 2 && delay <= ceiling,
                    "attempt {attempt}: {delay:?} vs {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn ceiling_doubles_per_attempt() {
        let mut backoff = Backoff::new(100 * MS, Duration::from_secs(3600));
        let ceilings: Vec<Duration> = (0..5)
            .map(|_| {
                let ceiling = backoff.ceiling();
                backoff.next_delay();
                ceiling
            })
            .collect();
        assert_eq!(
            ceilings,
            [100 * MS, 200 * MS, 400 * MS, 800 * MS, 1600 * MS]
        );
    }

    #[test]
    fn delay_never_exceeds_max_delay() {
        let mut backoff = Backoff::new(100 * MS, 1000 * MS);
        for delay in delays(&mut backoff, 1000) {
            assert!(delay <= 1000 * MS, "{delay:?}");
        }
        // Past the doubling phase every draw stays in the upper half of max.
        assert!(backoff.next_delay() >= 500 * MS);
    }

    #[test]
    fn max_below_initial_still_caps_the_delay() {
        let mut backoff = Backoff::new(Duration::from_secs(10), Duration::from_secs(1));
        assert!(backoff.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn delay_is_never_zero_when_initial_is_positive() {
        let mut backoff = Backoff::new(Duration::from_nanos(1), Duration::from_nanos(1));
        for delay in delays(&mut backoff, 100) {
            assert_eq!(delay, Duration::from_nanos(1));
        }
        let mut backoff = Backoff::new(Duration::from_nanos(1), Duration::from_secs(1));
        assert!(delays(&mut backoff, 100)
            .iter()
            .all(|delay| !delay.is_zero()));
    }

    #[test]
    fn zero_initial_gives_zero_delays() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::from_secs(1));
        assert!(delays(&mut backoff, 40).iter().all(Duration::is_zero));
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for delay in delays(&mut backoff, 100) {
            assert!(delay >= Duration::from_millis(500));
        }
        backoff.attempts = u32::MAX;
        assert!(backoff.next_delay() >= Duration::MAX / 2);
        assert_eq!(backoff.attempts(), u32::MAX);
    }

    #[test]
    fn attempts_count_delays_since_the_last_reset() {
        let mut backoff = Backoff::new(100 * MS, 1000 * MS);
        assert_eq!(backoff.attempts(), 0);
        delays(&mut backoff, 3);
        assert_eq!(backoff.attempts(), 3);
        backoff.reset();
        assert_eq!(backoff.attempts(), 0);
    }

    #[test]
    fn reset_starts_again_from_the_initial_delay() {
        let mut backoff = Backoff::new(100 * MS, 30_000 * MS);
        delays(&mut backoff, 10);
        backoff.reset();
        let delay = backoff.next_delay();
        assert!(delay >= 50 * MS && delay <= 100 * MS, "{delay:?}");
    }

    #[test]
    fn delays_are_jittered() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let draws = delays(&mut backoff, 50);
        assert!(
            draws.iter().any(|delay| *delay != draws[0]),
            "50 identical delays: {:?}",
            draws[0]
        );
    }
}
