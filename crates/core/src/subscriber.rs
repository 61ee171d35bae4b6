//! A subscriber: one inbox fed by one or more connections.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::QoS;

use super::config::SubscriberConfig;
use super::connection::Connection;
use super::deadline;
use super::error::{Argument, Error};
use super::inbox::{Delivery, Inbox};
use super::routes::Pattern;
use super::subscriptions::SubscribeOptions;

pub struct Subscriber {
    connections: Vec<Arc<Connection>>,
    inbox: Arc<Inbox>,
}

impl Subscriber {
    pub fn new(connections: Vec<Arc<Connection>>, config: &SubscriberConfig) -> Subscriber {
        Subscriber {
            connections,
            inbox: Inbox::new(config.max_inbox),
        }
    }

    /// Subscribes on every connection and waits, until `timeout`, for the
    /// brokers that are connected to confirm.
    pub fn subscribe(&self, filter: &str, qos: QoS, timeout: Duration) -> Result<(), Error> {
        self.subscribe_with(filter, qos, SubscribeOptions::default(), timeout)
    }

    /// `subscribe` with MQTT 5's subscription options, which every
    /// connection must speak.
    pub fn subscribe_with(
        &self,
        filter: &str,
        qos: QoS,
        options: SubscribeOptions,
        timeout: Duration,
    ) -> Result<(), Error> {
        for connection in &self.connections {
            options.check_for(&connection.config)?;
        }
        let ids = self
            .connections
            .iter()
            .map(|connection| connection.subscribe_with(&self.inbox, filter, qos, options))
            .collect::<Result<Vec<u64>, Error>>()?;
        let deadline = deadline::after(timeout);
        for (connection, id) in self.connections.iter().zip(ids) {
            connection.await_subscription(id, filter, deadline)?;
        }
        Ok(())
    }

    /// Adds a route (`metrics/{tenant}/{metric}`); returns its number, which
    /// each matching delivery names, and the filter to subscribe.
    pub fn add_route(&self, pattern: &str) -> Result<(usize, String), Error> {
        let pattern = Pattern::parse(pattern)
            .map_err(|e| Error::invalid(Argument::Pattern, e.to_string()))?;
        let filter = pattern.filter();
        Ok((self.inbox.routes.write().add(pattern), filter))
    }

    pub fn unsubscribe(&self, filter: &str) -> Result<(), Error> {
        self.connections
            .iter()
            .try_for_each(|connection| connection.unsubscribe(&self.inbox, filter))
    }

    /// The next received message, or `None` after `timeout`.
    pub fn receive(&self, timeout: Duration) -> Option<Delivery> {
        let delivery = self.inbox.receive(timeout);
        if delivery.is_none() {
            for connection in &self.connections {
                connection.release_stale_unrouted();
            }
        }
        delivery
    }

    /// Stops receiving: messages still in the inbox stay unacknowledged, so
    /// the broker delivers them again. The subscriptions go, except that a
    /// persistent session keeps them on the broker when `keep_session`.
    pub fn close(&self, keep_session: bool) {
        for connection in &self.connections {
            connection.forget_inbox(&self.inbox, keep_session);
        }
    }

    pub fn connections(&self) -> &[Arc<Connection>] {
        &self.connections
    }

    /// The longest a subscribe waits by default: the longest flush_timeout.
    pub fn default_timeout(&self) -> Duration {
        self.connections
            .iter()
            .map(|c| c.config.flush_timeout)
            .max()
            .unwrap_or_default()
    }
}
