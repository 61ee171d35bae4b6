//! The named connections living in this process, so that a PHP-FPM worker
//! keeps one connection per name across all the requests it serves.
//!
//! The process-wide lock is held only to find a name's slot: replacing a
//! connection flushes the old one for up to its `flush_timeout`, and under a
//! threaded PHP every other thread's calls must not wait behind that. Only
//! callers of the same name wait, in the slot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::runtime::Runtime;

use super::close::CloseOptions;
use super::config::{Config, Value};
use super::connection::Connection;
use super::deadline;
use super::error::{ConnectionError, Error};
use super::runtime::{self, current_pid};
use super::tls;

struct Process {
    pid: u32,
    runtime: Runtime,
    slots: HashMap<String, Arc<Slot>>,
}

/// One name's connection, and the turn to replace it.
#[derive(Default)]
struct Slot {
    replacing: Mutex<()>,
    current: Mutex<Option<Arc<Connection>>>,
    /// The options, as the application gave them, that last found or made
    /// the current connection (`connect_from`); changed only in the turn.
    options: Mutex<Option<Value>>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Connection>> {
        self.current.lock().clone()
    }
}

static PROCESS: Mutex<Option<Process>> = Mutex::new(None);

/// The live connection of that name with those options, or a new one. A
/// connection of that name with other options, or one that failed for good,
/// is flushed and replaced; what it could not deliver moves to its replacement.
pub fn connect(name: &str, config: Config) -> Result<Arc<Connection>, Error> {
    connect_from(name, config, None)
}

/// `connect`, remembering the `options` the config was read from, so that
/// the same options again find the connection without being read (`reuse`).
/// Not those that name files: the next handle reads them again, and learns
/// of a certificate that went missing.
pub fn connect_from(
    name: &str,
    config: Config,
    options: Option<Value>,
) -> Result<Arc<Connection>, Error> {
    let options = options.filter(|_| !config.names_files());
    let (slot, pid, runtime) = with_process(|process| {
        let slot = process.slots.entry(name.to_owned()).or_default().clone();
        (slot, process.pid, process.runtime.handle().clone())
    })?;
    let _turn = slot.replacing.lock();
    let existing = slot.current();
    if let Some(existing) = &existing {
        if existing.config == config && !existing.is_finished() {
            if options.is_some() {
                *slot.options.lock() = options;
            }
            return Ok(existing.clone());
        }
    }
    // Everything that can fail comes before the old connection is touched.
    let tls = config
        .tls_settings()
        .as_ref()
        .map(tls::client_config)
        .transpose()?;
    let carried = match existing {
        Some(existing) => {
            existing.close();
            existing.take_unacknowledged()
        }
        None => Vec::new(),
    };
    let connection = Connection::open(name, config, tls, pid, &runtime, carried);
    *slot.current.lock() = Some(connection.clone());
    *slot.options.lock() = options;
    Ok(connection)
}

/// What `connect_from` would return for options that `same` finds equal to
/// those it remembers, found without reading them into a config again: the
/// live connection of that name, unless it failed for good or is being
/// replaced. A request of PHP-FPM that opens its handle again with the
/// options of the last one skips reading them.
pub fn reuse(name: &str, same: impl FnOnce(&Value) -> bool) -> Option<Arc<Connection>> {
    let slot = {
        let guard = PROCESS.lock();
        let process = guard.as_ref().filter(|p| p.pid == current_pid())?;
        process.slots.get(name)?.clone()
    };
    let _turn = slot.replacing.try_lock()?;
    let connection = slot.current().filter(|c| !c.is_finished())?;
    slot.options.lock().as_ref().filter(|o| same(o))?;
    Some(connection)
}

/// Closes a connection and lets the next `connect` of its name start afresh.
/// One that could not deliver everything stays listed, so its messages stay
/// visible in `status()` and the next connection of that name takes them over.
pub fn close(connection: &Arc<Connection>, farewell: CloseOptions) {
    connection.close_with(farewell);
    let status = connection.status();
    if status.queued + status.in_flight > 0 {
        return;
    }
    let slot = {
        let guard = PROCESS.lock();
        guard
            .as_ref()
            .filter(|p| p.pid == current_pid())
            .and_then(|p| p.slots.get(&connection.name).cloned())
    };
    if let Some(slot) = slot {
        let mut current = slot.current.lock();
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, connection)) {
            *current = None;
        }
    }
}

