//! `Mqtt\Client`: a handle to a named connection of this process.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Duration;

use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;

use crate::core::config::{Config, Value};
use crate::core::connection::{Connection, ConnectionState, Status};
use crate::core::error::Error;
use crate::core::properties::Properties;
use crate::core::registry;
use crate::core::runtime::current_pid;

use super::options;

/// A connection to one MQTT broker, kept alive in the background across requests.
#[php_class]
#[php(name = "Mqtt\\Client")]
#[php(flags = ClassFlags::Final)]
pub struct Client {
    name: String,
    config: Config,
    connection: Handle,
}

#[php_impl]
impl Client {
    /// Never waits for the network: the connection opens in the background.
    #[php(optional = options)]
    #[php(defaults(name = "\"default\""))]
    pub fn __construct(options: Option<&ZendHashTable>, name: String) -> PhpResult<Self> {
        if name.is_empty() {
            return Err(invalid("argument #2 ($name)", "must not be empty").into());
        }
        let value = options.map_or(Value::Map(Vec::new()), options::from_array);
        let config = Config::from_value(&value).map_err(Error::from)?;
        let connection = Handle::new(registry::connect(&name, config.clone())?);
        Ok(Client {
            name,
            config,
            connection,
        })
    }

    /// Queues the message and returns at once.
    #[php(optional = qos)]
    pub fn publish(
        &mut self,
        topic: &str,
        payload: BinarySlice<u8>,
        qos: Option<i64>,
        retain: Option<bool>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let properties = self.properties("argument #5 ($properties)", properties)?;
        Ok(self
            .connection()?
            .publish(topic, &payload, qos, retain, properties)?)
    }

    /// Returns once the broker acknowledged the message (PUBACK, PUBCOMP; written for QoS 0).
    #[php(optional = qos)]
    pub fn publish_sync(
        &mut self,
        topic: &str,
        payload: BinarySlice<u8>,
        qos: Option<i64>,
        retain: Option<bool>,
        timeout: Option<f64>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let timeout = seconds("argument #5 ($timeout)", timeout, self.config.flush_timeout)?;
        let properties = self.properties("argument #6 ($properties)", properties)?;
        Ok(self
            .connection()?
            .publish_sync(topic, &payload, qos, retain, properties, timeout)?)
    }

    /// True once nothing is queued or in flight; false when the timeout passed first.
    #[php(optional = timeout)]
    pub fn flush(&mut self, timeout: Option<f64>) -> PhpResult<bool> {
        let timeout = seconds("argument #1 ($timeout)", timeout, self.config.flush_timeout)?;
        Ok(self.connection()?.flush(timeout))
    }

    /// State and counters of this connection.
    pub fn status(&mut self) -> PhpResult<ZBox<ZendHashTable>> {
        Ok(status_array(&self.connection()?.status())?)
    }

    /// Flushes (bounded by flush_timeout) and disconnects; the handle is unusable afterwards.
    pub fn close(&mut self) -> PhpResult<()> {
        registry::close(self.connection()?);
        Ok(())
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
    /// MQTT 5 publish properties, validated for this connection.
    fn properties(
        &self,
        argument: &'static str,
        properties: Option<&ZendHashTable>,
    ) -> Result<Option<Properties>, Error> {
        match properties {
            None => Ok(None),
            Some(array) => {
                Properties::for_publish(&options::from_array(array), argument, &self.config)
            }
        }
    }

    /// The connection of this process, for a subscriber.
    pub(crate) fn live_connection(&self) -> Result<Arc<Connection>, Error> {
        if self.connection.0.pid == current_pid() {
            return Ok(Arc::clone(&self.connection.0));
        }
        registry::connect(&self.name, self.config.clone())
    }

    /// The connection, rebuilt in a process forked after this handle was made.
    fn connection(&mut self) -> Result<&Arc<Connection>, Error> {
        if self.connection.0.pid != current_pid() {
            self.connection = Handle::new(registry::connect(&self.name, self.config.clone())?);
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

fn invalid(argument: &'static str, problem: &str) -> Error {
    Error::InvalidArgument {
        argument,
        problem: problem.to_string(),
    }
}

pub(crate) fn seconds(
    argument: &'static str,
    value: Option<f64>,
    default: Duration,
) -> Result<Duration, Error> {
    match value {
        None => Ok(default),
        Some(s) => Duration::try_from_secs_f64(s).map_err(|_| {
            invalid(
                argument,
                &format!("must be a number of seconds >= 0, got {s}"),
            )
        }),
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
    Ok(array)
}
