//! Where received messages wait for PHP: one inbox per subscriber, fed by
//! the event loops of its connections.
//!
//! When PHP is slower than the broker, messages wait in an overflow while
//! the connection goes on reading: its control packets (SUBACK, PUBREL,
//! PINGRESP) come on the same socket, and a subscribe waiting behind a full
//! inbox would wait for good. QoS 1/2 messages always go into the overflow:
//! until PHP handled them they stay unacknowledged, so the broker sends no
//! more than its in-flight window (and, when a persistent session resumes,
//! what it kept for us). QoS 0 has no such bound: when the overflow is full
//! of it, the connection waits before it reads on, and TCP and the broker
//! hold the rest. Nothing is dropped here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use parking_lot::{Mutex, RwLock};
use rumqttc::QoS;
use tokio::sync::Notify;

use super::properties::Properties;
use super::routes::{Matched, Routes};

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
    /// MQTT 5 only; the response topic without the connection's prefix.
    pub properties: Option<Arc<Properties>>,
    /// The subscriber's routes it matched, with their named levels.
    pub routes: Vec<Matched>,
    pub(crate) ack: Option<Arc<PendingAck>>,
}

impl Delivery {
    /// The packet id it came with; 0 for QoS 0.
    pub fn packet_id(&self) -> u16 {
        self.ack.as_ref().map_or(0, |ack| ack.pkid)
    }

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

/// Whoever received the message and sends its acknowledgement: the connection.
pub trait Acknowledger: Send + Sync {
    /// Sends PUBACK (QoS 1) or PUBREC (QoS 2), if still due on `session`.
    fn acknowledge(&self, session: u64, pkid: u16, qos: QoS);
}

/// The acknowledgement a QoS 1/2 message owes the broker, shared by the
/// copies delivered to several subscribers.
pub struct PendingAck {
    pub(crate) connection: Weak<dyn Acknowledger>,
    /// Which connection of that name received it: an acknowledgement for a
    /// connection that has since been replaced by a reconnect must not be
    /// sent, the broker re-sends the message instead.
    pub(crate) session: u64,
    pub(crate) pkid: u16,
    pub(crate) qos: QoS,
    pub(crate) holders: AtomicUsize,
}

impl std::fmt::Debug for PendingAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAck")
            .field("session", &self.session)
            .field("pkid", &self.pkid)
            .field("qos", &self.qos)
            .finish()
    }
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

/// The overflow holds at least this many, so that a small inbox does not
/// stop a connection's keep-alives while PHP works on a slow message.
const MIN_OVERFLOW: usize = 1024;

#[derive(Debug)]
pub struct Inbox {
    pub id: u64,
    overflow_capacity: usize,
    sender: Sender<Delivery>,
    receiver: Receiver<Delivery>,
    /// Older than anything that may enter the channel: while it holds
    /// anything, new deliveries queue behind it.
    overflow: Mutex<VecDeque<Delivery>>,
    /// Matched on the connection's thread, as each message arrives.
    pub routes: RwLock<Routes>,
    room: Notify,
}

impl Inbox {
    pub fn new(capacity: usize) -> Arc<Inbox> {
        let (sender, receiver) = bounded(capacity);
        Arc::new(Inbox {
            id: NEXT_INBOX.fetch_add(1, Ordering::Relaxed),
            overflow_capacity: capacity.max(MIN_OVERFLOW),
            sender,
            receiver,
            overflow: Mutex::new(VecDeque::new()),
            routes: RwLock::new(Routes::default()),
            room: Notify::new(),
        })
    }

    /// Waits only for a QoS 0 message that finds the inbox and its overflow
    /// full: back-pressure, not loss.
    pub async fn deliver(&self, mut delivery: Delivery) {
        {
            let routes = self.routes.read();
            if !routes.is_empty() {
                delivery.routes = routes.matching(&delivery.topic);
            }
        }
        loop {
            match self.try_deliver(delivery) {
                Ok(()) => return,
                // A receive between the failed attempt and this wait leaves a
                // permit behind, so no wake-up is lost.
                Err(back) => delivery = back,
            }
            self.room.notified().await;
        }
    }

