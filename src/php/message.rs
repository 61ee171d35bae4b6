//! `Mqtt\Message`: one received message, read-only.

use std::sync::Arc;

use bytes::Bytes;
use ext_php_rs::binary::Binary;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::types::ZendHashTable;

use ext_php_rs::binary_slice::BinarySlice;

use mqtt_broadcast_core::error::{ConnectionError, Error};
use mqtt_broadcast_core::inbox::Delivery;
use mqtt_broadcast_core::properties::Properties;
use mqtt_broadcast_core::registry;

use super::arguments;
use super::exceptions::{OrThrow, Signature, REPLY};

/// A message received by a Subscriber.
#[php_class]
#[php(name = "Mqtt\\Message")]
#[php(flags = ClassFlags::Final)]
pub struct Message {
    topic: String,
    payload: Bytes,
    broker: Arc<str>,
    qos: u8,
    retain: bool,
    duplicate: bool,
    received_at: f64,
    properties: Option<Arc<Properties>>,
}

impl From<Delivery> for Message {
    fn from(delivery: Delivery) -> Self {
        Message {
            topic: delivery.topic,
            payload: delivery.payload,
            broker: delivery.broker,
            qos: delivery.qos as u8,
            retain: delivery.retain,
            duplicate: delivery.duplicate,
            received_at: delivery.received_at,
            properties: delivery.properties,
        }
    }
}

#[php_impl]
impl Message {
    /// The topic, without the connection's prefix.
    #[php(getter)]
    pub fn get_topic(&self) -> String {
        self.topic.clone()
    }

    /// The payload, byte for byte.
    #[php(getter)]
    pub fn get_payload(&self) -> Binary<u8> {
        Binary::from(self.payload.to_vec())
    }

    /// The name of the connection it came through.
    #[php(getter)]
    pub fn get_broker(&self) -> String {
        self.broker.to_string()
    }

    /// The QoS it was delivered with: 0, 1 or 2.
    #[php(getter)]
    pub fn get_qos(&self) -> i64 {
        i64::from(self.qos)
    }

    /// Whether it is a retained message.
    #[php(getter)]
    pub fn get_retain(&self) -> bool {
        self.retain
    }

    /// Whether the broker says it may have been delivered before.
    #[php(getter)]
    pub fn get_duplicate(&self) -> bool {
        self.duplicate
    }

    /// When it arrived, in seconds since the Unix epoch.
    #[php(getter)]
    pub fn get_received_at(&self) -> f64 {
        self.received_at
    }

    /// Answers a request (MQTT 5): publishes on its response topic, with its correlation data, through the connection it came from.
    #[php(optional = properties)]
    pub fn reply(
        &self,
        payload: BinarySlice<u8>,
        properties: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let call = &REPLY;
        let connection = registry::connections()
            .into_iter()
            .find(|c| *c.name == *self.broker)
            .ok_or_else(|| {
                call.error(Error::from(ConnectionError::Closed {
                    connection: self.broker.to_string(),
                }))
            })?;
        let properties =
            properties_argument(call, properties, &connection.config.prefix, &payload)?;
        connection
            .reply(
                &self.topic,
                self.properties.as_deref(),
                &payload,
                properties,
            )
            .or_throw(call)
    }

    /// MQTT 5 properties it carried (user_properties, content_type,
    /// message_expiry_interval, response_topic, correlation_data,
    /// payload_format_indicator); empty otherwise.
    #[php(getter)]
    pub fn get_properties(&self) -> PhpResult<ZBox<ZendHashTable>> {
        let mut array = ZendHashTable::new();
        let Some(properties) = &self.properties else {
            return Ok(array);
        };
        if !properties.user_properties.is_empty() {
            array.insert(
                "user_properties",
                user_properties(&properties.user_properties)?,
            )?;
        }
        if let Some(content_type) = &properties.content_type {
            array.insert("content_type", content_type.as_str())?;
        }
        if let Some(seconds) = properties.message_expiry_interval {
            array.insert("message_expiry_interval", i64::from(seconds))?;
        }
        if let Some(topic) = &properties.response_topic {
            array.insert("response_topic", topic.as_str())?;
        }
        if let Some(data) = &properties.correlation_data {
            array.insert("correlation_data", Binary::from(data.to_vec()))?;
        }
        if let Some(indicator) = properties.payload_format_indicator {
            array.insert("payload_format_indicator", i64::from(indicator))?;
        }
        Ok(array)
    }
}

/// `name => value`; a name that came more than once maps to the list of
/// its values, in order.
fn user_properties(pairs: &[(String, String)]) -> PhpResult<ZBox<ZendHashTable>> {
    let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
    for (name, value) in pairs {
        match grouped.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value),
            None => grouped.push((name, vec![value])),
        }
    }
    let mut array = ZendHashTable::new();
    for (name, values) in grouped {
        match values.as_slice() {
            [one] => array.insert(name, *one)?,
            many => {
                let mut list = ZendHashTable::new();
                for value in many {
                    list.push(*value)?;
                }
                array.insert(name, list)?;
            }
        }
    }
    Ok(array)
}

/// The `properties` argument of request() and reply(), validated.
pub(crate) fn properties_argument(
    call: &Signature,
    properties: Option<&ZendHashTable>,
    prefix: &str,
    payload: &[u8],
) -> PhpResult<Option<Properties>> {
    let Some(array) = properties else {
        return Ok(None);
    };
    let value = arguments::array(call, "properties", array)?;
    let properties = Properties::from_value(&value, prefix).or_throw(call)?;
    if let Some(properties) = &properties {
        properties.check_payload(payload).or_throw(call)?;
    }
    Ok(properties)
}
