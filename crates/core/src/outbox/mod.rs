//! Every publish of one connection from `publish()` until the broker
//! acknowledged it: a state machine that never does I/O.
//!
//! rumqttc assigns packet ids itself and has no per-publish acknowledgement,
//! so the outbox follows the event loop's own events. Messages are handed to
//! rumqttc's request channel in order (`handed`); rumqttc takes them in that
//! order and reports each with `Outgoing::Publish(pkid)` (or
//! `Outgoing::AwaitAck(pkid)` when the id is still taken and it holds the
//! message back). From there the message waits under its packet id until
//! PUBACK or PUBCOMP. The outbox keeps its own copy of every message until the
//! end, because rumqttc forgets its pending queue when the broker has no
//! session for us.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use crossbeam_channel::Sender;
use rumqttc::QoS;

use super::error::Error;
use super::metrics::Meter;
use super::properties::Properties;

mod queue;
use queue::Queue;

/// Where a `publishSync()` learns how its message ended.
pub type Receipt = Sender<Result<(), Error>>;

#[derive(Debug)]
pub struct Message {
    pub id: u64,
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// MQTT 5 only.
    pub properties: Option<Box<Properties>>,
    pub receipt: Option<Receipt>,
}

impl Message {
    fn finish(mut self, result: Result<(), Error>) {
        if let Some(receipt) = self.receipt.take() {
            // The caller may have timed out and gone: nobody to tell then.
            let _ = receipt.try_send(result);
        }
    }
}

/// A request that finishes what the last connection left in flight.
#[derive(Debug)]
pub enum Resend<'a> {
    /// Published again under its packet id, with DUP.
    Publish(u16, &'a Message),
    /// QoS 2 the broker already received: PUBREL.
    Release(u16),
}

#[derive(Debug)]
struct InFlight {
    message: Message,
    /// QoS 2: PUBREC arrived, PUBREL sent, waiting for PUBCOMP.
    released: bool,
}

#[derive(Debug)]
pub struct OutboxFull;

/// QoS 0 messages handed to rumqttc at once: enough to keep its writes busy.
const MAX_HANDED_QOS0: usize = 1024;

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    window: usize,
    next_id: u64,
    queued: Queue,
    handed: VecDeque<Message>,
    held_back: Option<Message>,
    in_flight: HashMap<u16, InFlight>,
    /// Re-sent publishes put in front of the event loop after a reconnect
    /// whose `Outgoing::Publish` has not been seen yet: they already sit in
    /// `in_flight` under their packet id.
    resends_unseen: usize,
    /// QoS 0 messages among `handed`: they need no acknowledgement, so the
    /// in-flight window does not hold them back.
    handed_qos0: usize,
    published: u64,
    acknowledged: u64,
    refused: u64,
    /// The same counts, added to the pool-wide ones.
    meter: Meter,
}

impl Outbox {
    /// `capacity`: messages not yet acknowledged that the outbox accepts.
    /// `window`: messages handed to the event loop at once.
    pub fn new(capacity: usize, window: usize) -> Self {
        Outbox {
            capacity,
            window,
            next_id: 0,
            queued: Queue::default(),
            handed: VecDeque::new(),
            held_back: None,
            in_flight: HashMap::new(),
            resends_unseen: 0,
            handed_qos0: 0,
            published: 0,
            acknowledged: 0,
            refused: 0,
            meter: Meter::default(),
        }
    }

    /// Counts into the pool-wide metrics too.
    pub fn set_meter(&mut self, meter: Meter) {
        self.meter = meter;
    }

    /// The broker's receive maximum (MQTT 5) can be lower than ours.
    pub fn set_window(&mut self, window: usize) {
        self.window = window;
    }

    pub fn push(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Box<Properties>>,
        receipt: Option<Receipt>,
    ) -> Result<(), OutboxFull> {
        if !self.has_room() {
            return Err(OutboxFull);
        }
        self.queued
            .push_back(topic, payload, qos, retain, properties, receipt);
        Ok(())
    }

    fn message(
        &mut self,
        topic: String,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<Box<Properties>>,
        receipt: Option<Receipt>,
    ) -> Message {
        self.next_id += 1;
        Message {
            id: self.next_id,
            topic,
            payload,
            qos,
            retain,
            properties,
            receipt,
        }
    }