/// This process's live connections, by name.
pub fn connections() -> Vec<Arc<Connection>> {
    let slots: Vec<Arc<Slot>> = {
        let guard = PROCESS.lock();
        guard
            .as_ref()
            .filter(|p| p.pid == current_pid())
            .map(|p| p.slots.values().cloned().collect())
            .unwrap_or_default()
    };
    let mut connections: Vec<_> = slots.iter().filter_map(|slot| slot.current()).collect();
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
    let connections: Vec<Arc<Connection>> = process
        .slots
        .values()
        .filter_map(|slot| slot.current())
        .collect();
    let start = Instant::now();
    for connection in &connections {
        connection.flush_until(deadline::from(start, connection.config.flush_timeout));
    }
    for connection in &connections {
        connection.close_by(start, CloseOptions::default());
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
            let runtime = runtime::build().map_err(|e| ConnectionError::Runtime(e.to_string()))?;
            guard.insert(Process {
                pid,
                runtime,
                slots: HashMap::new(),
            })
        }
    };
    Ok(f(process))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::thread;

    use rumqttc::QoS;

    use super::*;

    /// A port nothing listens on: the connection stays connecting.
    fn unreachable() -> Config {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Config {
            port,
            flush_timeout: Duration::from_secs(3),
            ..Config::default()
        }
    }

    #[test]
    fn replacing_a_connection_that_flushes_holds_up_no_other_name() {
        let config = unreachable();
        let stuck = connect("replaced", config.clone()).unwrap();
        stuck
            .publish("undeliverable", b"x", QoS::AtLeastOnce, false, None)
            .unwrap();
        let replacing = thread::spawn(move || {
            let other_options = Config {
                keep_alive: Duration::from_secs(30),
                ..config
            };
            connect("replaced", other_options).unwrap()
        });
        // The replacement now flushes the old connection for its flush_timeout.
        thread::sleep(Duration::from_millis(300));
        assert!(!replacing.is_finished());

        let asked = Instant::now();
        let other = connect("another name", unreachable()).unwrap();
        let listed = connections();
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "waited {:?} behind the flush",
            asked.elapsed()
        );
        assert!(listed.iter().any(|c| c.name == "another name"));

        let replacement = replacing.join().unwrap();
        assert_eq!(replacement.status().queued, 1, "the message moved over");
        close(&other, CloseOptions::default());
    }

    #[test]
    fn the_options_a_connection_was_made_from_find_it_again_until_it_is_replaced() {
        let config = unreachable();
        let options = Value::Map(vec![("port".into(), Value::Int(config.port.into()))]);
        fn same(given: &Value) -> impl FnOnce(&Value) -> bool + '_ {
            move |remembered| remembered == given
        }
        assert!(reuse("remembered", same(&options)).is_none(), "nothing yet");

        let made = connect_from("remembered", config.clone(), Some(options.clone())).unwrap();
        let found = reuse("remembered", same(&options)).expect("found by its options");
        assert!(Arc::ptr_eq(&made, &found));
        let other = Value::Map(vec![("port".into(), Value::Str("1".into()))]);
        assert!(reuse("remembered", same(&other)).is_none());
        assert!(reuse("another name", same(&options)).is_none());

        // Found by its config, without options: still remembers them.
        assert!(Arc::ptr_eq(
            &connect("remembered", config.clone()).unwrap(),
            &made
        ));
        assert!(reuse("remembered", same(&options)).is_some());

        // Replaced by other options: the old ones find nothing.
        let replaced_by = Config {
            keep_alive: Duration::from_secs(30),
            flush_timeout: Duration::ZERO,
            ..config
        };
        let replacement = connect("remembered", replaced_by).unwrap();
        assert!(reuse("remembered", same(&options)).is_none());
        close(&replacement, CloseOptions::default());
        assert!(reuse("remembered", |_| true).is_none(), "closed");
    }
}
