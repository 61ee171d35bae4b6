//! `Mqtt\Client`: a handle to a named connection of this process.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use mqtt_broadcast_core::close::CloseOptions;
use mqtt_broadcast_core::config::{Config, Value};
use mqtt_broadcast_core::connection::{Connection, ConnectionState, Status};
use mqtt_broadcast_core::deadline;
use mqtt_broadcast_core::error::Error;
use mqtt_broadcast_core::properties::Properties;
use mqtt_broadcast_core::registry;
use mqtt_broadcast_core::runtime::current_pid;

use super::arguments::{self, seconds};
use super::event::Event;
use super::exceptions::{
    OrThrow, Signature, CLIENT_CONSTRUCT, CLOSE, FLUSH, NO_ARGUMENTS, PUBLISH, PUBLISH_SYNC,
    REQUEST, WAIT_CONNECTED,
};
use super::message::{self, Message};
use super::options;
use super::subscriber::{dispatch_signals, WAKE_INTERVAL};

/// A connection to one MQTT broker, kept alive in the background across requests.
#[php_class]
#[php(name = "Mqtt\\Client")]
#[php(flags = ClassFlags::Final)]
pub struct Client {
    name: String,
    connection: Handle,
}

#[php_impl]
impl Client {
    /// Never waits for the network: the connection opens in the background.
    #[php(optional = options)]
    #[php(defaults(name = "\"default\""))]
    pub fn __construct(options: Option<&ZendHashTable>, name: String) -> PhpResult<Self> {
        if name.is_empty() {
            return Err(CLIENT_CONSTRUCT.invalid("name", "must not be empty"));
        }
        // The options of the handle before, as in every request of a
        // PHP-FPM worker: its connection, without reading them again.
        let reused = registry::reuse(&name, |remembered| match options {
            Some(array) => options::matches(array, remembered),
            None => *remembered == Value::Map(Vec::new()),
        });
        let connection = match reused {
            Some(connection) => connection,
            None => {
                let options = arguments::options(&CLIENT_CONSTRUCT, options)?;
                let config = Config::from_value(&options)
                    .map_err(Error::from)
                    .or_throw(&CLIENT_CONSTRUCT)?;
                registry::connect_from(&name, config, Some(options)).or_throw(&CLIENT_CONSTRUCT)?
            }
        };
        Ok(Client {
            name,
            connection: Handle::new(connection),
        })
    }

    /// Queues the message and returns at once.
    #[php(optional = qos)]
    pub fn publish(
        &mut self,
        topic: BinarySlice<u8>,
        payload: BinarySlice<u8>,
        qos: Option<i64>,
        retain: Option<bool>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let call = &PUBLISH;
        let topic = arguments::text(call, "topic", &topic)?;
        let qos = arguments::qos(call, qos.unwrap_or(i64::from(self.config().qos)))?;
        let properties = self.properties(call, properties, &payload)?;
        let retain = retain.unwrap_or(self.config().retain);
        self.connection(call)?
            .publish(topic, &payload, qos, retain, properties)
            .or_throw(call)
    }

    /// Returns once the broker acknowledged the message (PUBACK, PUBCOMP; written for QoS 0).
    #[php(optional = qos)]
    pub fn publish_sync(
        &mut self,
        topic: BinarySlice<u8>,
        payload: BinarySlice<u8>,
        qos: Option<i64>,
        retain: Option<bool>,
        timeout: Option<f64>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let call = &PUBLISH_SYNC;
        let topic = arguments::text(call, "topic", &topic)?;
        let qos = arguments::qos(call, qos.unwrap_or(i64::from(self.config().qos)))?;
        let timeout = seconds(call, timeout, self.config().flush_timeout)?;
        let properties = self.properties(call, properties, &payload)?;
        let retain = retain.unwrap_or(self.config().retain);
        self.connection(call)?
            .publish_sync(topic, &payload, qos, retain, properties, timeout)
            .or_throw(call)
    }

