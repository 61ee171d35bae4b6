//! MQTT 5 through rumqttc's `v5` client and event loop: publish
//! properties, reason codes, session expiry and the broker's receive maximum.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, Disconnect, DisconnectProperties, DisconnectReasonCode, Filter, LastWill,
    LastWillProperties, Packet, PubAck, PubAckReason, PubRecReason, PubRel, Publish,
    PublishProperties, RetainForwardRule, Subscribe, SubscribeProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::{Error as MqttError, QoS as V5QoS};
use rumqttc::v5::{
    AsyncClient, ConnectionError, EventLoop, MqttOptions, MqttState, Request, StateError,
};
use rumqttc::{Outgoing, QoS, TlsConfiguration, Transport};

use super::v311::network_options;
use super::{tls_failure, Accepted, Event, Failure, Incoming, Reason, Resend};
use crate::close::CloseOptions;
use crate::config::{Config, Will};
use crate::outbox::Message;
use crate::properties::Properties;
use crate::subscriptions::Subscribe as Subscription;

pub fn open(
    config: &Config,
    client_id: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    capacity: usize,
) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(client_id, config.host.as_str(), config.port);
    let expiry = config.session_expiry();
    options
        // Validated to be at least 5 s with protocol 5: rumqttc asserts it.
        .set_keep_alive(config.keep_alive)
        .set_clean_start(config.clean_session)
        .set_session_expiry_interval((expiry != 0).then_some(expiry))
        .set_max_packet_size(u32::try_from(config.max_packet_size).ok())
        .set_receive_maximum(Some(config.receive_maximum()))
        // The broker's receive maximum lowers this further on CONNACK.
        .set_outgoing_inflight_upper_limit(config.max_inflight)
        .set_manual_acks(true)
        .set_connection_timeout(network_options(config).connection_timeout())
        .set_network_options(network_options(config));
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
        let qos = qos(super::v311::qos(will.qos));
        options.set_last_will(LastWill::new(
            topic,
            will.payload.clone(),
            qos,
            will.retain,
            will_properties(will, &config.prefix),
        ));
    }
    let (client, eventloop) = AsyncClient::new(options, capacity);
    eventloop.state().topic_aliases = config.topic_aliases;
    (client, eventloop)
}

/// The will's delay and publish properties, the prefix in front of its response topic.
fn will_properties(will: &Will, prefix: &str) -> Option<LastWillProperties> {
    if will.delay_interval.is_none() && will.properties.is_none() {
        return None;
    }
    let properties = will.properties.clone().unwrap_or_default();
    Some(LastWillProperties {
        delay_interval: will.delay_interval,
        payload_format_indicator: properties.payload_format_indicator,
        message_expiry_interval: properties.message_expiry_interval,
        content_type: properties.content_type,
        response_topic: properties
            .response_topic
            .map(|topic| format!("{prefix}{topic}")),
        correlation_data: properties.correlation_data,
        user_properties: properties.user_properties,
    })
}

pub fn qos(qos: QoS) -> V5QoS {
    match qos {
        QoS::AtMostOnce => V5QoS::AtMostOnce,
        QoS::AtLeastOnce => V5QoS::AtLeastOnce,
        QoS::ExactlyOnce => V5QoS::ExactlyOnce,
    }
}

