//! Writing on the caller's thread. While the connection is plain TCP, its
//! event loop shares the socket and rumqttc's protocol state; the PHP thread
//! writes a packet itself when nothing waits ahead of it, instead of handing
//! it to the event loop and waking that thread for it.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use rumqttc::{QoS, SharedTcp, Written};

use super::{v311, v5};
use crate::properties::Properties;

pub struct Direct {
    socket: Arc<SharedTcp>,
    state: State,
}

enum State {
    V311(Arc<Mutex<rumqttc::MqttState>>),
    V5(Arc<Mutex<rumqttc::v5::MqttState>>),
}

impl Direct {
    pub(super) fn v311(socket: Arc<SharedTcp>, state: Arc<Mutex<rumqttc::MqttState>>) -> Self {
        Direct {
            socket,
            state: State::V311(state),
        }
    }

    pub(super) fn v5(socket: Arc<SharedTcp>, state: Arc<Mutex<rumqttc::v5::MqttState>>) -> Self {
        Direct {
            socket,
            state: State::V5(state),
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
        let packet = match self.state {
            State::V311(_) => v311::encode_qos0(topic, payload, retain),
            State::V5(_) => v5::encode_qos0(topic, payload, retain, properties),
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

    /// A QoS 1 or 2 publish while nothing else is in flight: recorded in
    /// rumqttc's state as its event loop would record it, so that it knows
    /// the acknowledgement, then written. Returns its packet id; `None`
    /// leaves the message to the outbox's way.
    pub fn publish_acknowledged(
        &self,
        topic: &str,
        payload: &Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<&Properties>,
    ) -> Option<u16> {
        let (pkid, packet) = match &self.state {
            State::V311(state) => v311::record_publish(state, topic, payload, qos, retain)?,
            State::V5(state) => v5::record_publish(state, topic, payload, qos, retain, properties)?,
        };
        self.socket.write_or_queue(&packet);
        Some(pkid)
    }

    /// Nothing is left of a packet the socket took only in part.
    pub fn is_drained(&self) -> bool {
        self.socket.is_drained()
    }

    fn write_now(&self, packet: Option<BytesMut>) -> bool {
        packet.is_some_and(|packet| self.socket.write_now(&packet) != Written::NotNow)
    }
}
