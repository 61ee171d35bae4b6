//! MQTT 3.1.1 and MQTT 5 behind one face.
//!
//! rumqttc has a client and an event loop per protocol version, of the same
//! shape but with their own packet types. The connection talks to the enums
//! here; only `v311` and `v5` know the packets of their version, and turn
//! them into the `Event`s both share.

mod direct;
mod v311;
mod v5;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{QoS, TlsConfiguration, Transport};

use super::close::CloseOptions;
use super::config::{Config, Protocol, Server};
use super::outbox::{Message, Resend};
use super::properties::Properties;
use super::subscriptions::Subscribe;

pub use direct::Direct;

/// What happened on the connection, in the terms both versions share.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// CONNACK accepted the connection.
    Connected(Accepted),
    /// The next publish handed over was written, under this packet id (0 for QoS 0).
    Published(u16),
    /// The next publish handed over waits until its packet id is free again.
    HeldBack,
    /// PUBACK, or PUBCOMP of QoS 2.
    Acknowledged(u16),
    /// PUBREC of QoS 2: PUBREL is on its way.
    Received(u16),
    /// The broker answered a publish with an error reason code (MQTT 5).
    PublishRefused {
        pkid: u16,
        reason: Reason,
    },
    /// The next SUBSCRIBE handed over was written under this packet id.
    Subscribing(u16),
    /// SUBACK; `refusal` says why the broker refused the subscription.
    Subscribed {
        pkid: u16,
        refusal: Option<Reason>,
    },
    /// The next UNSUBSCRIBE handed over was written under this packet id.
    Unsubscribing(u16),
    /// UNSUBACK.
    Unsubscribed(u16),
    Message(Incoming),
    /// DISCONNECT was written and flushed.
    Disconnecting,
    /// Nothing the connection tracks (pings…).
    Other,
}

/// A reason code the broker answered with, and the reason string it may add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub code: u8,
    pub text: &'static str,
    pub detail: Option<String>,
}

impl Reason {
    pub fn new(code: u8, text: &'static str) -> Self {
        Reason {
            code,
            text,
            detail: None,
        }
    }

    /// With the broker's own explanation (MQTT 5 reason string), if any.
    pub fn with_detail(mut self, detail: Option<String>) -> Self {
        self.detail = detail.filter(|d| !d.is_empty());
        self
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (reason code 0x{:02X})", self.text, self.code)?;
        match &self.detail {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

/// What the broker's CONNACK says about the connection.
#[derive(Debug, PartialEq)]
pub struct Accepted {
    pub session_present: bool,
    /// QoS 1/2 publishes the broker takes unacknowledged (MQTT 5 only).
    pub receive_maximum: Option<u16>,
    /// The largest packet the broker takes (MQTT 5 only).
    pub maximum_packet_size: Option<u32>,
    /// The client id the broker chose, for an empty one (MQTT 5 only).
    pub assigned_client_id: Option<String>,
}

/// A PUBLISH from the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub pkid: u16,
    pub properties: Option<Properties>,
    /// MQTT 5: the subscriptions this copy is for.
    pub identifiers: Vec<usize>,
}

/// Why a connection attempt or connection failed, and whether it was
/// refused (credentials, authorization, the TLS handshake): retrying goes
/// on, but waiting does not fix a refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub reason: String,
    pub refused: bool,
    /// The return code (MQTT 3.1.1) or reason code (MQTT 5) of a CONNACK
    /// that refused the connection.
    pub code: Option<u8>,
    /// The Server Reference of an MQTT 5 CONNACK or DISCONNECT that sent the
    /// client to another server.
    pub redirect: Option<String>,
}

impl Failure {
    pub(super) fn timed_out() -> Self {
        Failure {
            reason: "timed out connecting to the broker".to_owned(),
            refused: false,
            code: None,
            redirect: None,
        }
    }

