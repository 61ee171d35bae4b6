//! The named connections living in this process, so that a PHP-FPM worker
//! keeps one connection per name across all the requests it serves.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::Runtime;

use super::config::Config;
use super::connection::Connection;
use super::error::Error;
use super::runtime::{self, current_pid};
use super::tls;

struct Process {
    pid: u32,
    runtime: Runtime,
    connections: HashMap<String, Arc<Connection>>,
}

static PROCESS: Mutex<Option<Process>> = Mutex::new(None);

/// The live connection of that name with those options, or a new one. A
/// connection of that name with other options is flushed and replaced; what
/// it could not deliver moves to its replacement.
pub fn connect(name: &str, config: Config) -> Result<Arc<Connection>, Error> {
    with_process(|process| {
        if let Some(existing) = process.connections.get(name) {
            if existing.config == config && !existing.is_finished() {
                return Ok(existing.clone());
            }
        }
        // Everything that can fail comes before the old connection is touched.
        let tls = config.tls.as_ref().map(tls::client_config).transpose()?;
        let carried = match process.connections.remove(name) {
            Some(existing) => {
                existing.close();
                existing.take_unacknowledged()
            }
            None => Vec::new(),
        };
        let connection = Connection::open(
            name,
            config,
            tls,
            process.pid,
            process.runtime.handle(),
            carried,
        );
        process
            .connections
            .insert(name.to_string(), connection.clone());
        Ok(connection)
    })?
}

/// Closes a connection and lets the next `connect` of its name start afresh.
/// One that could not deliver everything stays listed, so its messages stay
/// visible in `status()` and the next connection of that name takes them over.
pub fn close(connection: &Arc<Connection>) {
    connection.close();
    let status = connection.status();
    if status.queued + status.in_flight > 0 {
        return;
    }
    let mut guard = PROCESS.lock();
    if let Some(process) = guard.as_mut().filter(|p| p.pid == current_pid()) {
        if process
            .connections
            .get(&connection.name)
            .is_some_and(|c| Arc::ptr_eq(c, connection))
        {
            process.connections.remove(&connection.name);
        }
    }
}

/// This process's live connections, by name.
pub fn connections() -> Vec<Arc<Connection>> {
    let guard = PROCESS.lock();
    let mut connections: Vec<_> = guard
        .as_ref()
        .filter(|p| p.pid == current_pid())
        .map(|p| p.connections.values().cloned().collect())
        .unwrap_or_default();
    connections.sort_by(|a, b| a.name.cmp(&b.name));
    connections
}

/// At process end: flushes every connection this process owns, all at once
/// and each bounded by its `flush_timeout`, then stops the runtime.
pub fn shutdown() {
    let Some(process) = PROCESS.lock().take() else {
        return;
    };
    if process.pid != current_pid() {
        // Inherited through fork(): its threads do not exist here.
        std::mem::forget(process);
        return;
    }
    let start = Instant::now();
    for connection in process.connections.values() {
        connection.flush_until(start + connection.config.flush_timeout);
    }
    for connection in process.connections.values() {
        connection.close_by(start);
        let status = connection.status();
        let undelivered = status.queued + status.in_flight;
        if undelivered > 0 {
            eprintln!(
                "mqtt-broadcast: connection \"{}\" ended with {undelivered} messages not acknowledged by the broker (flush_timeout {:.1} s, last error: {})",
                connection.name,
                connection.config.flush_timeout.as_secs_f64(),
                status.last_error.as_deref().unwrap_or("none"),
            );
        }
    }
    process.runtime.shutdown_timeout(Duration::from_millis(500));
}

fn with_process<T>(f: impl FnOnce(&mut Process) -> T) -> Result<T, Error> {
    let mut guard = PROCESS.lock();
    let pid = current_pid();
    if guard.as_ref().is_some_and(|p| p.pid != pid) {
        // Inherited through fork(): forget it without joining or dropping.
        std::mem::forget(guard.take());
    }
    let process = match guard.as_mut() {
        Some(process) => process,
        None => {
            let runtime = runtime::build().map_err(|e| {
                Error::Connection(format!("cannot start the background runtime: {e}"))
            })?;
            guard.insert(Process {
                pid,
                runtime,
                connections: HashMap::new(),
            })
        }
    };
    Ok(f(process))
}
