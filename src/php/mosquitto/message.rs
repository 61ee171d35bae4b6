//! `Mosquitto\Message`: a received message as Mosquitto-PHP shows it, a plain
//! object of public properties, and its two topic helpers.

use ext_php_rs::binary::Binary;
use ext_php_rs::prelude::*;

use mqtt_broadcast_core::inbox::Delivery;
use mqtt_broadcast_core::topic::{matches, validate_filter, validate_topic};

/// A message received by a Mosquitto\Client, handed to its onMessage callback.
#[php_class]
#[php(name = "Mosquitto\\Message")]
pub struct MosquittoMessage {
    /// The packet id it came with; 0 for QoS 0.
    #[php(prop)]
    pub mid: i64,
    #[php(prop)]
    pub topic: Option<String>,
    payload: Vec<u8>,
    #[php(prop)]
    pub qos: i64,
    #[php(prop)]
    pub retain: bool,
}

impl From<&Delivery> for MosquittoMessage {
    fn from(delivery: &Delivery) -> Self {
        MosquittoMessage {
            mid: i64::from(delivery.packet_id()),
            topic: Some(delivery.topic.clone()),
            payload: delivery.payload.to_vec(),
            qos: delivery.qos as i64,
            retain: delivery.retain,
        }
    }
}

#[php_impl]
impl MosquittoMessage {
    pub fn __construct() -> Self {
        MosquittoMessage {
            mid: 0,
            topic: None,
            payload: Vec::new(),
            qos: 0,
            retain: false,
        }
    }

    /// The payload, byte for byte.
    #[php(getter)]
    pub fn get_payload(&self) -> Binary<u8> {
        Binary::from(self.payload.clone())
    }

    #[php(setter)]
    pub fn set_payload(&mut self, payload: Binary<u8>) {
        self.payload = payload.into();
    }

    /// Whether `topic` matches the subscription filter `subscription`, as a
    /// broker decides it; false for an invalid topic or filter.
    pub fn topic_matches_sub(topic: Option<String>, subscription: Option<String>) -> bool {
        let (Some(topic), Some(subscription)) = (topic, subscription) else {
            return false;
        };
        validate_topic(&topic).is_ok()
            && validate_filter(&subscription).is_ok()
            && matches(&subscription, &topic)
    }

    /// The levels of a topic or filter; an empty level is null.
    pub fn tokenise_topic(topic: Option<String>) -> Vec<Option<String>> {
        topic
            .unwrap_or_default()
            .split('/')
            .map(|level| (!level.is_empty()).then(|| level.to_owned()))
            .collect()
    }
}