fn from_v5_qos(qos: V5QoS) -> QoS {
    match qos {
        V5QoS::AtMostOnce => QoS::AtMostOnce,
        V5QoS::AtLeastOnce => QoS::AtLeastOnce,
        V5QoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

pub fn publish(client: &AsyncClient, message: &Message) -> bool {
    let properties = message.properties.as_deref().map(to_wire);
    let (topic, qos, retain) = (message.topic.as_str(), qos(message.qos), message.retain);
    let payload = message.payload.clone();
    match properties {
        Some(properties) => {
            client.try_publish_with_properties(topic, qos, retain, payload, properties)
        }
        None => client.try_publish(topic, qos, retain, payload),
    }
    .is_ok()
}

/// A QoS 0 PUBLISH as it goes on the wire, with a topic alias from
/// `aliases`, the protocol state, when the connection gives them.
pub fn encode_qos0(
    aliases: Option<&Mutex<MqttState>>,
    topic: &str,
    payload: &[u8],
    retain: bool,
    properties: Option<&Properties>,
) -> Option<BytesMut> {
    let payload = Bytes::copy_from_slice(payload);
    let mut publish = Publish::new(topic, V5QoS::AtMostOnce, payload, properties.map(to_wire));
    publish.retain = retain;
    if let Some(state) = aliases {
        rumqttc::lock(state).alias_outgoing(&mut publish);
    }
    let mut packet = BytesMut::with_capacity(publish.size());
    publish.write(&mut packet).ok()?;
    Some(packet)
}

/// With the filter's subscription identifier, which the broker's copies carry.
pub fn subscribe(client: &AsyncClient, subscribe: &Subscription) -> bool {
    client
        .try_subscribe_many_with_properties([filter(subscribe)], identified(subscribe))
        .is_ok()
}

/// The filter with its subscription options.
fn filter(subscribe: &Subscription) -> Filter {
    let options = subscribe.options;
    let mut filter = Filter::new(&subscribe.filter, qos(subscribe.qos));
    filter.nolocal = options.no_local;
    filter.preserve_retain = options.retain_as_published;
    filter.retain_forward_rule = match options.retain_handling {
        1 => RetainForwardRule::OnNewSubscribe,
        2 => RetainForwardRule::Never,
        _ => RetainForwardRule::OnEverySubscribe,
    };
    filter
}

fn identified(subscribe: &Subscription) -> SubscribeProperties {
    SubscribeProperties {
        id: Some(subscribe.identifier),
        user_properties: Vec::new(),
    }
}

/// Records a QoS 1/2 publish in rumqttc's state for the caller to write, when
/// its packet id is `free` (see `MqttState::record_written_publish`): its
/// packet id and the packet.
pub fn record_publish(
    state: &Mutex<MqttState>,
    topic: &str,
    payload: &Bytes,
    level: QoS,
    retain: bool,
    properties: Option<&Properties>,
    free: impl FnOnce(u16) -> bool,
) -> Option<(u16, BytesMut)> {
    let properties = properties.map(to_wire);
    let mut publish = Publish::new(topic, qos(level), payload.clone(), properties);
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
    let packet = Packet::read(&mut BytesMut::from(packet), None).ok()?;
    let handled = rumqttc::lock(state).handle_incoming_elsewhere(packet);
    let (made, answer) = handled.ok()?;
    events.extend(made.into_iter().map(event));
    let mut bytes = BytesMut::new();
    answer?.write(&mut bytes, None).ok()?;
    Some(bytes)
}

/// The PUBACK of a received QoS 1 message as it goes on the wire.
pub fn encode_puback(pkid: u16) -> Option<BytesMut> {
    let puback = PubAck::new(pkid, None);
    let mut packet = BytesMut::with_capacity(puback.size());
    puback.write(&mut packet).ok()?;
    Some(packet)
}

pub fn acknowledge(client: &AsyncClient, pkid: u16, level: QoS) -> bool {
    let mut publish = Publish::new("", qos(level), Vec::new(), None);
    publish.pkid = pkid;
    client.try_ack(&publish).is_ok()
}

/// A DISCONNECT with what close() was given; a plain one for none.
pub fn disconnect(client: &AsyncClient, options: &CloseOptions) -> bool {
    if *options == CloseOptions::default() {
        return client.try_disconnect().is_ok();
    }
    // CloseOptions took only codes a client may send, all of which rumqttc knows.
    let Ok(reason_code) = DisconnectReasonCode::try_from(options.reason_code) else {
        return client.try_disconnect().is_ok();
    };
    let properties = (options.session_expiry_interval.is_some() || options.reason_string.is_some())
        .then(|| DisconnectProperties {
            session_expiry_interval: options.session_expiry_interval,
            reason_string: options.reason_string.clone(),
            user_properties: Vec::new(),
            server_reference: None,
        });
    client
        .try_disconnect_with(Disconnect {
            reason_code,
            properties,
        })
        .is_ok()
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
                let properties = message.properties.as_deref().map(to_wire);
                let mut publish = Publish::new(
                    &message.topic,
                    qos(message.qos),
                    message.payload.clone(),
                    properties,
                );
                publish.retain = message.retain;
                publish.pkid = *pkid;
                publish.dup = true;
                Request::Publish(publish)
            }
            Resend::Release(pkid) => Request::PubRel(PubRel::new(*pkid, None)),
        });
    }
    for subscription in subscribes {
        let subscribe = Subscribe::new(filter(subscription), Some(identified(subscription)));
        eventloop.pending.push_back(Request::Subscribe(subscribe));
    }
}

