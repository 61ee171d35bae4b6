//! What happened to a connection, kept for PHP to read on its own thread:
//! the connection's task only appends to a small log, and each reader keeps
//! its place in it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Events a connection keeps: far more than happen between two calls of a
/// reader, far fewer than would cost memory. Older ones make room.
const CAPACITY: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Connecting,
    Connected,
    Disconnected,
    Reconnecting,
    Failed,
    Closed,
    Subscribed,
    SubscriptionRefused,
    Unsubscribed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Connecting => "connecting",
            EventKind::Connected => "connected",
            EventKind::Disconnected => "disconnected",
            EventKind::Reconnecting => "reconnecting",
            EventKind::Failed => "failed",
            EventKind::Closed => "closed",
            EventKind::Subscribed => "subscribed",
            EventKind::SubscriptionRefused => "subscription_refused",
            EventKind::Unsubscribed => "unsubscribed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionEvent {
    pub kind: EventKind,
    /// The connection's name.
    pub broker: Arc<str>,
    /// Seconds since the Unix epoch.
    pub at: f64,
    /// Why: the error that ended a connection, a broker's refusal.
    pub reason: Option<String>,
    /// The connection attempt it belongs to, from 1; reset by a connection
    /// that lasted.
    pub attempt: u32,
    pub session_present: bool,
    /// The filter of a subscription event, without the connection's prefix.
    pub filter: Option<String>,
    /// On reconnecting and failed: the CONNACK's return code (MQTT 3.1.1)
    /// or reason code (MQTT 5) when the broker refused the connection.
    pub code: Option<u8>,
}

impl ConnectionEvent {
    pub fn new(kind: EventKind, broker: &Arc<str>, attempt: u32) -> Self {
        ConnectionEvent {
            kind,
            broker: broker.clone(),
            at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            reason: None,
            attempt,
            session_present: false,
            filter: None,
            code: None,
        }
    }
}

/// The latest events of one connection, numbered from 1.
#[derive(Debug, Default)]
pub struct EventLog {
    /// The number the next event gets, less one.
    last: u64,
    events: VecDeque<Arc<ConnectionEvent>>,
}

impl EventLog {
    pub fn push(&mut self, event: ConnectionEvent) {
        if self.events.len() == CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(Arc::new(event));
        self.last += 1;
    }

    /// The number of the latest event; 0 before the first.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The events after number `seen` that are still kept, oldest first.
    pub fn since(&self, seen: u64) -> Vec<Arc<ConnectionEvent>> {
        let newer = self.last.saturating_sub(seen) as usize;
        let skip = self.events.len().saturating_sub(newer);
        self.events.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(kinds: &[EventKind]) -> EventLog {
        let broker: Arc<str> = Arc::from("default");
        let mut log = EventLog::default();
        for kind in kinds {
            log.push(ConnectionEvent::new(*kind, &broker, 1));
        }
        log
    }

    fn kinds(events: &[Arc<ConnectionEvent>]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn a_reader_gets_what_happened_since_its_last_read_in_order() {
        use EventKind::*;
        let mut log = log(&[Connecting, Connected]);
        assert_eq!(kinds(&log.since(0)), [Connecting, Connected]);
        let seen = log.last();
        log.push(ConnectionEvent::new(Disconnected, &Arc::from("default"), 1));
        assert_eq!(kinds(&log.since(seen)), [Disconnected]);
        assert!(log.since(log.last()).is_empty());
    }

    #[test]
    fn the_oldest_events_make_room_for_new_ones() {
        let many = vec![EventKind::Reconnecting; CAPACITY + 10];
        let log = log(&many);
        assert_eq!(log.since(0).len(), CAPACITY);
        assert_eq!(log.last(), (CAPACITY + 10) as u64);
        assert_eq!(log.since(log.last() - 3).len(), 3);
    }
}
