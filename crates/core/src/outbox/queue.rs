//! The messages a connection accepted and has not handed to the event loop
//! yet, in order. A burst of `publish()` calls can leave hundreds of
//! thousands of them here, so each is kept as one compact record in large
//! buffers: its payload once, its topic once per run of messages to the same
//! topic, and a byte of flags. A message becomes a `Message` again only when
//! it leaves, and messages put back in front (after a reconnect) stay whole.
//!
//! A record: flags, the payload's length, then (unless the topic is the one
//! of the record before it) the topic's length and the topic, then the
//! payload. Lengths are LEB128. Properties and `publishSync()` receipts,
//! which bursts rarely carry, wait beside the records in the same order. A
//! message that leaves takes its payload along without a copy: a view of the
//! buffer, which goes back once the last of its messages is acknowledged.

use std::collections::VecDeque;

use bytes::{BufMut, BytesMut};
use rumqttc::QoS;

use super::{Message, Receipt};
use crate::properties::Properties;

/// Records are written into buffers of this size; a larger record gets a
/// buffer of its own.
const BUFFER: usize = 64 * 1024;

const RETAIN: u8 = 1 << 2;
const SAME_TOPIC: u8 = 1 << 3;
const EXTRAS: u8 = 1 << 4;

#[derive(Debug, Default)]
pub struct Queue {
    /// Messages put back in front of the records: few, kept whole.
    front: VecDeque<Message>,
    records: Records,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.front.len() + self.records.count
    }

    /// A new message, last in line.
    pub fn push_back(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Box<Properties>>,
        receipt: Option<Receipt>,
    ) {
        self.records
            .push(topic, payload, qos, retain, properties, receipt);
    }

    /// A message that had left goes back first in line, keeping its id.
    pub fn push_front(&mut self, message: Message) {
        self.front.push_front(message);
    }

    /// The first message; one leaving the records is given the id `next_id`
    /// counts to, so ids follow the order messages leave in.
    pub fn pop_front(&mut self, next_id: &mut u64) -> Option<Message> {
        if let Some(message) = self.front.pop_front() {
            return Some(message);
        }
        let mut message = self.records.pop()?;
        *next_id += 1;
        message.id = *next_id;
        Some(message)
    }

    pub fn front_qos(&self) -> Option<QoS> {
        match self.front.front() {
            Some(message) => Some(message.qos),
            None => self.records.front_qos(),
        }
    }

    /// Every message, first to last, ids given as by `pop_front`.
    pub fn drain<'a>(&'a mut self, next_id: &'a mut u64) -> impl Iterator<Item = Message> + 'a {
        std::iter::from_fn(move || self.pop_front(next_id))
    }

    /// Takes out the messages `keep` says no to and returns them; the others
    /// stay in their order.
    pub fn remove_unless(
        &mut self,
        next_id: &mut u64,
        mut keep: impl FnMut(&Message) -> bool,
    ) -> Vec<Message> {
        let mut old = std::mem::take(self);
        let mut removed = Vec::new();
        for message in old.drain(next_id) {
            if !keep(&message) {
                removed.push(message);
            } else {
                // Given a new id when it leaves again, still in its place.
                self.records.push(
                    &message.topic,
                    &message.payload,
                    message.qos,
                    message.retain,
                    message.properties,
                    message.receipt,
                );
            }
        }
        removed
    }

    /// The `publishSync()` receipts of every message, to tell them all at once.
    pub fn receipts_mut(&mut self) -> impl Iterator<Item = &mut Option<Receipt>> {
        self.front
            .iter_mut()
            .map(|message| &mut message.receipt)
            .chain(
                self.records
                    .extras
                    .iter_mut()
                    .map(|extras| &mut extras.receipt),
            )
    }
}

#[derive(Debug)]
struct Extras {
    properties: Option<Box<Properties>>,
    receipt: Option<Receipt>,
}

#[derive(Debug, Default)]
struct Records {
    /// The first starts with the next record: what was read is split off.
    buffers: VecDeque<BytesMut>,
    count: usize,
    extras: VecDeque<Extras>,
    /// The topic of the last record written, and of the last one read.
    written_topic: String,
    read_topic: String,
}

impl Records {
    fn push(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Box<Properties>>,
        receipt: Option<Receipt>,
    ) {
        let same_topic = self.count > 0 && self.written_topic == topic;
        let mut flags = qos as u8;
        if retain {
            flags |= RETAIN;
        }
        if same_topic {
            flags |= SAME_TOPIC;
        }
        if properties.is_some() || receipt.is_some() {
            flags |= EXTRAS;
            self.extras.push_back(Extras {
                properties,
                receipt,
            });
        }
        let topic_bytes = if same_topic { 0 } else { 5 + topic.len() };
        let buffer = self.buffer_for(1 + 5 + topic_bytes + payload.len());
        buffer.put_u8(flags);
        write_length(buffer, payload.len());
        if !same_topic {
            write_length(buffer, topic.len());
            buffer.extend_from_slice(topic.as_bytes());
        }
        buffer.extend_from_slice(payload);
        if !same_topic {
            self.written_topic.clear();
            self.written_topic.push_str(topic);
        }
        self.count += 1;
    }

