//! `Mqtt\Event`: something that happened to a connection, read-only.

use std::sync::Arc;

use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;

use mqtt_broadcast_core::events::ConnectionEvent;

/// Something that happened to a connection: connecting, connected, disconnected, reconnecting, failed, closed, subscribed, subscription_refused, unsubscribed.
#[php_class]
#[php(name = "Mqtt\\Event")]
#[php(flags = ClassFlags::Final)]
pub struct Event(Arc<ConnectionEvent>);

impl From<Arc<ConnectionEvent>> for Event {
    fn from(event: Arc<ConnectionEvent>) -> Self {
        Event(event)
    }
}

#[php_impl]
impl Event {
    /// connecting, connected, disconnected, reconnecting, failed, closed, subscribed, subscription_refused or unsubscribed.
    #[php(getter)]
    pub fn get_type(&self) -> String {
        self.0.kind.as_str().to_owned()
    }

    /// The name of the connection it happened to.
    #[php(getter)]
    pub fn get_broker(&self) -> String {
        self.0.broker.to_string()
    }

    /// When, in seconds since the Unix epoch.
    #[php(getter)]
    pub fn get_at(&self) -> f64 {
        self.0.at
    }

    /// Why: the error that ended a connection, the broker's refusal; null otherwise.
    #[php(getter)]
    pub fn get_reason(&self) -> Option<String> {
        self.0.reason.clone()
    }

    /// The connection attempt, from 1 at the start and after a connection that lasted; 0 where it does not apply.
    #[php(getter)]
    pub fn get_attempt(&self) -> i64 {
        i64::from(self.0.attempt)
    }

    /// On connected: whether the broker kept the session.
    #[php(getter)]
    pub fn get_session_present(&self) -> bool {
        self.0.session_present
    }

    /// On subscribed, subscription_refused and unsubscribed: the filter, without the connection's prefix.
    #[php(getter)]
    pub fn get_filter(&self) -> Option<String> {
        self.0.filter.clone()
    }
}
