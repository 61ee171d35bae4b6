//! SIGTERM and SIGINT while `Broker::run()` blocks.
//!
//! Installed with sigaction for the time of the call and restored after it,
//! rather than through a registry that chains to the previous handler: in
//! PHP the previous one is the engine's, which re-raises a signal no PHP
//! handler asked for with its default action and so kills the process
//! before the broker could stop. Not chained either: while `run()` blocks,
//! these two signals stop the broker, and only that.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::server::BrokerError;

static CAUGHT: AtomicBool = AtomicBool::new(false);

const SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];

pub struct Signals {
    previous: [libc::sigaction; 2],
}

extern "C" fn on_signal(_: libc::c_int) {
    // Async-signal-safe: an atomic store, nothing else.
    CAUGHT.store(true, Ordering::SeqCst);
}

impl Signals {
    pub fn catch() -> Result<Signals, BrokerError> {
        CAUGHT.store(false, Ordering::SeqCst);
        // SAFETY: zeroed sigaction structs are valid "no handler" values;
        // each call below gets valid pointers to them.
        let mut previous: [libc::sigaction; 2] = unsafe { std::mem::zeroed() };
        for (index, signal) in SIGNALS.iter().enumerate() {
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            if unsafe { libc::sigaction(*signal, &action, &mut previous[index]) } != 0 {
                let error = std::io::Error::last_os_error();
                for (restored, signal) in SIGNALS.iter().enumerate().take(index) {
                    unsafe { libc::sigaction(*signal, &previous[restored], std::ptr::null_mut()) };
                }
                return Err(BrokerError::Start(format!(
                    "cannot catch SIGTERM and SIGINT: {error}"
                )));
            }
        }
        Ok(Signals { previous })
    }

    pub fn caught(&self) -> bool {
        CAUGHT.load(Ordering::SeqCst)
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (index, signal) in SIGNALS.iter().enumerate() {
            // SAFETY: restores what sigaction returned for this signal.
            unsafe { libc::sigaction(*signal, &self.previous[index], std::ptr::null_mut()) };
        }
    }
}