fn to_wire(properties: &Properties) -> PublishProperties {
    PublishProperties {
        message_expiry_interval: properties.message_expiry_interval,
        response_topic: properties.response_topic.clone(),
        correlation_data: properties.correlation_data.clone(),
        user_properties: properties.user_properties.clone(),
        content_type: properties.content_type.clone(),
        payload_format_indicator: properties.payload_format_indicator,
        ..PublishProperties::default()
    }
}

fn from_wire(properties: PublishProperties) -> Option<Properties> {
    let properties = Properties {
        user_properties: properties.user_properties,
        content_type: properties.content_type,
        message_expiry_interval: properties.message_expiry_interval,
        response_topic: properties.response_topic,
        correlation_data: properties.correlation_data,
        payload_format_indicator: properties.payload_format_indicator,
    };
    (properties != Properties::default()).then_some(properties)
}

fn event(event: rumqttc::v5::Event) -> Event {
    use rumqttc::v5::Event::{Incoming as In, Outgoing as Out};
    match event {
        In(Packet::ConnAck(connack)) => Event::Connected(Accepted {
            session_present: connack.session_present,
            receive_maximum: connack.properties.as_ref().and_then(|p| p.receive_max),
            maximum_packet_size: connack.properties.as_ref().and_then(|p| p.max_packet_size),
            assigned_client_id: connack
                .properties
                .and_then(|p| p.assigned_client_identifier),
        }),
        Out(Outgoing::Publish(pkid)) => Event::Published(pkid),
        Out(Outgoing::AwaitAck(_)) => Event::HeldBack,
        In(Packet::PubAck(ack)) => match puback_refusal(ack.reason) {
            None => Event::Acknowledged(ack.pkid),
            Some(reason) => Event::PublishRefused {
                pkid: ack.pkid,
                reason: reason.with_detail(ack.properties.and_then(|p| p.reason_string)),
            },
        },
        In(Packet::PubRec(rec)) => match pubrec_refusal(rec.reason) {
            None => Event::Received(rec.pkid),
            Some(reason) => Event::PublishRefused {
                pkid: rec.pkid,
                reason: reason.with_detail(rec.properties.and_then(|p| p.reason_string)),
            },
        },
        In(Packet::PubComp(comp)) => Event::Acknowledged(comp.pkid),
        Out(Outgoing::Subscribe(pkid)) => Event::Subscribing(pkid),
        Out(Outgoing::Unsubscribe(pkid)) => Event::Unsubscribing(pkid),
        In(Packet::UnsubAck(ack)) => Event::Unsubscribed(ack.pkid),
        In(Packet::SubAck(ack)) => Event::Subscribed {
            pkid: ack.pkid,
            refusal: ack
                .return_codes
                .iter()
                .find_map(|code| subscribe_refusal(*code))
                .map(|reason| reason.with_detail(ack.properties.and_then(|p| p.reason_string))),
        },
        In(Packet::Publish(mut publish)) => Event::Message(Incoming {
            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
            payload: publish.payload,
            qos: from_v5_qos(publish.qos),
            retain: publish.retain,
            dup: publish.dup,
            pkid: publish.pkid,
            identifiers: publish
                .properties
                .as_mut()
                .map(|p| std::mem::take(&mut p.subscription_identifiers))
                .unwrap_or_default(),
            properties: publish.properties.and_then(from_wire),
        }),
        Out(Outgoing::Disconnect) => Event::Disconnecting,
        _ => Event::Other,
    }
}

