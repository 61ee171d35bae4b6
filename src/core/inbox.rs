//! Where received messages wait for PHP: one bounded inbox per subscriber,
//! fed by the event loops of its connections.
//!
//! When PHP is slower than the broker the inbox fills up and a connection
//! waits for room before it reads on: TCP and the broker hold the rest, and
//! nothing is dropped here.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use rumqttc::QoS;
use tokio::sync::Notify;

use super::connection::Connection;

/// One received message on its way to PHP.
#[derive(Debug)]
pub struct Delivery {
    /// Without the connection's prefix.
    pub topic: String,
    pub payload: Bytes,
    /// The name of the connection it came through.
    pub broker: Arc<str>,
    pub qos: QoS,
    pub retain: bool,
    pub duplicate: bool,
    /// Seconds since the Unix epoch.
    pub received_at: f64,
    pub(crate) ack: Option<Arc<PendingAck>>,
}

impl Delivery {
    /// Separates what the message owes the broker from its content.
    pub fn take_acknowledgement(&mut self) -> Acknowledgement {
        Acknowledgement(self.ack.take())
    }
}

/// What a received QoS 1/2 message owes the broker. Sent once every
/// subscriber it went to handled it; never sent when dropped unsent, so the
/// broker delivers the message again.
#[derive(Debug, Default)]
pub struct Acknowledgement(Option<Arc<PendingAck>>);

impl Acknowledgement {
    /// The message was handled: the broker gets its PUBACK (QoS 1) or PUBREC (QoS 2).
    pub fn send(mut self) {
        if let Some(ack) = self.0.take() {
            ack.release();
        }
    }
}

/// The acknowledgement a QoS 1/2 message owes the broker, shared by the
/// copies delivered to several subscribers.
#[derive(Debug)]
pub struct PendingAck {
    pub(crate) connection: Weak<Connection>,
    /// Which connection of that name received it: an acknowledgement for a
    /// connection that has since been replaced by a reconnect must not be
    /// sent, the broker re-sends the message instead.
    pub(crate) session: u64,
    pub(crate) pkid: u16,
    pub(crate) qos: QoS,
    pub(crate) holders: AtomicUsize,
}

impl PendingAck {
    fn release(&self) {
        if self.holders.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(connection) = self.connection.upgrade() {
                connection.acknowledge(self.session, self.pkid, self.qos);
            }
        }
    }
}

static NEXT_INBOX: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
pub struct Inbox {
    pub id: u64,
    sender: Sender<Delivery>,
    receiver: Receiver<Delivery>,
    room: Notify,
}

impl Inbox {
    pub fn new(capacity: usize) -> Arc<Inbox> {
        let (sender, receiver) = bounded(capacity);
        Arc::new(Inbox {
            id: NEXT_INBOX.fetch_add(1, Ordering::Relaxed),
            sender,
            receiver,
            room: Notify::new(),
        })
    }

    /// Waits for room when the inbox is full: back-pressure, not loss.
    pub async fn deliver(&self, mut delivery: Delivery) {
        loop {
            match self.sender.try_send(delivery) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => {
                    delivery = back;
                    // A receive between the failed send and this wait leaves
                    // a permit behind, so no wake-up is lost.
                    self.room.notified().await;
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }

    /// Delivers only if there is room; false leaves the delivery undelivered.
    pub fn try_deliver(&self, delivery: Delivery) -> bool {
        self.sender.try_send(delivery).is_ok()
    }

    pub fn receive(&self, timeout: Duration) -> Option<Delivery> {
        match self.receiver.recv_timeout(timeout) {
            Ok(delivery) => {
                self.room.notify_one();
                Some(delivery)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(topic: &str) -> Delivery {
        Delivery {
            topic: topic.into(),
            payload: Bytes::from_static(b"x"),
            broker: Arc::from("default"),
            qos: QoS::AtMostOnce,
            retain: false,
            duplicate: false,
            received_at: 0.0,
            ack: None,
        }
    }

    #[tokio::test]
    async fn full_inbox_makes_the_sender_wait_until_php_takes_a_message() {
        let inbox = Inbox::new(1);
        inbox.deliver(delivery("a")).await;
        let waiting = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.deliver(delivery("b")).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        assert_eq!(inbox.len(), 1);

        let reader = {
            let inbox = inbox.clone();
            std::thread::spawn(move || inbox.receive(Duration::from_secs(1)).map(|d| d.topic))
        };
        assert_eq!(reader.join().unwrap().as_deref(), Some("a"));
        waiting.await.unwrap();
        assert_eq!(inbox.receive(Duration::ZERO).map(|d| d.topic).as_deref(), Some("b"));
    }

    #[test]
    fn receive_returns_none_after_the_timeout() {
        let inbox = Inbox::new(4);
        assert!(inbox.receive(Duration::from_millis(10)).is_none());
    }

    #[test]
    fn acknowledgement_is_owed_until_every_holder_released_it() {
        let ack = Arc::new(PendingAck {
            connection: Weak::new(),
            session: 1,
            pkid: 7,
            qos: QoS::AtLeastOnce,
            holders: AtomicUsize::new(2),
        });
        let mut first = Delivery { ack: Some(ack.clone()), ..delivery("a") };
        let mut second = Delivery { ack: Some(ack.clone()), ..delivery("a") };
        first.take_acknowledgement().send();
        assert_eq!(ack.holders.load(Ordering::Acquire), 1);
        first.take_acknowledgement().send();
        assert_eq!(ack.holders.load(Ordering::Acquire), 1, "one copy is acknowledged once");
        drop(second.take_acknowledgement());
        assert_eq!(ack.holders.load(Ordering::Acquire), 1, "dropped unsent, nothing is acknowledged");
    }
}