    /// Hands queued messages to `send` while the window has room. `send`
    /// returns false when it could not take the message; it stays queued.
    pub fn pump(&mut self, mut send: impl FnMut(&Message) -> bool) {
        while let Some(qos) = self.queued.front_qos() {
            let room = if qos == QoS::AtMostOnce {
                self.handed_qos0 < MAX_HANDED_QOS0
            } else {
                self.awaiting_ack() < self.window
            };
            if !room {
                break;
            }
            let Some(message) = self.queued.pop_front(&mut self.next_id) else {
                break;
            };
            if !send(&message) {
                self.queued.push_front(message);
                break;
            }
            if qos == QoS::AtMostOnce {
                self.handed_qos0 += 1;
            }
            self.handed.push_back(message);
        }
    }

    pub fn outgoing_publish(&mut self, pkid: u16) {
        if pkid != 0 && self.resends_unseen > 0 {
            self.resends_unseen -= 1;
            return;
        }
        let message = match self.held_back.take() {
            Some(message) => message,
            None => match self.handed.pop_front() {
                Some(message) => message,
                None => return,
            },
        };
        self.published += 1;
        self.meter.published(message.qos, message.payload.len());
        if message.qos == QoS::AtMostOnce {
            self.handed_qos0 -= 1;
            message.finish(Ok(()));
        } else {
            let earlier = self.in_flight.insert(
                pkid,
                InFlight {
                    message,
                    released: false,
                },
            );
            if let Some(earlier) = earlier {
                // The packet id was reused before its flow ended: sent
                // again rather than forgotten.
                self.queued.push_front(earlier.message);
            }
        }
    }

    /// rumqttc holds the next message back until `pkid` is acknowledged.
    pub fn outgoing_await_ack(&mut self) {
        self.held_back = self.handed.pop_front();
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub fn incoming_ack(&mut self, pkid: u16) {
        if let Some(in_flight) = self.in_flight.remove(&pkid) {
            self.acknowledged += 1;
            self.meter.acknowledged();
            in_flight.message.finish(Ok(()));
        }
    }

    /// Ends the queued messages `undeliverable` picks, each with `error`;
    /// returns the last error, if any.
    pub fn refuse_queued(
        &mut self,
        undeliverable: impl Fn(&Message) -> bool,
        error: impl Fn(&Message) -> Error,
    ) -> Option<Error> {
        let mut last = None;
        let refused = self
            .queued
            .remove_unless(&mut self.next_id, |m| !undeliverable(m));
        for message in refused {
            self.refused += 1;
            self.meter.refused();
            let reason = error(&message);
            message.finish(Err(reason.clone()));
            last = Some(reason);
        }
        last
    }

    /// The broker answered with an error reason code (MQTT 5): the message
    /// ends there, as sending it again would get the same answer. `error`
    /// says why, to its `publishSync()` and to the caller.
    pub fn incoming_refusal(
        &mut self,
        pkid: u16,
        error: impl FnOnce(&Message) -> Error,
    ) -> Option<Error> {
        let in_flight = self.in_flight.remove(&pkid)?;
        self.refused += 1;
        self.meter.refused();
        let error = error(&in_flight.message);
        in_flight.message.finish(Err(error.clone()));
        Some(error)
    }

    /// The oldest message written and not acknowledged yet.
    pub fn oldest_in_flight(&self) -> Option<u64> {
        self.in_flight.values().map(|f| f.message.id).min()
    }

    /// Ends a message in flight the broker will not take, as a refusal.
    pub fn refuse_in_flight(
        &mut self,
        id: u64,
        error: impl FnOnce(&Message) -> Error,
    ) -> Option<Error> {
        let pkid = self
            .in_flight
            .iter()
            .find(|(_, f)| f.message.id == id)
            .map(|(&pkid, _)| pkid)?;
        self.incoming_refusal(pkid, error)
    }

    pub fn incoming_pubrec(&mut self, pkid: u16) {
        if let Some(in_flight) = self.in_flight.get_mut(&pkid) {
            in_flight.released = true;
        }
    }

    /// The connection broke: what rumqttc had not taken yet is queued again,
    /// in its original order, in front of everything newer.
    pub fn connection_lost(&mut self) {
        while let Some(message) = self.handed.pop_back() {
            self.queued.push_front(message);
        }
        if let Some(message) = self.held_back.take() {
            self.queued.push_front(message);
        }
        self.handed_qos0 = 0;
        self.resends_unseen = 0;
    }

    /// The requests that finish what was in flight when the last connection
    /// broke, oldest first. With the session kept by the broker, a QoS 2
    /// message already received continues with PUBREL; everything else is
    /// published again under its packet id with the DUP flag.
    pub fn resume(&mut self, session_present: bool) -> Vec<Resend<'_>> {
        if !session_present {
            for f in self.in_flight.values_mut() {
                f.released = false;
            }
        }
        let mut in_flight: Vec<(&u16, &InFlight)> = self.in_flight.iter().collect();
        in_flight.sort_by_key(|(_, f)| f.message.id);
        self.resends_unseen = in_flight.iter().filter(|(_, f)| !f.released).count();
        in_flight
            .into_iter()
            .map(|(&pkid, f)| {
                if f.released {
                    Resend::Release(pkid)
                } else {
                    Resend::Publish(pkid, &f.message)
                }
            })
            .collect()
    }

