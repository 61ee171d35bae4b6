//! Request/response over MQTT 5: a publish that carries a response topic
//! and correlation data, and the reply that comes back with them.
//!
//! Each connection has one response topic, `mqttb/replies/{client id}`,
//! subscribed once by its first request and restored with the other
//! subscriptions after a reconnect. The correlation data, a token drawn when
//! the connection opened and a counter, tells its replies apart, also from
//! the replies an earlier process with the same client id left behind. A
//! reply to a request nobody waits for any more (it timed out) is dropped
//! and acknowledged as soon as a request of the connection sees it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rumqttc::QoS;

use super::config::Protocol;
use super::connection::Connection;
use super::error::{Argument, Error, Timeout, Unsupported};
use super::inbox::{Delivery, Inbox};
use super::properties::Properties;

/// Replies waiting for PHP: few at a time, one request waits per thread.
const INBOX_CAPACITY: usize = 64;

/// The replies of one connection.
#[derive(Debug)]
pub struct Replies {
    /// The response topic, without the connection's prefix.
    topic: String,
    token: String,
    next: AtomicU64,
    inbox: Arc<Inbox>,
    /// The reply subscription, once made.
    subscription: Mutex<Option<u64>>,
    /// Correlation data of the requests being waited for.
    outstanding: Mutex<HashSet<Bytes>>,
    /// Replies one waiting request received for another.
    stash: Mutex<Vec<Delivery>>,
}

impl Replies {
    pub fn new(client_id: &str) -> Replies {
        let token = format!("{:016x}", fastrand::u64(..));
        // A client id is any string; a topic level must not hold wildcards.
        let level: String = client_id
            .chars()
            .map(|c| match c {
                '+' | '#' | '\0' => '_',
                c => c,
            })
            .collect();
        let level = if level.is_empty() { &token } else { &level };
        Replies {
            topic: format!("mqttb/replies/{level}"),
            token,
            next: AtomicU64::new(1),
            inbox: Inbox::new(INBOX_CAPACITY),
            subscription: Mutex::new(None),
            outstanding: Mutex::new(HashSet::new()),
            stash: Mutex::new(Vec::new()),
        }
    }

    /// The response topic, without the connection's prefix.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    fn correlation(&self) -> Bytes {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Bytes::from(format!("{}-{n}", self.token))
    }
}

/// A request sent and not yet answered; dropping it gives up waiting.
pub struct Request {
    replies: Arc<Replies>,
    correlation: Bytes,
    /// The request's topic, as the application named it.
    pub topic: String,
}

impl Request {
    pub fn correlation_data(&self) -> &Bytes {
        &self.correlation
    }

    /// The reply, if it arrives within `step`; its acknowledgement is sent.
    pub fn receive(&self, step: Duration) -> Option<Delivery> {
        if let Some(reply) = self.take_stashed() {
            return Some(reply);
        }
        let deadline = Instant::now() + step;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(mut delivery) = self.replies.inbox.receive(left) else {
                return self.take_stashed();
            };
            let correlation = delivery
                .properties
                .as_ref()
                .and_then(|p| p.correlation_data.clone());
            match correlation {
                Some(c) if c == self.correlation => {
                    delivery.take_acknowledgement().send();
                    return Some(delivery);
                }
                Some(c) if self.replies.outstanding.lock().contains(&c) => {
                    delivery.take_acknowledgement().send();
                    self.replies.stash.lock().push(delivery);
                }
                // Late, or not ours: nobody waits for it.
                _ => delivery.take_acknowledgement().send(),
            }
            if left.is_zero() {
                return self.take_stashed();
            }
        }
    }

    fn take_stashed(&self) -> Option<Delivery> {
        let mut stash = self.replies.stash.lock();
        let position = stash.iter().position(|d| {
            d.properties
                .as_ref()
                .and_then(|p| p.correlation_data.as_ref())
                == Some(&self.correlation)
        })?;
        Some(stash.swap_remove(position))
    }

    /// The error of a request whose reply did not come in time.
    pub fn timed_out(&self, connection: &Connection, waited: Duration) -> Error {
        Timeout::Request {
            connection: connection.name.clone(),
            topic: self.topic.clone(),
            waited,
            state: connection.describe_state(),
        }
        .into()
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.replies.outstanding.lock().remove(&self.correlation);
        self.replies.stash.lock().retain(|d| {
            d.properties
                .as_ref()
                .and_then(|p| p.correlation_data.as_ref())
                != Some(&self.correlation)
        });
    }
}