    /// The last buffer when `size` more bytes fit in it, else a new one.
    fn buffer_for(&mut self, size: usize) -> &mut BytesMut {
        let fits = self
            .buffers
            .back()
            .is_some_and(|buffer| buffer.capacity() - buffer.len() >= size);
        if !fits {
            // An emptied buffer kept for reuse that is too small goes.
            if self.buffers.back().is_some_and(BytesMut::is_empty) {
                self.buffers.pop_back();
            }
            self.buffers
                .push_back(BytesMut::with_capacity(size.max(BUFFER)));
        }
        self.buffers.back_mut().expect("a buffer was just added")
    }

    fn front_qos(&self) -> Option<QoS> {
        let buffer = self.buffers.front()?;
        (self.count > 0).then(|| qos(buffer[0]))
    }

    fn pop(&mut self) -> Option<Message> {
        if self.count == 0 {
            return None;
        }
        let more = self.buffers.len() > 1;
        let buffer = self.buffers.front_mut()?;
        let flags = buffer[0];
        let mut at = 1;
        let payload_len = read_length(buffer, &mut at);
        if flags & SAME_TOPIC == 0 {
            let topic_len = read_length(buffer, &mut at);
            let topic = &buffer[at..at + topic_len];
            at += topic_len;
            self.read_topic.clear();
            // Written from a `&str`: always UTF-8.
            self.read_topic
                .push_str(std::str::from_utf8(topic).unwrap_or_default());
        }
        let mut record = buffer.split_to(at + payload_len);
        let payload = record.split_off(at).freeze();
        // Read to its end: it goes once no longer written to, or when the
        // room left in it is too small to be worth keeping.
        if buffer.is_empty() && (more || buffer.capacity() < BUFFER / 4) {
            self.buffers.pop_front();
        }
        let extras = if flags & EXTRAS != 0 {
            self.extras.pop_front()
        } else {
            None
        };
        let (properties, receipt) = extras.map_or((None, None), |e| (e.properties, e.receipt));
        self.count -= 1;
        Some(Message {
            id: 0,
            topic: self.read_topic.clone(),
            payload,
            qos: qos(flags),
            retain: flags & RETAIN != 0,
            properties,
            receipt,
        })
    }
}

fn qos(flags: u8) -> QoS {
    match flags & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

fn write_length(buffer: &mut BytesMut, mut length: usize) {
    loop {
        let byte = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            buffer.put_u8(byte);
            return;
        }
        buffer.put_u8(byte | 0x80);
    }
}