    /// Tells every waiting `publishSync()` that its message will not be
    /// acknowledged; the messages themselves stay and are counted.
    pub fn fail_receipts(&mut self, error: &Error) {
        let left = self
            .handed
            .iter_mut()
            .chain(self.held_back.iter_mut())
            .chain(self.in_flight.values_mut().map(|f| &mut f.message))
            .map(|message| &mut message.receipt);
        for receipt in self.queued.receipts_mut().chain(left) {
            if let Some(receipt) = receipt.take() {
                let _ = receipt.try_send(Err(error.clone()));
            }
        }
    }

    /// Every message not acknowledged yet, oldest first, to be carried over
    /// to a connection that replaces this one.
    pub fn take_unacknowledged(&mut self) -> Vec<Message> {
        self.connection_lost();
        let mut messages: Vec<Message> = self.in_flight.drain().map(|(_, f)| f.message).collect();
        messages.extend(self.queued.drain(&mut self.next_id));
        messages.sort_by_key(|m| m.id);
        messages
    }

    /// A fresh outbox that starts with messages carried over from the
    /// connection it replaces.
    pub fn with_messages(capacity: usize, window: usize, messages: Vec<Message>) -> Self {
        let mut outbox = Outbox::new(capacity, window);
        for message in messages {
            outbox.queued.push_back(
                &message.topic,
                &message.payload,
                message.qos,
                message.retain,
                message.properties,
                message.receipt,
            );
        }
        outbox
    }

