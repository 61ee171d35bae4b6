//! `Mqtt\Broker`: the built-in broker (crates/broker), started on purpose only.
//!
//! Constructing one reads and checks the options and starts nothing: the
//! broker listens from `start()` or `run()` on, in the process that called
//! them. Loading the extension, an FPM worker or `new Mqtt\Client` never
//! start one (DESIGN.md contract 7).

use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use mqtt_broadcast_broker::{Broker as Server, BrokerConfig, BrokerError, RunError, Status};
use mqtt_broadcast_core::error::Error;

use super::arguments;
use super::exceptions::{mqtt_error, Signature};
use super::subscriber::dispatch_signals;

const BROKER_CONSTRUCT: Signature = Signature(&["options"]);
const NO_ARGUMENTS: Signature = Signature(&[]);

/// An MQTT broker inside this PHP process.
#[php_class]
#[php(name = "Mqtt\\Broker")]
#[php(flags = ClassFlags::Final)]
pub struct Broker {
    server: Server,
}

#[php_impl]
impl Broker {
    /// Checks the options (files included) and starts nothing.
    pub fn __construct(options: Option<&ZendHashTable>) -> PhpResult<Self> {
        let options = arguments::options(&BROKER_CONSTRUCT, options)?;
        let config = BrokerConfig::from_value(&options)
            .map_err(|error| BROKER_CONSTRUCT.error(Error::Config(error)))?;
        Ok(Broker {
            server: Server::new(config),
        })
    }

    /// Listens and returns; the broker runs on threads of its own until stop().
    pub fn start(&self) -> PhpResult<()> {
        self.server.start().map_err(thrown)
    }

    /// Starts unless started, then blocks until SIGTERM or SIGINT, or stop() from a signal handler; stops gracefully.
    pub fn run(&self) -> PhpResult<()> {
        match self.server.run(dispatch_signals) {
            Ok(()) => Ok(()),
            Err(RunError::Broker(error)) => Err(thrown(error)),
            Err(RunError::Tick(exception)) => Err(exception),
        }
    }

    /// Disconnects every client, writes the store and stops listening; false when it was not running.
    pub fn stop(&self) -> PhpResult<bool> {
        self.server.stop().map_err(thrown)
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// The port it listens on (the one picked for port 0): the plain listener's, else the TLS one's; null when stopped.
    pub fn port(&self) -> PhpResult<Option<i64>> {
        Ok(self.server.port().map_err(thrown)?.map(i64::from))
    }

    /// Listeners, clients, sessions, subscriptions, retained messages, messages in and out, uptime.
    pub fn status(&self) -> PhpResult<ZBox<ZendHashTable>> {
        let status = self.server.status().map_err(thrown)?;
        status_array(status.as_ref()).map_err(|e| mqtt_error(e.to_string()))
    }
}

fn thrown(error: BrokerError) -> PhpException {
    match error {
        BrokerError::Config(error) => NO_ARGUMENTS.error(Error::Config(error)),
        other => mqtt_error(other.to_string()),
    }
}

fn status_array(status: Option<&Status>) -> ext_php_rs::error::Result<ZBox<ZendHashTable>> {
    let mut array = ZendHashTable::new();
    array.insert("running", status.is_some())?;
    let mut listeners = ZendHashTable::new();
    for listener in status.map(|s| s.listeners.as_slice()).unwrap_or_default() {
        let mut entry = ZendHashTable::new();
        entry.insert("name", listener.name)?;
        entry.insert("address", listener.address.to_string())?;
        entry.insert("port", i64::from(listener.address.port()))?;
        listeners.push(entry)?;
    }
    array.insert("listeners", listeners)?;
    let count = |pick: fn(&Status) -> u64| status.map(pick).unwrap_or(0) as i64;
    array.insert("clients", count(|s| s.clients as u64))?;
    array.insert("sessions", count(|s| s.sessions as u64))?;
    array.insert("subscriptions", count(|s| s.subscriptions as u64))?;
    array.insert("retained", count(|s| s.retained as u64))?;
    array.insert("messages_received", count(|s| s.messages_received))?;
    array.insert("messages_sent", count(|s| s.messages_sent))?;
    array.insert(
        "uptime",
        status.map(|s| s.uptime.as_secs_f64()).unwrap_or(0.0),
    )?;
    Ok(array)
}
