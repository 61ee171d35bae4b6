//! `Mqtt\Message`: one received message, read-only.

use std::sync::Arc;

use bytes::Bytes;
use ext_php_rs::binary::Binary;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use crate::core::inbox::Delivery;

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
}