fn puback_refusal(reason: PubAckReason) -> Option<Reason> {
    let (code, text) = match reason {
        PubAckReason::Success | PubAckReason::NoMatchingSubscribers => return None,
        PubAckReason::UnspecifiedError => (0x80, "unspecified error"),
        PubAckReason::ImplementationSpecificError => (0x83, "implementation specific error"),
        PubAckReason::NotAuthorized => (0x87, "not authorized"),
        PubAckReason::TopicNameInvalid => (0x90, "topic name invalid"),
        PubAckReason::PacketIdentifierInUse => (0x91, "packet identifier in use"),
        PubAckReason::QuotaExceeded => (0x97, "quota exceeded"),
        PubAckReason::PayloadFormatInvalid => (0x99, "payload format invalid"),
    };
    Some(Reason::new(code, text))
}

fn pubrec_refusal(reason: PubRecReason) -> Option<Reason> {
    let (code, text) = match reason {
        PubRecReason::Success | PubRecReason::NoMatchingSubscribers => return None,
        PubRecReason::UnspecifiedError => (0x80, "unspecified error"),
        PubRecReason::ImplementationSpecificError => (0x83, "implementation specific error"),
        PubRecReason::NotAuthorized => (0x87, "not authorized"),
        PubRecReason::TopicNameInvalid => (0x90, "topic name invalid"),
        PubRecReason::PacketIdentifierInUse => (0x91, "packet identifier in use"),
        PubRecReason::QuotaExceeded => (0x97, "quota exceeded"),
        PubRecReason::PayloadFormatInvalid => (0x99, "payload format invalid"),
    };
    Some(Reason::new(code, text))
}

fn subscribe_refusal(reason: SubscribeReasonCode) -> Option<Reason> {
    let (code, text) = match reason {
        SubscribeReasonCode::Success(_) => return None,
        SubscribeReasonCode::Failure | SubscribeReasonCode::Unspecified => {
            (0x80, "unspecified error")
        }
        SubscribeReasonCode::ImplementationSpecific => (0x83, "implementation specific error"),
        SubscribeReasonCode::NotAuthorized => (0x87, "not authorized"),
        SubscribeReasonCode::TopicFilterInvalid => (0x8F, "topic filter invalid"),
        SubscribeReasonCode::PkidInUse => (0x91, "packet identifier in use"),
        SubscribeReasonCode::QuotaExceeded => (0x97, "quota exceeded"),
        SubscribeReasonCode::SharedSubscriptionsNotSupported => {
            (0x9E, "shared subscriptions not supported")
        }
        SubscribeReasonCode::SubscriptionIdNotSupported => {
            (0xA1, "subscription identifiers not supported")
        }
        SubscribeReasonCode::WildcardSubscriptionsNotSupported => {
            (0xA2, "wildcard subscriptions not supported")
        }
    };
    Some(Reason::new(code, text))
}

