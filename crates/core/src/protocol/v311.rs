//! MQTT 3.1.1 through rumqttc's top-level client and event loop.

use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, EventLoop, LastWill, MqttOptions, MqttState,
    NetworkOptions, Outgoing, Packet, PubAck, PubRel, Publish, QoS, Request, Subscribe,
    SubscribeReasonCode, TlsConfiguration, Transport,
};

use super::{tls_failure, Accepted, Event, Failure, Incoming, Reason, Resend};
use crate::config::{Config, MAX_PACKET_SIZE};
use crate::outbox::Message;
use crate::properties::variable_int_len;
use crate::subscriptions::Subscribe as Subscription;

pub fn open(
    config: &Config,
    client_id: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    capacity: usize,
) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(client_id, config.host.as_str(), config.port);
    options
        .set_keep_alive(config.keep_alive)
        .set_clean_session(config.clean_session)
        .set_max_packet_size(config.max_packet_size, config.max_packet_size)
        .set_inflight(config.max_inflight)
        // Received messages are acknowledged once PHP handled them.
        .set_manual_acks(true);
    if let Some(username) = &config.username {
        options.set_credentials(
            username.as_str(),
            config.password.clone().unwrap_or_default(),
        );
    }
    if let Some(tls) = tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    }
    if let Some(will) = &config.will {
        let topic = format!("{}{}", config.prefix, will.topic);
        options.set_last_will(LastWill::new(
            topic,
            will.payload.clone(),
            qos(will.qos),
            will.retain,
        ));
    }
    let (client, mut eventloop) = AsyncClient::new(options, capacity);
    eventloop.set_network_options(network_options(config));
    (client, eventloop)
}

pub fn network_options(config: &Config) -> NetworkOptions {
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    network.set_connection_timeout(config.connect_timeout.as_secs_f64().ceil().max(1.0) as u64);
    network
}

/// A validated QoS level (0, 1 or 2).
pub fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

pub fn publish(client: &AsyncClient, message: &Message) -> bool {
    client
        .try_publish_bytes(
            message.topic.as_str(),
            message.qos,
            message.retain,
            message.payload.clone(),
        )
        .is_ok()
}

/// A QoS 0 PUBLISH as it goes on the wire, encoded straight into one
/// buffer: rumqttc's `Publish` would first take copies of its own of the
/// topic and the payload, two allocations more on every `publish()`.
pub fn encode_qos0(topic: &str, payload: &[u8], retain: bool) -> Option<BytesMut> {
    let topic_len = u16::try_from(topic.len()).ok()?;
    let remaining = 2 + topic.len() + payload.len();
    if remaining > MAX_PACKET_SIZE {
        return None;
    }
    let mut packet = BytesMut::with_capacity(1 + variable_int_len(remaining) + remaining);
    packet.put_u8(0x30 | u8::from(retain));
    put_variable_int(&mut packet, remaining);
    packet.put_u16(topic_len);
    packet.extend_from_slice(topic.as_bytes());
    packet.extend_from_slice(payload);
    Some(packet)
}

/// MQTT's variable byte integer: seven bits a byte, least significant first.
fn put_variable_int(packet: &mut BytesMut, mut value: usize) {
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            packet.put_u8(byte);
            return;
        }
        packet.put_u8(byte | 0x80);
    }
}

/// Records a QoS 1/2 publish in rumqttc's state for the caller to write, when
/// its packet id is `free` (see `MqttState::record_written_publish`): its
/// packet id and the packet.
pub fn record_publish(
    state: &Mutex<MqttState>,
    topic: &str,
    payload: &Bytes,
    qos: QoS,
    retain: bool,
    free: impl FnOnce(u16) -> bool,
) -> Option<(u16, BytesMut)> {
    let mut publish = Publish::from_bytes(topic, qos, payload.clone());
    publish.retain = retain;
    let publish = rumqttc::lock(state).record_written_publish(publish, free)?;
    let mut packet = BytesMut::with_capacity(publish.size());
    // Sizes were checked against max_packet_size: it cannot fail. Should it,
    // the state's copy goes out (and fails) on the event loop's way.
    let _ = publish.write(&mut packet);
    Some((publish.pkid, packet))
}

/// A PUBACK the caller's thread read itself: handled by rumqttc's state as
/// its event loop would (which wakes the event loop, should it wait for the
/// room this frees), its events added to `events`. Returns what the state
/// answers with: a publish that waited for this packet id.
pub fn handle_puback(
    state: &Mutex<MqttState>,
    packet: &[u8],
    events: &mut Vec<Event>,
) -> Option<BytesMut> {
    let packet = Packet::read(&mut BytesMut::from(packet), usize::MAX).ok()?;
    let handled = rumqttc::lock(state).handle_incoming_elsewhere(packet);
    let (made, answer) = handled.ok()?;
    events.extend(made.into_iter().map(event));
    let mut bytes = BytesMut::new();
    answer?.write(&mut bytes, usize::MAX).ok()?;
    Some(bytes)
}

/// The PUBACK of a received QoS 1 message as it goes on the wire.
pub fn encode_puback(pkid: u16) -> Option<BytesMut> {
    let puback = PubAck::new(pkid);
    let mut packet = BytesMut::with_capacity(puback.size());
    puback.write(&mut packet).ok()?;
    Some(packet)
}

pub fn acknowledge(client: &AsyncClient, pkid: u16, qos: QoS) -> bool {
    let mut publish = Publish::new("", qos, Vec::new());
    publish.pkid = pkid;
    client.try_ack(&publish).is_ok()
}

pub async fn poll(eventloop: &mut EventLoop) -> Result<Event, Failure> {
    eventloop.poll().await.map(event).map_err(|e| failure(&e))
}

