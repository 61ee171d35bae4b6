//! Writing on the caller's thread. While the connection is TCP (plain, or
//! TLS with its session shared too), its event loop shares the socket and
//! rumqttc's protocol state; the PHP thread writes a packet itself when
//! nothing waits ahead of it, instead of handing it to the event loop and
//! waking that thread for it.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rumqttc::{Arrived, Lent, QoS, SharedTcp, Written};

use super::{v311, v5, Event};
use crate::properties::Properties;

#[derive(Clone)]
pub struct Direct {
    socket: Arc<SharedTcp>,
    state: State,
    /// The connection gives topic aliases (MQTT 5): a QoS 0 publish then
    /// takes its alias from the protocol state; else it needs no lock.
    aliased: bool,
}

#[derive(Clone)]
enum State {
    V311(Arc<Mutex<rumqttc::MqttState>>),
    V5(Arc<Mutex<rumqttc::v5::MqttState>>),
}

impl Direct {
    pub(super) fn v311(socket: Arc<SharedTcp>, state: Arc<Mutex<rumqttc::MqttState>>) -> Self {
        Direct {
            socket,
            state: State::V311(state),
            aliased: false,
        }
    }

    pub(super) fn v5(socket: Arc<SharedTcp>, state: Arc<Mutex<rumqttc::v5::MqttState>>) -> Self {
        let aliased = rumqttc::lock(&state).topic_aliases > 0;
        Direct {
            socket,
            state: State::V5(state),
            aliased,
        }
    }

    /// A QoS 0 publish: true when it was written (or its rest will be).
    pub fn publish_qos0(
        &self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        properties: Option<&Properties>,
    ) -> bool {
        let packet = match &self.state {
            State::V311(_) => v311::encode_qos0(topic, payload, retain),
            State::V5(state) => {
                let aliases = self.aliased.then_some(&**state);
                v5::encode_qos0(aliases, topic, payload, retain, properties)
            }
        };
        self.write_now(packet)
    }

    /// The PUBACK of a received QoS 1 message. rumqttc's state keeps
    /// nothing of it (manual acknowledgements), so it need not know.
    pub fn puback(&self, pkid: u16) -> bool {
        let packet = match self.state {
            State::V311(_) => v311::encode_puback(pkid),
            State::V5(_) => v5::encode_puback(pkid),
        };
        self.write_now(packet)
    }

    /// The socket's reading, lent to the calling thread until it drops it:
    /// taken before a publish is written, its acknowledgement cannot reach
    /// the event loop (see `await_puback`).
    pub fn lend(&self) -> Option<Lent> {
        self.socket.lend()
    }

    /// A QoS 1 or 2 publish: recorded in rumqttc's state as its event loop
    /// would record it, so that it knows the acknowledgement, then written.
    /// Only while the in-flight queue has room and the packet id it gets is
    /// free, in the state and in the caller's record as `free` says.
    /// Returns its packet id; `None` leaves the message to the outbox's way.
    pub fn publish_acknowledged(
        &self,
        topic: &str,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<&Properties>,
        free: impl FnOnce(u16) -> bool,
    ) -> Option<u16> {
        let (pkid, packet) = match &self.state {
            State::V311(state) => v311::record_publish(state, topic, payload, qos, retain, free)?,
            State::V5(state) => {
                v5::record_publish(state, topic, payload, qos, retain, properties, free)?
            }
        };
        self.socket.write_or_queue(&packet);
        Some(pkid)
    }

    /// Waits for the PUBACK (QoS 1) of `pkid` on the calling thread, with
    /// the socket's reading `lent` to it: it reads the socket itself once the
    /// kernel says it is readable, instead of waiting for the event loop's
    /// thread to read it and wake this one. Returns the acknowledgements it
    /// read (earlier ones may come first) as rumqttc's state handled them;
    /// it stops early when another packet came first (the event loop's to
    /// handle), the connection ended (its event loop let go of it: looked
    /// at every `LOOK_AGAIN`), or at `deadline`.
    pub fn await_puback(&self, lent: Lent, pkid: u16, deadline: Instant) -> Vec<Event> {
        let mut acknowledged = Vec::new();
        lent.just_asked();
        loop {
            match lent.take(is_puback) {
                Arrived::Wanted(packet) => {
                    self.acknowledge(&packet, &mut acknowledged);
                    if is_puback_of(&packet, pkid) {
                        return acknowledged;
                    }
                    continue;
                }
                Arrived::Nothing => {}
                // Another packet (which ends a `hush`) or the end: the event loop's.
                Arrived::Other | Arrived::Closed => return acknowledged,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return acknowledged;
            }
            wait_readable(self.socket.raw_fd(), left.min(LOOK_AGAIN));
        }
    }