    pub fn len(&self) -> usize {
        self.queued_len() + self.in_flight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nothing waits to be written: a new QoS 0 message may be written
    /// directly (`count_written`) without overtaking any.
    pub fn is_idle(&self) -> bool {
        self.queued_len() == 0 && self.resends_unseen == 0
    }

    /// A QoS 0 message of `bytes` written directly, never queued here.
    pub fn count_written(&mut self, bytes: usize) {
        self.published += 1;
        self.meter.published(QoS::AtMostOnce, bytes);
    }

    /// A message written under `pkid` waits for its acknowledgement.
    pub fn holds(&self, pkid: u16) -> bool {
        self.in_flight.contains_key(&pkid)
    }

    /// Room for one more message.
    pub fn has_room(&self) -> bool {
        self.len() < self.capacity
    }

    /// A QoS 1/2 message written directly under `pkid`: in flight from now
    /// on, as if the event loop had reported it written.
    #[allow(clippy::too_many_arguments)]
    pub fn push_written(
        &mut self,
        pkid: u16,
        topic: String,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<Box<Properties>>,
        receipt: Option<Receipt>,
    ) {
        self.published += 1;
        self.meter.published(qos, payload.len());
        let message = self.message(topic, payload, qos, retain, properties, receipt);
        let released = false;
        self.in_flight.insert(pkid, InFlight { message, released });
    }

    /// Accepted and not yet written to the broker.
    pub fn queued_len(&self) -> usize {
        self.queued.len() + self.handed.len() + usize::from(self.held_back.is_some())
    }

    /// Written, waiting for the broker's acknowledgement.
    pub fn in_flight_len(&self) -> usize {
        self.in_flight.len()
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    pub fn acknowledged(&self) -> u64 {
        self.acknowledged
    }

    /// Publishes the broker answered with an error reason code.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// QoS 1/2 messages handed over or written, not yet acknowledged: what
    /// the broker's in-flight limit counts.
    fn awaiting_ack(&self) -> usize {
        self.handed.len() - self.handed_qos0
            + usize::from(self.held_back.is_some())
            + self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ConnectionError, Refusal};
    use crate::protocol::Reason;
    use crossbeam_channel::{bounded, Receiver};

    fn outbox() -> Outbox {
        Outbox::new(100, 10)
    }

    fn push(outbox: &mut Outbox, topic: &str, qos: QoS) {
        outbox.push(topic, b"x", qos, false, None, None).unwrap();
    }

    fn push_with_receipt(
        outbox: &mut Outbox,
        topic: &str,
        qos: QoS,
    ) -> Receiver<Result<(), Error>> {
        let (tx, rx) = bounded(1);
        outbox
            .push(topic, b"x", qos, false, None, Some(tx))
            .unwrap();
        rx
    }

    fn hand_all(outbox: &mut Outbox) -> Vec<String> {
        let mut sent = Vec::new();
        outbox.pump(|m| {
            sent.push(m.topic.clone());
            true
        });
        sent
    }

    #[test]
    fn a_packet_id_is_held_from_the_write_until_its_acknowledgement_is_applied() {
        let mut outbox = outbox();
        let payload = Bytes::from_static(b"x");
        outbox.push_written(7, "a".into(), payload, QoS::AtLeastOnce, false, None, None);
        push(&mut outbox, "b", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(8);
        assert!(outbox.holds(7) && outbox.holds(8) && !outbox.holds(9));
        outbox.incoming_ack(7);
        assert!(!outbox.holds(7) && outbox.holds(8));
    }

    #[test]
    fn push_beyond_capacity_is_refused() {
        let mut outbox = Outbox::new(2, 10);
        push(&mut outbox, "a", QoS::AtLeastOnce);
        push(&mut outbox, "b", QoS::AtLeastOnce);
        assert!(outbox
            .push("c", b"", QoS::AtMostOnce, false, None, None)
            .is_err());
        assert_eq!(outbox.queued_len(), 2);
    }

    #[test]
    fn pump_hands_messages_in_order_up_to_the_window() {
        let mut outbox = Outbox::new(100, 3);
        for topic in ["a", "b", "c", "d"] {
            push(&mut outbox, topic, QoS::AtLeastOnce);
        }
        assert_eq!(hand_all(&mut outbox), ["a", "b", "c"]);
        assert_eq!(hand_all(&mut outbox), Vec::<String>::new());
        outbox.outgoing_publish(1);
        outbox.incoming_ack(1);
        assert_eq!(hand_all(&mut outbox), ["d"]);
    }

    #[test]
    fn qos0_messages_are_not_held_back_by_the_in_flight_window() {
        let mut outbox = Outbox::new(100, 1);
        push(&mut outbox, "a", QoS::AtLeastOnce);
        push(&mut outbox, "b", QoS::AtMostOnce);
        push(&mut outbox, "c", QoS::AtLeastOnce);
        push(&mut outbox, "d", QoS::AtMostOnce);
        assert_eq!(
            hand_all(&mut outbox),
            ["a", "b"],
            "in order: c waits for a's ack, d behind it"
        );
        outbox.outgoing_publish(1);
        outbox.outgoing_publish(0);
        outbox.incoming_ack(1);
        assert_eq!(hand_all(&mut outbox), ["c", "d"]);
    }

    #[test]
    fn refused_send_keeps_the_message_queued() {
        let mut outbox = outbox();
        push(&mut outbox, "a", QoS::AtLeastOnce);
        outbox.pump(|_| false);
        assert_eq!(outbox.queued_len(), 1);
        assert_eq!(hand_all(&mut outbox), ["a"]);
    }

    #[test]
    fn incoming_puback_should_finish_the_publish_with_that_packet_id() {
        let mut outbox = outbox();
        let first = push_with_receipt(&mut outbox, "a", QoS::AtLeastOnce);
        let second = push_with_receipt(&mut outbox, "b", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(7);
        outbox.outgoing_publish(8);
        assert_eq!(outbox.in_flight_len(), 2);

        outbox.incoming_ack(8);
        assert_eq!(second.try_recv(), Ok(Ok(())));
        assert!(first.try_recv().is_err());
        assert_eq!(outbox.acknowledged(), 1);
        assert_eq!(outbox.len(), 1);
    }

    #[test]
    fn qos0_publish_is_finished_once_written() {
        let mut outbox = outbox();
        let receipt = push_with_receipt(&mut outbox, "a", QoS::AtMostOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(0);
        assert_eq!(receipt.try_recv(), Ok(Ok(())));
        assert!(outbox.is_empty());
        assert_eq!(outbox.published(), 1);
    }

    #[test]
    fn reused_packet_id_maps_to_the_newer_publish() {
        let mut outbox = outbox();
        let first = push_with_receipt(&mut outbox, "a", QoS::AtLeastOnce);
        let second = push_with_receipt(&mut outbox, "b", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(1);
        outbox.incoming_ack(1);
        outbox.outgoing_publish(1);
        assert_eq!(first.try_recv(), Ok(Ok(())));
        assert!(second.try_recv().is_err());
        outbox.incoming_ack(1);
        assert_eq!(second.try_recv(), Ok(Ok(())));
    }

    #[test]
    fn held_back_publish_takes_its_packet_id_when_released() {
        let mut outbox = outbox();
        let first = push_with_receipt(&mut outbox, "a", QoS::AtLeastOnce);
        let second = push_with_receipt(&mut outbox, "b", QoS::AtLeastOnce);
        let third = push_with_receipt(&mut outbox, "c", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(1);
        outbox.outgoing_publish(2);
        // rumqttc wrapped around to packet id 1 while it was still taken
        outbox.outgoing_await_ack();
        outbox.incoming_ack(1);
        outbox.outgoing_publish(1);
        assert_eq!(first.try_recv(), Ok(Ok(())));
        outbox.incoming_ack(1);
        assert_eq!(third.try_recv(), Ok(Ok(())));
        assert!(second.try_recv().is_err());
    }

    #[test]
    fn qos2_publish_is_finished_by_pubcomp_not_pubrec() {
        let mut outbox = outbox();
        let receipt = push_with_receipt(&mut outbox, "a", QoS::ExactlyOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(3);
        outbox.incoming_pubrec(3);
        assert!(receipt.try_recv().is_err());
        outbox.incoming_ack(3);
        assert_eq!(receipt.try_recv(), Ok(Ok(())));
    }

    #[test]
    fn lost_connection_queues_unwritten_messages_again_in_order() {
        let mut outbox = outbox();
        for topic in ["a", "b", "c", "d"] {
            push(&mut outbox, topic, QoS::AtLeastOnce);
        }
        outbox.pump(|m| m.topic != "d");
        outbox.outgoing_publish(1);
        outbox.connection_lost();
        assert_eq!(outbox.in_flight_len(), 1);
        assert_eq!(outbox.queued_len(), 3);
        assert_eq!(hand_all(&mut outbox), ["b", "c", "d"]);
    }

    #[test]
    fn resume_without_session_republishes_everything_in_flight_with_dup() {
        let mut outbox = outbox();
        push(&mut outbox, "a", QoS::AtLeastOnce);
        push(&mut outbox, "b", QoS::ExactlyOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(5);
        outbox.outgoing_publish(2);
        outbox.incoming_pubrec(2);
        outbox.connection_lost();

        let topics: Vec<_> = outbox
            .resume(false)
            .iter()
            .map(|r| match r {
                Resend::Publish(pkid, m) => (m.topic.clone(), *pkid),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(topics, [("a".to_string(), 5), ("b".to_string(), 2)]);
    }

    #[test]
    fn resume_with_session_releases_received_qos2_instead_of_republishing() {
        let mut outbox = outbox();
        push(&mut outbox, "a", QoS::ExactlyOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(4);
        outbox.incoming_pubrec(4);
        outbox.connection_lost();
        assert!(matches!(outbox.resume(true)[..], [Resend::Release(4)]));
    }

    #[test]
    fn resent_publishes_do_not_consume_newer_handed_messages() {
        let mut outbox = outbox();
        let old = push_with_receipt(&mut outbox, "old", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(9);
        outbox.connection_lost();
        let new = push_with_receipt(&mut outbox, "new", QoS::AtLeastOnce);
        assert_eq!(outbox.resume(false).len(), 1);
        assert_eq!(hand_all(&mut outbox), ["new"]);

        outbox.outgoing_publish(9); // the resend
        outbox.outgoing_publish(1); // the new message
        outbox.incoming_ack(1);
        assert_eq!(new.try_recv(), Ok(Ok(())));
        outbox.incoming_ack(9);
        assert_eq!(old.try_recv(), Ok(Ok(())));
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_packet_id_reused_while_in_flight_does_not_lose_the_earlier_message() {
        let mut outbox = outbox();
        push(&mut outbox, "first", QoS::ExactlyOnce);
        push(&mut outbox, "second", QoS::AtLeastOnce);
        hand_all(&mut outbox);
        outbox.outgoing_publish(1);
        outbox.incoming_pubrec(1);
        outbox.outgoing_publish(1);
        assert_eq!(outbox.len(), 2);
        assert_eq!(hand_all(&mut outbox), ["first"]);
    }

    fn refusal(topic: &str) -> Error {
        Error::from(Refusal::Publish {
            connection: "default".into(),
            topic: topic.into(),
            reason: Reason::new(0x87, "not authorized"),
        })
    }

    #[test]
    fn refused_publish_ends_with_the_reason_and_frees_its_window_slot() {
        let mut outbox = Outbox::new(100, 1);
        let refused = push_with_receipt(&mut outbox, "denied", QoS::AtLeastOnce);
        push(&mut outbox, "next", QoS::AtLeastOnce);
        assert_eq!(hand_all(&mut outbox), ["denied"]);
        outbox.outgoing_publish(1);
        outbox.incoming_refusal(1, |m| refusal(&m.topic));
        assert_eq!(refused.try_recv(), Ok(Err(refusal("denied"))));
        assert_eq!((outbox.refused(), outbox.acknowledged()), (1, 0));
        assert_eq!(hand_all(&mut outbox), ["next"]);
    }

    #[test]
    fn the_oldest_message_in_flight_can_be_given_up_and_the_rest_resent() {
        let mut outbox = outbox();
        let refused = push_with_receipt(&mut outbox, "too-large", QoS::AtLeastOnce);
        push(&mut outbox, "next", QoS::AtLeastOnce);
        assert_eq!(hand_all(&mut outbox), ["too-large", "next"]);
        outbox.outgoing_publish(2);
        outbox.outgoing_publish(1);
        let oldest = outbox.oldest_in_flight().unwrap();
        outbox.refuse_in_flight(oldest, |m| refusal(&m.topic));
        assert_eq!(refused.try_recv(), Ok(Err(refusal("too-large"))));
        assert_eq!((outbox.refused(), outbox.in_flight_len()), (1, 1));
        outbox.connection_lost();
        let resent: Vec<String> = outbox
            .resume(false)
            .iter()
            .map(|r| match r {
                Resend::Publish(_, m) => m.topic.clone(),
                Resend::Release(pkid) => format!("release {pkid}"),
            })
            .collect();
        assert_eq!(resent, ["next"]);
    }

    #[test]
    fn queued_messages_the_broker_cannot_take_end_with_the_reason() {
        let mut outbox = outbox();
        let too_large = push_with_receipt(&mut outbox, "large", QoS::AtLeastOnce);
        push(&mut outbox, "small", QoS::AtLeastOnce);
        let error = outbox.refuse_queued(|m| m.topic == "large", |m| refusal(&m.topic));
        let expected = refusal("large");
        assert_eq!(error, Some(expected.clone()));
        assert_eq!(too_large.try_recv(), Ok(Err(expected)));
        assert_eq!((outbox.refused(), outbox.len()), (1, 1));
        assert_eq!(hand_all(&mut outbox), ["small"]);
    }

    #[test]
    fn a_smaller_window_from_the_broker_holds_messages_back() {
        let mut outbox = Outbox::new(100, 10);
        outbox.set_window(2);
        for topic in ["a", "b", "c"] {
            push(&mut outbox, topic, QoS::AtLeastOnce);
        }
        assert_eq!(hand_all(&mut outbox), ["a", "b"]);
    }

    #[test]
    fn failed_receipts_are_told_and_messages_stay_counted() {
        let mut outbox = outbox();
        let receipt = push_with_receipt(&mut outbox, "a", QoS::AtLeastOnce);
        let gone = Error::from(ConnectionError::Closed {
            connection: "default".into(),
        });
        outbox.fail_receipts(&gone);
        assert_eq!(receipt.try_recv(), Ok(Err(gone)));
        assert_eq!(outbox.queued_len(), 1);
    }

    #[test]
    fn unacknowledged_messages_are_carried_over_oldest_first() {
        let mut outbox = outbox();
        for topic in ["a", "b", "c"] {
            push(&mut outbox, topic, QoS::AtLeastOnce);
        }
        outbox.pump(|m| m.topic != "c");
        outbox.outgoing_publish(1);
        let carried = outbox.take_unacknowledged();
        assert!(outbox.is_empty());

        let mut next = Outbox::with_messages(100, 10, carried);
        push(&mut next, "z", QoS::AtLeastOnce);
        assert_eq!(hand_all(&mut next), ["a", "b", "c", "z"]);
    }
}