    /// The broker refused the connection in its CONNACK.
    pub(super) fn connack(reason: String, code: u8) -> Self {
        Failure {
            reason,
            refused: true,
            code: Some(code),
            redirect: None,
        }
    }
}

/// The PHP thread's side: hands requests to the event loop without waiting.
/// Each call says whether the request channel took it.
pub enum Requests {
    V311(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// The task's side: owns the socket, and the protocol state.
pub enum EventLoop {
    V311(rumqttc::EventLoop),
    V5(Box<rumqttc::v5::EventLoop>),
}

/// A client and its event loop for `config`'s protocol version.
pub fn open(
    config: &Config,
    client_id: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    capacity: usize,
) -> (Requests, EventLoop) {
    match config.protocol {
        Protocol::V311 => {
            let (client, eventloop) = v311::open(config, client_id, tls, capacity);
            (Requests::V311(client), EventLoop::V311(eventloop))
        }
        Protocol::V5 => {
            let (client, eventloop) = v5::open(config, client_id, tls, capacity);
            (Requests::V5(client), EventLoop::V5(Box::new(eventloop)))
        }
    }
}

impl Requests {
    pub fn publish(&self, message: &Message) -> bool {
        match self {
            Requests::V311(client) => v311::publish(client, message),
            Requests::V5(client) => v5::publish(client, message),
        }
    }

    pub fn subscribe(&self, subscribe: &Subscribe) -> bool {
        match self {
            Requests::V311(client) => client
                .try_subscribe(subscribe.filter.as_str(), subscribe.qos)
                .is_ok(),
            Requests::V5(client) => v5::subscribe(client, subscribe),
        }
    }

    pub fn unsubscribe(&self, filter: String) -> bool {
        match self {
            Requests::V311(client) => client.try_unsubscribe(filter).is_ok(),
            Requests::V5(client) => client.try_unsubscribe(filter).is_ok(),
        }
    }

    /// PUBACK (QoS 1) or PUBREC (QoS 2) of a received message.
    pub fn acknowledge(&self, pkid: u16, qos: QoS) -> bool {
        match self {
            Requests::V311(client) => v311::acknowledge(client, pkid, qos),
            Requests::V5(client) => v5::acknowledge(client, pkid, qos),
        }
    }

    /// MQTT 3.1.1's DISCONNECT has no content: `options` are MQTT 5's
    /// (`CloseOptions::check_for` refuses them on 3.1.1).
    pub fn disconnect(&self, options: &CloseOptions) -> bool {
        match self {
            Requests::V311(client) => client.try_disconnect().is_ok(),
            Requests::V5(client) => v5::disconnect(client, options),
        }
    }
}

impl EventLoop {
    /// Points the next connection at `server`: its address, TLS or not,
    /// WebSocket or not, and the credentials of its URL when it had some.
    pub fn set_server(
        &mut self,
        config: &Config,
        server: &Server,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) {
        let tls = tls
            .filter(|_| config.uses_tls(server))
            .map(|tls| TlsConfiguration::Rustls(tls.clone()));
        // Over WebSocket, rumqttc takes the address from the URL.
        let (address, transport) = match (server.websocket_url(), tls) {
            (None, Some(tls)) => (server.host.clone(), Transport::tls_with_config(tls)),
            (None, None) => (server.host.clone(), Transport::tcp()),
            (Some(url), Some(tls)) => (url, Transport::wss_with_config(tls)),
            (Some(url), None) => (url, Transport::Ws),
        };
        let password = server.password.clone().unwrap_or_default();
        match self {
            EventLoop::V311(eventloop) => {
                let options = &mut eventloop.mqtt_options;
                options.set_broker_address(address.as_str(), server.port);
                options.set_transport(transport);
                if let Some(username) = &server.username {
                    options.set_credentials(username.as_str(), password);
                }
            }
            EventLoop::V5(eventloop) => {
                let options = &mut eventloop.options;
                options.set_broker_address(address.as_str(), server.port);
                options.set_transport(transport);
                if let Some(username) = &server.username {
                    options.set_credentials(username.as_str(), password);
                }
            }
        }
    }

    /// The next event; while connecting, bounded by `connect_timeout`
    /// (rumqttc's own timeout counts whole seconds).
    pub async fn poll(&mut self, connecting: Option<Duration>) -> Result<Event, Failure> {
        let polled = async {
            match self {
                EventLoop::V311(eventloop) => v311::poll(eventloop).await,
                EventLoop::V5(eventloop) => v5::poll(eventloop).await,
            }
        };
        match connecting {
            None => polled.await,
            Some(timeout) => tokio::time::timeout(timeout, polled)
                .await
                .unwrap_or_else(|_| Err(Failure::timed_out())),
        }
    }

    /// While the connection is TCP, plain or TLS: what the PHP thread needs to
    /// write packets itself.
    pub fn direct(&self) -> Option<Direct> {
        match self {
            EventLoop::V311(eventloop) => {
                Some(Direct::v311(eventloop.shared()?, eventloop.shared_state()))
            }
            EventLoop::V5(eventloop) => {
                Some(Direct::v5(eventloop.shared()?, eventloop.shared_state()))
            }
        }
    }

    /// Events the protocol state produced that `poll` has not returned yet:
    /// after a failure they still tell what was written and acknowledged.
    pub fn take_events(&mut self) -> Vec<Event> {
        match self {
            EventLoop::V311(eventloop) => v311::take_events(eventloop),
            EventLoop::V5(eventloop) => v5::take_events(eventloop),
        }
    }

    /// After DISCONNECT: ends our half of the connection; `poll` goes on
    /// reading until the broker ends its half.
    /// A failure shows on the next `poll`.
    pub async fn close_write(&mut self) {
        match self {
            EventLoop::V311(eventloop) => eventloop.close_write().await.ok(),
            EventLoop::V5(eventloop) => eventloop.close_write().await.ok(),
        };
    }

    /// Drops the connection's requests and rumqttc's copies of what was in
    /// flight: the outbox re-sends everything itself.
    pub fn forget(&mut self) {
        match self {
            EventLoop::V311(eventloop) => {
                eventloop.clean();
                eventloop.pending.clear();
                eventloop.state().collision = None;
            }
            EventLoop::V5(eventloop) => {
                eventloop.clean();
                eventloop.pending.clear();
                eventloop.state().collision = None;
            }
        }
    }

    /// Puts the requests a new connection starts with in front of
    /// everything else, replacing rumqttc's copy of the last session's.
    pub fn resume(&mut self, resends: &[Resend<'_>], subscribes: &[Subscribe]) {
        match self {
            EventLoop::V311(eventloop) => v311::resume(eventloop, resends, subscribes),
            EventLoop::V5(eventloop) => v5::resume(eventloop, resends, subscribes),
        }
    }
}

/// Why a connection attempt failed: the TLS problem if there is one, then
/// what the protocol version reports.
fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    super::tls::describe_failure(error).map(|reason| Failure {
        reason,
        refused: true,
        code: None,
        redirect: None,
    })
}