    /// Keeps the runtime's thread from waking for what arrives, for
    /// `QUIET_FOR` at most: after a QoS 1 publish whose PUBACK the calling
    /// thread reads itself, now (`await_puback`) or at its next call
    /// (`catch_up`). Only where nothing else is expected: the caller knows.
    pub fn hush(&self) {
        self.socket.hush(QUIET_FOR);
    }

    /// The acknowledgements that arrived while the runtime did not watch
    /// the socket (`hush`), read on the calling thread, as rumqttc's state
    /// handled them. Anything else is left to the event loop, and woken for.
    /// False with them when the connection's end came instead.
    pub fn catch_up(&self) -> (Vec<Event>, bool) {
        let mut acknowledged = Vec::new();
        if !self.socket.is_quiet() {
            return (acknowledged, true);
        }
        let Some(lent) = self.socket.lend() else {
            return (acknowledged, true);
        };
        loop {
            match lent.take(is_puback) {
                Arrived::Wanted(packet) => self.acknowledge(&packet, &mut acknowledged),
                Arrived::Nothing | Arrived::Other => return (acknowledged, true),
                Arrived::Closed => return (acknowledged, false),
            }
        }
    }

    /// Ends a `hush` now: the event loop reads what arrived, and watches
    /// again.
    pub fn listen(&self) {
        self.socket.listen();
    }

    /// Within a `hush`.
    #[cfg(test)]
    pub fn is_quiet(&self) -> bool {
        self.socket.is_quiet()
    }

    /// Hands a PUBACK read on this thread to rumqttc's state; its events go
    /// to `acknowledged`.
    fn acknowledge(&self, packet: &[u8], acknowledged: &mut Vec<Event>) {
        let answer = match &self.state {
            State::V311(state) => v311::handle_puback(state, packet, acknowledged),
            State::V5(state) => v5::handle_puback(state, packet, acknowledged),
        };
        if let Some(answer) = answer {
            self.socket.write_or_queue(&answer);
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.socket.raw_fd()
    }

    /// Nothing is left of a packet the socket took only in part.
    pub fn is_drained(&self) -> bool {
        self.socket.is_drained()
    }

    fn write_now(&self, packet: Option<BytesMut>) -> bool {
        packet.is_some_and(|packet| self.socket.write_now(&packet) != Written::NotNow)
    }
}

/// How long `await_puback` sleeps at most before it looks again whether the
/// connection ended without a word on the socket (its task failed, or was
/// closed, while the broker kept quiet).
const LOOK_AGAIN: Duration = Duration::from_millis(20);

/// How long a `hush` lasts at most: how late the event loop may learn of
/// anything else the broker sends meanwhile (the connection's end, say),
/// should the calling thread not come back sooner. One wake-up of the
/// runtime's thread per period, instead of one per acknowledgement.
const QUIET_FOR: Duration = Duration::from_millis(10);

/// Whether `packet` is a PUBACK: type 4, with a packet id.
fn is_puback(packet: &[u8]) -> bool {
    packet.first() == Some(&0x40) && packet.len() >= 4
}

/// Whether `packet` is the PUBACK of `pkid`: type 4, then after the
/// remaining length the packet id.
fn is_puback_of(packet: &[u8], pkid: u16) -> bool {
    if !is_puback(packet) {
        return false;
    }
    let length_bytes = packet[1..]
        .iter()
        .take(4)
        .position(|byte| byte & 0x80 == 0)
        .map_or(4, |last| last + 1);
    let id = 1 + length_bytes;
    packet.get(id..id + 2) == Some(&pkid.to_be_bytes()[..])
}

/// Sleeps until `fd` is readable, at most `timeout` (poll(2) counts
/// milliseconds: rounded up, so that a short wait is not a busy one).
fn wait_readable(fd: RawFd, timeout: Duration) {
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    let mut socket = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; an interrupted or failed poll only means
    // the caller looks at the socket again.
    unsafe { libc::poll(&mut socket, 1, millis) };
}

#[cfg(test)]
mod tests {
    use super::{is_puback, is_puback_of};

    #[test]
    fn a_puback_is_told_by_its_type_and_packet_id() {
        assert!(is_puback_of(&[0x40, 0x02, 0x01, 0x2c], 300));
        assert!(!is_puback_of(&[0x40, 0x02, 0x01, 0x2d], 300));
        // MQTT 5: a reason code and properties may follow.
        assert!(is_puback_of(&[0x40, 0x04, 0x00, 0x07, 0x10, 0x00], 7));
        assert!(!is_puback_of(&[0x50, 0x02, 0x00, 0x07], 7), "PUBREC");
        assert!(!is_puback_of(&[0x40, 0x02, 0x00], 7), "cut short");
        assert!(!is_puback_of(&[], 7));
        assert!(is_puback(&[0x40, 0x02, 0x00, 0x07]));
        assert!(!is_puback(&[0x50, 0x02, 0x00, 0x07]), "PUBREC");
    }
}