fn read_length(buffer: &[u8], at: &mut usize) -> usize {
    let mut length = 0;
    let mut shift = 0;
    loop {
        let byte = buffer[*at];
        *at += 1;
        length |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return length;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;

    fn push(queue: &mut Queue, topic: &str, payload: &[u8], qos: QoS) {
        queue.push_back(topic, payload, qos, false, None, None);
    }

    fn drain(queue: &mut Queue) -> Vec<Message> {
        queue.drain(&mut 0).collect()
    }

    #[test]
    fn messages_leave_as_they_came_in_order_with_increasing_ids() {
        let mut queue = Queue::default();
        let properties = Properties {
            content_type: Some("text/plain".into()),
            ..Properties::default()
        };
        queue.push_back("a/b", b"one", QoS::AtLeastOnce, true, None, None);
        queue.push_back("a/b", b"", QoS::AtMostOnce, false, None, None);
        let (receipt, _outcome) = bounded(1);
        let props = Some(Box::new(properties.clone()));
        queue.push_back(
            "a/b",
            b"three",
            QoS::ExactlyOnce,
            false,
            props,
            Some(receipt),
        );
        queue.push_back(
            "\u{e9}t\u{e9}",
            &[0, 255, 10],
            QoS::AtMostOnce,
            false,
            None,
            None,
        );
        queue.push_back("a/b", b"five", QoS::AtLeastOnce, false, None, None);
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.front_qos(), Some(QoS::AtLeastOnce));

        let mut next_id = 7;
        let messages: Vec<Message> = queue.drain(&mut next_id).collect();
        let seen: Vec<(u64, &str, &[u8], QoS, bool)> = messages
            .iter()
            .map(|m| (m.id, m.topic.as_str(), &m.payload[..], m.qos, m.retain))
            .collect();
        assert_eq!(
            seen,
            [
                (8, "a/b", &b"one"[..], QoS::AtLeastOnce, true),
                (9, "a/b", &b""[..], QoS::AtMostOnce, false),
                (10, "a/b", &b"three"[..], QoS::ExactlyOnce, false),
                (
                    11,
                    "\u{e9}t\u{e9}",
                    &[0, 255, 10][..],
                    QoS::AtMostOnce,
                    false
                ),
                (12, "a/b", &b"five"[..], QoS::AtLeastOnce, false),
            ]
        );
        assert_eq!(messages[2].properties.as_deref(), Some(&properties));
        assert!(messages[2].receipt.is_some());
        assert!(messages
            .iter()
            .enumerate()
            .all(|(i, m)| i == 2 || m.receipt.is_none()));
        assert_eq!(queue.len(), 0);
        assert_eq!(queue.front_qos(), None);
    }

    #[test]
    fn a_burst_spans_buffers_that_are_given_back_once_read() {
        let mut queue = Queue::default();
        let large = vec![7u8; 3 * BUFFER];
        for n in 0..10_000u32 {
            let topic = format!("t/{}", n / 100);
            push(&mut queue, &topic, &n.to_be_bytes(), QoS::AtMostOnce);
            if n == 5_000 {
                push(&mut queue, "large", &large, QoS::AtLeastOnce);
            }
        }
        assert!(queue.records.buffers.len() > 2);
        let messages = drain(&mut queue);
        assert_eq!(messages.len(), 10_001);
        assert_eq!(messages[5_001].payload.len(), large.len());
        let small: Vec<&Message> = messages.iter().filter(|m| m.topic != "large").collect();
        for (n, message) in (0..10_000u32).zip(small) {
            assert_eq!(message.topic, format!("t/{}", n / 100));
            assert_eq!(&message.payload[..], n.to_be_bytes());
        }
        // One emptied buffer is kept for the next burst, no more.
        assert!(queue.records.buffers.len() <= 1);
        assert!(queue.records.buffers.iter().all(|b| b.is_empty()));
    }

    #[test]
    fn a_record_larger_than_the_emptied_buffer_is_read_from_its_own() {
        let mut queue = Queue::default();
        let mut next_id = 0;
        push(&mut queue, "small", b"x", QoS::AtMostOnce);
        queue.pop_front(&mut next_id).unwrap();
        let large = vec![1u8; BUFFER + 1];
        push(&mut queue, "large", &large, QoS::AtLeastOnce);
        assert_eq!(queue.front_qos(), Some(QoS::AtLeastOnce));
        let message = queue.pop_front(&mut next_id).unwrap();
        assert_eq!(
            (message.topic.as_str(), message.payload.len()),
            ("large", BUFFER + 1)
        );
        assert!(queue.records.buffers.is_empty());
    }

    #[test]
    fn writing_while_reading_keeps_the_topics_right() {
        let mut queue = Queue::default();
        let mut next_id = 0;
        push(&mut queue, "x", b"1", QoS::AtMostOnce);
        push(&mut queue, "x", b"2", QoS::AtMostOnce);
        assert_eq!(queue.pop_front(&mut next_id).unwrap().topic, "x");
        assert_eq!(queue.pop_front(&mut next_id).unwrap().topic, "x");
        // Empty now: the next record names its topic again.
        push(&mut queue, "x", b"3", QoS::AtMostOnce);
        push(&mut queue, "y", b"4", QoS::AtMostOnce);
        assert_eq!(queue.pop_front(&mut next_id).unwrap().topic, "x");
        push(&mut queue, "y", b"5", QoS::AtMostOnce);
        let rest: Vec<String> = drain(&mut queue).into_iter().map(|m| m.topic).collect();
        assert_eq!(rest, ["y", "y"]);
    }

    #[test]
    fn messages_put_back_go_first_and_keep_their_ids() {
        let mut queue = Queue::default();
        let mut next_id = 0;
        push(&mut queue, "a", b"", QoS::AtLeastOnce);
        push(&mut queue, "b", b"", QoS::AtLeastOnce);
        let a = queue.pop_front(&mut next_id).unwrap();
        push(&mut queue, "c", b"", QoS::AtMostOnce);
        queue.push_front(a);
        assert_eq!(queue.front_qos(), Some(QoS::AtLeastOnce));
        let left: Vec<(u64, String)> = queue.drain(&mut next_id).map(|m| (m.id, m.topic)).collect();
        assert_eq!(left, [(1, "a".into()), (2, "b".into()), (3, "c".into())]);
    }

    #[test]
    fn removing_keeps_the_others_in_order_with_their_receipts() {
        let mut queue = Queue::default();
        let (receipt, outcome) = bounded(1);
        push(&mut queue, "keep/1", b"", QoS::AtMostOnce);
        push(&mut queue, "drop", b"", QoS::AtMostOnce);
        queue.push_back("keep/2", b"", QoS::AtLeastOnce, false, None, Some(receipt));
        push(&mut queue, "drop", b"", QoS::AtMostOnce);
        let mut next_id = 0;
        let front = queue.pop_front(&mut next_id).unwrap();
        queue.push_front(front);

        let removed = queue.remove_unless(&mut next_id, |m| m.topic != "drop");
        assert_eq!(removed.len(), 2);
        for receipt in queue.receipts_mut() {
            if let Some(receipt) = receipt.take() {
                receipt.send(Ok(())).unwrap();
            }
        }
        assert!(outcome.try_recv().is_ok());
        let left: Vec<String> = drain(&mut queue).into_iter().map(|m| m.topic).collect();
        assert_eq!(left, ["keep/1", "keep/2"]);
    }
}