pub fn take_events(eventloop: &mut EventLoop) -> Vec<Event> {
    eventloop.state().events.drain(..).map(event).collect()
}

pub fn resume(eventloop: &mut EventLoop, resends: &[Resend<'_>], subscribes: &[Subscription]) {
    eventloop.pending.clear();
    for resend in resends {
        eventloop.pending.push_back(match resend {
            Resend::Publish(pkid, message) => {
                let mut publish =
                    Publish::from_bytes(&message.topic, message.qos, message.payload.clone());
                publish.retain = message.retain;
                publish.pkid = *pkid;
                publish.dup = true;
                Request::Publish(publish)
            }
            Resend::Release(pkid) => Request::PubRel(PubRel::new(*pkid)),
        });
    }
    for subscribe in subscribes {
        eventloop
            .pending
            .push_back(Request::Subscribe(Subscribe::new(
                &subscribe.filter,
                subscribe.qos,
            )));
    }
}

fn event(event: rumqttc::Event) -> Event {
    use rumqttc::Event::{Incoming as In, Outgoing as Out};
    match event {
        In(Packet::ConnAck(connack)) => Event::Connected(Accepted {
            session_present: connack.session_present,
            receive_maximum: None,
            maximum_packet_size: None,
            assigned_client_id: None,
        }),
        Out(Outgoing::Publish(pkid)) => Event::Published(pkid),
        Out(Outgoing::AwaitAck(_)) => Event::HeldBack,
        In(Packet::PubAck(ack)) => Event::Acknowledged(ack.pkid),
        In(Packet::PubRec(rec)) => Event::Received(rec.pkid),
        In(Packet::PubComp(comp)) => Event::Acknowledged(comp.pkid),
        Out(Outgoing::Subscribe(pkid)) => Event::Subscribing(pkid),
        Out(Outgoing::Unsubscribe(pkid)) => Event::Unsubscribing(pkid),
        In(Packet::UnsubAck(ack)) => Event::Unsubscribed(ack.pkid),
        In(Packet::SubAck(ack)) => Event::Subscribed {
            pkid: ack.pkid,
            refusal: ack
                .return_codes
                .iter()
                .any(|code| matches!(code, SubscribeReasonCode::Failure))
                .then(|| Reason::new(0x80, "not authorized, or an invalid filter for it")),
        },
        In(Packet::Publish(publish)) => Event::Message(Incoming {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
            dup: publish.dup,
            pkid: publish.pkid,
            properties: None,
            identifiers: Vec::new(),
        }),
        Out(Outgoing::Disconnect) => Event::Disconnecting,
        _ => Event::Other,
    }
}

fn failure(error: &ConnectionError) -> Failure {
    if let Some(tls) = tls_failure(error) {
        return tls;
    }
    let (reason, refused) = match error {
        ConnectionError::ConnectionRefused(code) => {
            let reason = format!("the broker refused the connection: {}", refusal(*code));
            return Failure::connack(reason, return_code(*code));
        }
        ConnectionError::NetworkTimeout => return Failure::timed_out(),
        ConnectionError::Io(io) => (format!("network error: {io}"), false),
        ConnectionError::MqttState(state) => (format!("protocol error: {state}"), false),
        other => (other.to_string(), false),
    };
    Failure {
        reason,
        refused,
        code: None,
        redirect: None,
    }
}

/// The CONNACK's return code as MQTT 3.1.1 numbers it.
fn return_code(code: ConnectReturnCode) -> u8 {
    match code {
        ConnectReturnCode::Success => 0,
        ConnectReturnCode::RefusedProtocolVersion => 1,
        ConnectReturnCode::BadClientId => 2,
        ConnectReturnCode::ServiceUnavailable => 3,
        ConnectReturnCode::BadUserNamePassword => 4,
        ConnectReturnCode::NotAuthorized => 5,
    }
}

fn refusal(code: ConnectReturnCode) -> &'static str {
    match code {
        ConnectReturnCode::Success => "success",
        ConnectReturnCode::RefusedProtocolVersion => "unacceptable protocol version",
        ConnectReturnCode::BadClientId => "identifier rejected (client id)",
        ConnectReturnCode::ServiceUnavailable => "server unavailable",
        ConnectReturnCode::BadUserNamePassword => "bad user name or password",
        ConnectReturnCode::NotAuthorized => "not authorized",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What rumqttc's own encoder makes of the same message.
    fn by_rumqttc(topic: &str, payload: &[u8], retain: bool) -> BytesMut {
        let mut publish =
            Publish::from_bytes(topic, QoS::AtMostOnce, Bytes::copy_from_slice(payload));
        publish.retain = retain;
        let mut packet = BytesMut::new();
        publish.write(&mut packet).unwrap();
        packet
    }

    #[test]
    fn a_qos_0_publish_is_encoded_as_rumqttc_encodes_it() {
        // Remaining lengths of one to four bytes, each side of their limits.
        for payload_len in [0, 1, 120, 121, 16_376, 16_377, 2_097_144, 2_097_145] {
            let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
            for retain in [false, true] {
                let packet = encode_qos0("a/b/c", &payload, retain).unwrap();
                assert_eq!(
                    packet,
                    by_rumqttc("a/b/c", &payload, retain),
                    "payload of {payload_len} bytes, retain {retain}"
                );
                assert_eq!(
                    packet.capacity(),
                    packet.len(),
                    "one allocation, of the right size"
                );
            }
        }
        assert_eq!(
            encode_qos0("", b"", false).unwrap(),
            by_rumqttc("", b"", false)
        );
    }

    #[test]
    fn a_topic_longer_than_an_mqtt_string_is_not_encoded() {
        assert!(encode_qos0(&"t".repeat(65_536), b"x", false).is_none());
    }
}