    /// MQTT 5 request/response: publishes with the connection's response topic and new correlation data, and returns the reply.
    #[php(optional = timeout)]
    pub fn request(
        &mut self,
        topic: BinarySlice<u8>,
        payload: BinarySlice<u8>,
        timeout: Option<f64>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<Message> {
        let call = &REQUEST;
        let topic = arguments::text(call, "topic", &topic)?;
        let timeout = seconds(call, timeout, self.config().flush_timeout)?;
        let properties =
            message::properties_argument(call, properties, &self.config().prefix, &payload)?;
        let deadline = deadline::after(timeout);
        let connection = Arc::clone(self.connection(call)?);
        let request = connection
            .request(topic, &payload, properties, deadline)
            .or_throw(call)?;
        loop {
            let step = deadline
                .saturating_duration_since(Instant::now())
                .min(WAKE_INTERVAL);
            if let Some(reply) = request.receive(step) {
                return Ok(Message::from(reply));
            }
            dispatch_signals()?;
            if Instant::now() >= deadline {
                return Err(call.error(request.timed_out(&connection, timeout)));
            }
        }
    }

    /// True once nothing is queued or in flight; false when the timeout passed first.
    #[php(optional = timeout)]
    pub fn flush(&mut self, timeout: Option<f64>) -> PhpResult<bool> {
        let timeout = seconds(&FLUSH, timeout, self.config().flush_timeout)?;
        Ok(self.connection(&FLUSH)?.flush(timeout))
    }

    /// True once the connection is up (at once if it is); false when the timeout passed first or it failed for good.
    pub fn wait_connected(&mut self, timeout: f64) -> PhpResult<bool> {
        let timeout = seconds(&WAIT_CONNECTED, Some(timeout), Duration::ZERO)?;
        Ok(self
            .connection(&WAIT_CONNECTED)?
            .wait_connected(deadline::after(timeout)))
    }

    /// What happened to this connection since the last call (Mqtt\Event, oldest first), for code that does not loop.
    pub fn events(&mut self) -> PhpResult<Vec<Event>> {
        let connection = self.connection(&NO_ARGUMENTS)?;
        Ok(connection
            .drain_events()
            .into_iter()
            .map(Event::from)
            .collect())
    }

    /// State and counters of this connection.
    pub fn status(&mut self) -> PhpResult<ZBox<ZendHashTable>> {
        Ok(status_array(&self.connection(&NO_ARGUMENTS)?.status())?)
    }

    /// Flushes (bounded by flush_timeout) and disconnects, with MQTT 5's reason code and session expiry when given; the handle is unusable afterwards.
    pub fn close(&mut self, options: Option<&ZendHashTable>) -> PhpResult<()> {
        let call = &CLOSE;
        let farewell = match options {
            None => CloseOptions::default(),
            Some(array) => {
                let farewell = CloseOptions::from_value(&arguments::array(call, "options", array)?)
                    .or_throw(call)?;
                farewell.check_for(self.config()).or_throw(call)?;
                farewell
            }
        };
        registry::close(self.connection(call)?, farewell);
        Ok(())
    }

    /// The counters of every process of this pool (the PHP-FPM workers of one master, or this CLI process), in Prometheus' text format.
    pub fn metrics() -> String {
        mqtt_broadcast_core::metrics::render()
    }

    /// status() of every live connection of this process, by name.
    pub fn connections() -> PhpResult<ZBox<ZendHashTable>> {
        let mut all = ZendHashTable::new();
        for connection in registry::connections() {
            all.insert(
                connection.name.as_str(),
                status_array(&connection.status())?,
            )?;
        }
        Ok(all)
    }
}

impl Client {
    /// The connection's options, which its handle was made with.
    fn config(&self) -> &Config {
        &self.connection.0.config
    }

    /// MQTT 5 publish properties, validated for this connection.
    fn properties(
        &self,
        call: &Signature,
        properties: Option<&ZendHashTable>,
        payload: &[u8],
    ) -> PhpResult<Option<Properties>> {
        let Some(array) = properties else {
            return Ok(None);
        };
        let value = arguments::array(call, "properties", array)?;
        let properties = Properties::for_publish(&value, self.config()).or_throw(call)?;
        if let Some(properties) = &properties {
            properties.check_payload(payload).or_throw(call)?;
        }
        Ok(properties)
    }

    /// The connection of this process, for a subscriber.
    pub(crate) fn live_connection(&self) -> Result<Arc<Connection>, Error> {
        if self.connection.0.pid == current_pid() {
            return Ok(Arc::clone(&self.connection.0));
        }
        registry::connect(&self.name, self.config().clone())
    }

    /// The connection, rebuilt in a process forked after this handle was made.
    fn connection(&mut self, call: &Signature) -> PhpResult<&Arc<Connection>> {
        if self.connection.0.pid != current_pid() {
            let connection = registry::connect(&self.name, self.config().clone()).or_throw(call)?;
            self.connection = Handle::new(connection);
        }
        Ok(&self.connection.0)
    }
}

/// Owns a connection of the process that made it; in a forked child the
/// inherited one is forgotten, never dropped, as its threads do not exist there.
struct Handle(ManuallyDrop<Arc<Connection>>);

impl Handle {
    fn new(connection: Arc<Connection>) -> Self {
        Handle(ManuallyDrop::new(connection))
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0.pid == current_pid() {
            // SAFETY: dropped exactly once, here.
            unsafe { ManuallyDrop::drop(&mut self.0) };
        }
    }
}

fn status_array(status: &Status) -> ext_php_rs::error::Result<ZBox<ZendHashTable>> {
    let mut array = ZendHashTable::new();
    array.insert("name", status.name.as_str())?;
    array.insert("state", status.state.as_str())?;
    array.insert("connected", status.state == ConnectionState::Connected)?;
    array.insert("client_id", status.client_id.as_str())?;
    array.insert("host", status.host.as_str())?;
    array.insert("port", i64::from(status.port))?;
    array.insert("reconnects", status.reconnects as i64)?;
    array.insert("queued", status.queued as i64)?;
    array.insert("in_flight", status.in_flight as i64)?;
    array.insert("published", status.published as i64)?;
    array.insert("acknowledged", status.acknowledged as i64)?;
    array.insert("refused", status.refused as i64)?;
    array.insert("last_error", status.last_error.clone())?;
    array.insert("connected_since", status.connected_since)?;
    array.insert("session_present", status.session_present)?;
    array.insert("server", status.server.as_str())?;
    let mut servers = ZendHashTable::new();
    for (server, last_error) in &status.servers {
        let mut entry = ZendHashTable::new();
        entry.insert("server", server.as_str())?;
        entry.insert("last_error", last_error.clone())?;
        servers.push(entry)?;
    }
    array.insert("servers", servers)?;
    Ok(array)
}