    /// Delivers, in order, unless a QoS 0 message finds the inbox and its
    /// overflow full: it is given back then.
    pub fn try_deliver(&self, delivery: Delivery) -> Result<(), Delivery> {
        let mut overflow = self.overflow.lock();
        let delivery = if overflow.is_empty() {
            match self.sender.try_send(delivery) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return Ok(()),
                Err(TrySendError::Full(back)) => back,
            }
        } else {
            delivery
        };
        if delivery.qos != QoS::AtMostOnce || overflow.len() < self.overflow_capacity {
            overflow.push_back(delivery);
            return Ok(());
        }
        Err(delivery)
    }

    pub fn receive(&self, timeout: Duration) -> Option<Delivery> {
        match self.receiver.recv_timeout(timeout) {
            Ok(delivery) => {
                self.refill();
                self.room.notify_one();
                Some(delivery)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Moves the overflow into the room a receive made.
    fn refill(&self) {
        let mut overflow = self.overflow.lock();
        while let Some(delivery) = overflow.pop_front() {
            if let Err(TrySendError::Full(back)) = self.sender.try_send(delivery) {
                overflow.push_front(back);
                return;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.receiver.len() + self.overflow.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            properties: None,
            routes: Vec::new(),
            ack: None,
        }
    }

    #[tokio::test]
    async fn qos_1_never_makes_the_connection_wait_and_keeps_the_order() {
        let inbox = Inbox::new(1);
        for i in 0..3 * MIN_OVERFLOW {
            let qos1 = Delivery {
                qos: QoS::AtLeastOnce,
                ..delivery(&i.to_string())
            };
            assert!(inbox.try_deliver(qos1).is_ok());
        }
        assert_eq!(inbox.len(), 3 * MIN_OVERFLOW, "QoS 1 waits, however many");
        let topics: Vec<String> = std::iter::from_fn(|| inbox.receive(Duration::ZERO))
            .map(|d| d.topic)
            .collect();
        let expected: Vec<String> = (0..3 * MIN_OVERFLOW).map(|i| i.to_string()).collect();
        assert_eq!(topics, expected);
    }

    #[tokio::test]
    async fn qos_0_beyond_the_overflow_makes_the_connection_wait_until_php_takes_one() {
        let inbox = Inbox::new(1);
        inbox.deliver(delivery("a")).await;
        for _ in 0..MIN_OVERFLOW {
            inbox.deliver(delivery("b")).await; // into the overflow, without waiting
        }
        let waiting = {
            let inbox = inbox.clone();
            tokio::spawn(async move { inbox.deliver(delivery("c")).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let qos1 = Delivery {
            qos: QoS::AtLeastOnce,
            ..delivery("qos 1")
        };
        assert!(inbox.try_deliver(qos1).is_ok(), "QoS 1 does not wait");

        // Two receives: the QoS 1 message took the room the first one made.
        let reader = {
            let inbox = inbox.clone();
            std::thread::spawn(move || {
                let mut topics = Vec::new();
                for _ in 0..2 {
                    topics.extend(inbox.receive(Duration::from_secs(1)).map(|d| d.topic));
                }
                topics
            })
        };
        assert_eq!(reader.join().unwrap(), ["a", "b"]);
        waiting.await.unwrap();
        assert_eq!(inbox.len(), MIN_OVERFLOW + 1, "nothing dropped");
    }

    #[test]
    fn receive_returns_none_after_the_timeout() {
        let inbox = Inbox::new(4);
        assert!(inbox.receive(Duration::from_millis(10)).is_none());
    }

    struct Nobody;

    impl Acknowledger for Nobody {
        fn acknowledge(&self, _: u64, _: u16, _: QoS) {}
    }

    #[test]
    fn acknowledgement_is_owed_until_every_holder_released_it() {
        let ack = Arc::new(PendingAck {
            connection: Weak::<Nobody>::new(),
            session: 1,
            pkid: 7,
            qos: QoS::AtLeastOnce,
            holders: AtomicUsize::new(2),
        });
        let mut first = Delivery {
            ack: Some(ack.clone()),
            ..delivery("a")
        };
        let mut second = Delivery {
            ack: Some(ack.clone()),
            ..delivery("a")
        };
        first.take_acknowledgement().send();
        assert_eq!(ack.holders.load(Ordering::Acquire), 1);
        first.take_acknowledgement().send();
        assert_eq!(
            ack.holders.load(Ordering::Acquire),
            1,
            "one copy is acknowledged once"
        );
        drop(second.take_acknowledgement());
        assert_eq!(
            ack.holders.load(Ordering::Acquire),
            1,
            "dropped unsent, nothing is acknowledged"
        );
    }
}
