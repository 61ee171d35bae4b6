//! Deadlines from timeouts of any size: a timeout too long for the clock
//! waits as long as the clock can count, it does not panic.

use std::time::{Duration, Instant};

/// About 30 years: past any real wait, far from the clock's overflow.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

pub fn after(timeout: Duration) -> Instant {
    from(Instant::now(), timeout)
}

pub fn from(start: Instant, timeout: Duration) -> Instant {
    start.checked_add(timeout.min(FOREVER)).unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_timeout_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert!(from(now, Duration::MAX) >= now + Duration::from_secs(365 * 24 * 3600));
        assert_eq!(
            from(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