impl Connection {
    /// Publishes a request (`topic` without the prefix) with the
    /// connection's response topic and fresh correlation data, after making
    /// sure the reply subscription stands; `deadline` bounds that wait.
    pub fn request(
        &self,
        topic: &str,
        payload: &[u8],
        properties: Option<Properties>,
        deadline: Instant,
    ) -> Result<Request, Error> {
        self.require_mqtt5("Mqtt\\Client::request()")?;
        let mut properties = properties.unwrap_or_default();
        refuse_reply_entries(&properties, "is set by request() itself")?;
        let replies = self.replies().clone();
        self.subscribe_replies(&replies, topic, deadline)?;
        replies.discard_unclaimed();
        let correlation = replies.correlation();
        properties.response_topic = Some(format!("{}{}", self.config.prefix, replies.topic));
        properties.correlation_data = Some(correlation.clone());
        replies.outstanding.lock().insert(correlation.clone());
        let request = Request {
            replies,
            correlation,
            topic: topic.to_owned(),
        };
        self.publish(topic, payload, self.default_qos(), false, Some(properties))?;
        Ok(request)
    }

    /// Publishes a reply to a received request, the message on
    /// `request_topic` that carried `asked`: on its response topic (without
    /// the prefix), with its correlation data.
    pub fn reply(
        &self,
        request_topic: &str,
        asked: Option<&Properties>,
        payload: &[u8],
        properties: Option<Properties>,
    ) -> Result<(), Error> {
        self.require_mqtt5("Mqtt\\Message::reply()")?;
        let Some(topic) = asked.and_then(|p| p.response_topic.as_deref()) else {
            return Err(Unsupported::NotARequest {
                topic: request_topic.to_owned(),
            }
            .into());
        };
        let mut properties = properties.unwrap_or_default();
        refuse_reply_entries(&properties, "is the request's: reply() sets it")?;
        properties.correlation_data = asked.and_then(|p| p.correlation_data.clone());
        let properties = (properties != Properties::default()).then_some(properties);
        self.publish(topic, payload, self.default_qos(), false, properties)
    }

    fn require_mqtt5(&self, call: &'static str) -> Result<(), Error> {
        if self.config.protocol == Protocol::V5 {
            return Ok(());
        }
        Err(Unsupported::NeedsMqtt5 {
            call,
            connection: self.name.clone(),
            version: self.config.protocol.as_str(),
        }
        .into())
    }

    /// The `qos` option; validated to be 0..=2.
    fn default_qos(&self) -> QoS {
        rumqttc::qos(self.config.qos).unwrap_or(QoS::AtMostOnce)
    }

    fn replies(&self) -> &Arc<Replies> {
        self.replies
            .get_or_init(|| Arc::new(Replies::new(&self.client_id)))
    }

    /// Subscribes the response topic once; waits until the broker confirmed
    /// it, so that no reply comes before the subscription.
    fn subscribe_replies(
        &self,
        replies: &Replies,
        topic: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let mut subscription = replies.subscription.lock();
        let id = match *subscription {
            Some(id) => id,
            None => {
                let id = self.subscribe(&replies.inbox, &replies.topic, QoS::AtLeastOnce)?;
                *subscription = Some(id);
                id
            }
        };
        match self.await_subscription(id, &replies.topic, deadline) {
            Ok(()) => Ok(()),
            Err(Error::Timeout(Timeout::Subscribe { .. })) => Err(Timeout::Request {
                connection: self.name.clone(),
                topic: topic.to_owned(),
                waited: Duration::ZERO,
                state: format!(
                    "the broker did not confirm the subscription to the response topic \"{}\"",
                    replies.topic
                ),
            }
            .into()),
            Err(refused) => {
                *subscription = None;
                Err(refused)
            }
        }
    }
}

impl Replies {
    /// Acknowledges and drops the replies nobody waits for any more.
    fn discard_unclaimed(&self) {
        while let Some(mut delivery) = self.inbox.receive(Duration::ZERO) {
            delivery.take_acknowledgement().send();
            let correlation = delivery
                .properties
                .as_ref()
                .and_then(|p| p.correlation_data.clone());
            if correlation.is_some_and(|c| self.outstanding.lock().contains(&c)) {
                self.stash.lock().push(delivery);
            }
        }
    }
}

/// The response topic and correlation data tie a reply to its request:
/// request() and reply() set them, so the caller's `properties` may not.
fn refuse_reply_entries(properties: &Properties, why: &str) -> Result<(), Error> {
    for (set, key) in [
        (properties.response_topic.is_some(), "response_topic"),
        (properties.correlation_data.is_some(), "correlation_data"),
    ] {
        if set {
            return Err(Error::invalid(
                Argument::Properties,
                format!("entry \"{key}\" {why}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_response_topic_is_the_client_id_without_wildcards() {
        assert_eq!(Replies::new("worker-1").topic(), "mqttb/replies/worker-1");
        assert_eq!(Replies::new("a+b#c").topic(), "mqttb/replies/a_b_c");
    }

    #[test]
    fn a_broker_assigned_client_id_gets_a_random_response_topic() {
        let replies = Replies::new("");
        assert_eq!(replies.topic().len(), "mqttb/replies/".len() + 16);
    }

    #[test]
    fn correlation_data_differs_per_request_and_per_connection() {
        let one = Replies::new("same");
        let other = Replies::new("same");
        let first = one.correlation();
        assert_ne!(first, one.correlation());
        assert_ne!(first, other.correlation());
    }
}
