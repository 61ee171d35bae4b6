//! The process this code runs in, and its background runtime.
//!
//! PHP-FPM forks workers from a master that loaded the extension, and
//! `pcntl_fork` exists: state is tagged with the pid that built it, and the
//! pid is kept current by a fork handler so that checking it costs one load.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Once;

use tokio::runtime::{Builder, Runtime};

static PID: AtomicU32 = AtomicU32::new(0);
static FORK_HANDLER: Once = Once::new();
/// False when the fork handler could not be registered: the pid is then
/// asked of the kernel on every check instead of cached.
static PID_CACHED: AtomicBool = AtomicBool::new(false);

pub fn current_pid() -> u32 {
    let pid = PID.load(Ordering::Relaxed);
    if pid != 0 {
        return pid;
    }
    FORK_HANDLER.call_once(|| {
        // SAFETY: the handler only stores getpid(), which is async-signal-safe.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) } == 0;
        PID_CACHED.store(registered, Ordering::Relaxed);
    });
    let pid = std::process::id();
    if PID_CACHED.load(Ordering::Relaxed) {
        PID.store(pid, Ordering::Relaxed);
    }
    pid
}

extern "C" fn forked_child() {
    // SAFETY: getpid has no preconditions.
    PID.store(unsafe { libc::getpid() } as u32, Ordering::Relaxed);
}

/// One worker thread is plenty: the work is waiting on sockets, and a PHP-FPM
/// host runs many workers.
pub fn build() -> std::io::Result<Runtime> {
    Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("mqtt-broadcast")
        .enable_all()
        .build()
}