fn connect_refusal(code: ConnectReturnCode) -> Reason {
    let (code, text) = match code {
        ConnectReturnCode::Success => (0x00, "success"),
        ConnectReturnCode::RefusedProtocolVersion => (0x01, "unacceptable protocol version"),
        ConnectReturnCode::BadClientId => (0x02, "identifier rejected (client id)"),
        ConnectReturnCode::ServiceUnavailable => (0x03, "server unavailable"),
        ConnectReturnCode::UnspecifiedError => (0x80, "unspecified error"),
        ConnectReturnCode::MalformedPacket => (0x81, "malformed packet"),
        ConnectReturnCode::ProtocolError => (0x82, "protocol error"),
        ConnectReturnCode::ImplementationSpecificError => (0x83, "implementation specific error"),
        ConnectReturnCode::UnsupportedProtocolVersion => (0x84, "unsupported protocol version"),
        ConnectReturnCode::ClientIdentifierNotValid => (0x85, "client identifier not valid"),
        ConnectReturnCode::BadUserNamePassword => (0x86, "bad user name or password"),
        ConnectReturnCode::NotAuthorized => (0x87, "not authorized"),
        ConnectReturnCode::ServerUnavailable => (0x88, "server unavailable"),
        ConnectReturnCode::ServerBusy => (0x89, "server busy"),
        ConnectReturnCode::Banned => (0x8A, "banned"),
        ConnectReturnCode::BadAuthenticationMethod => (0x8C, "bad authentication method"),
        ConnectReturnCode::TopicNameInvalid => (0x90, "topic name invalid"),
        ConnectReturnCode::PacketTooLarge => (0x95, "packet too large"),
        ConnectReturnCode::QuotaExceeded => (0x97, "quota exceeded"),
        ConnectReturnCode::PayloadFormatInvalid => (0x99, "payload format invalid"),
        ConnectReturnCode::RetainNotSupported => (0x9A, "retain not supported"),
        ConnectReturnCode::QoSNotSupported => (0x9B, "QoS not supported"),
        ConnectReturnCode::UseAnotherServer => (0x9C, "use another server"),
        ConnectReturnCode::ServerMoved => (0x9D, "server moved"),
        ConnectReturnCode::ConnectionRateExceeded => (0x9F, "connection rate exceeded"),
    };
    Reason::new(code, text)
}

fn failure(error: &ConnectionError) -> Failure {
    if let Some(tls) = tls_failure(error) {
        return tls;
    }
    // A TLS alert read while waiting for CONNACK arrives as a codec error,
    // which does not expose its source.
    if let ConnectionError::MqttState(StateError::Deserialization(MqttError::Io(io))) = error {
        if let Some(tls) = tls_failure(io) {
            return tls;
        }
    }
    let (reason, refused) = match error {
        ConnectionError::ConnectionRefused(code)
        | ConnectionError::MqttState(StateError::ConnFail { reason: code }) => {
            let refusal = connect_refusal(*code);
            let reason = format!("the broker refused the connection: {refusal}");
            return Failure::connack(reason, refusal.code);
        }
        ConnectionError::Redirected {
            code,
            server_reference,
        } => {
            // Not a refusal: the messages go to the server it names.
            let refusal = connect_refusal(*code);
            return Failure {
                reason: format!("the broker sent the client to {server_reference:?}: {refusal}"),
                refused: false,
                code: Some(refusal.code),
                redirect: Some(server_reference.clone()),
            };
        }
        ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code,
            server_reference: Some(server_reference),
            ..
        }) => {
            return Failure {
                reason: format!(
                    "the broker closed the connection and sent the client to {server_reference:?}: {reason_code:?} (reason code 0x{:02X})",
                    *reason_code as u8
                ),
                refused: false,
                code: None,
                redirect: Some(server_reference.clone()),
            };
        }
        ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code,
            reason_string,
            ..
        }) => (
            match reason_string.as_deref().filter(|r| !r.is_empty()) {
                Some(detail) => format!(
                    "the broker closed the connection: {reason_code:?} (reason code 0x{:02X}): {detail}",
                    *reason_code as u8
                ),
                None => format!(
                    "the broker closed the connection: {reason_code:?} (reason code 0x{:02X})",
                    *reason_code as u8
                ),
            },
            false,
        ),
        ConnectionError::Timeout(_) => return Failure::timed_out(),
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
