//! MQTT 5 server redirects: a CONNACK or DISCONNECT with reason 0x9C "use
//! another server" or 0x9D "server moved" and a Server Reference sends the
//! connection to the server it names. No broker at hand sends them, so each
//! test scripts its brokers: they read the client's packets and answer with
//! the packets the test chooses.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::BytesMut;
use mqtt_broadcast_core::config::{Config, Protocol};
use mqtt_broadcast_core::connection::{Connection, ConnectionState};
use mqtt_broadcast_core::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnAckProperties, ConnectReturnCode, Disconnect, DisconnectProperties,
    DisconnectReasonCode, Packet, PingResp, PubAck,
};
use rumqttc::v5::mqttbytes::Error as DecodeError;

// Its scripted broker speaks MQTT 3.1.1: only its helpers are used here.
#[allow(dead_code)]
mod support;
use support::{config_for, eventually, open_on, runtime, WAIT};

/// A scripted MQTT 5 broker on a loopback port of its own.
struct Scripted {
    listener: TcpListener,
    port: u16,
}

impl Scripted {
    fn start() -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        Scripted { listener, port }
    }

    /// Accepts the next connection and reads its CONNECT.
    fn accept(&self) -> Peer {
        let (stream, _) = self.listener.accept().expect("the client connects");
        stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
        let mut peer = Peer {
            stream,
            buffer: BytesMut::new(),
        };
        match peer.next() {
            Some(Packet::Connect(..)) => peer,
            other => panic!("expected CONNECT first, the client sent {other:?}"),
        }
    }

    /// Answers every connection with a CONNACK that names `reference`, on a
    /// thread of its own, for as long as the test runs.
    fn redirect_forever(self, reference: String) -> JoinHandle<()> {
        std::thread::spawn(move || loop {
            let mut peer = self.accept();
            peer.send(Packet::ConnAck(refusal(&reference)));
        })
    }
}

struct Peer {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Peer {
    fn send(&mut self, packet: Packet) {
        let mut bytes = BytesMut::new();
        packet.write(&mut bytes, None).expect("the packet encodes");
        self.stream.write_all(&bytes).expect("the broker writes");
    }

    /// The client's next packet; None when it closed the connection.
    fn next(&mut self) -> Option<Packet> {
        loop {
            // A DISCONNECT without a reason code (normal), which the decoder
            // does not take: the client closes.
            if self.buffer.starts_with(&[0xE0, 0x00]) {
                return None;
            }
            // The decoder takes an empty buffer for a malformed packet.
            let decoded = match self.buffer.is_empty() {
                true => Err(DecodeError::InsufficientBytes(2)),
                false => Packet::read(&mut self.buffer, None),
            };
            match decoded {
                Ok(packet) => return Some(packet),
                Err(DecodeError::InsufficientBytes(_)) => {}
                Err(e) => panic!("the client sent a malformed packet: {e}"),
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("the client sent nothing within {WAIT:?}: {e}"),
            }
        }
    }

    /// Accepts the connection and acknowledges every QoS 1 publish.
    fn serve(mut self) -> JoinHandle<()> {
        self.send(Packet::ConnAck(ConnAck {
            session_present: false,
            code: ConnectReturnCode::Success,
            properties: None,
        }));
        std::thread::spawn(move || {
            while let Some(packet) = self.next() {
                match packet {
                    Packet::Publish(publish) if publish.pkid != 0 => {
                        self.send(Packet::PubAck(PubAck::new(publish.pkid, None)))
                    }
                    Packet::PingReq(_) => self.send(Packet::PingResp(PingResp)),
                    Packet::Disconnect(_) => return,
                    _ => {}
                }
            }
        })
    }
}

fn refusal(reference: &str) -> ConnAck {
    ConnAck {
        session_present: false,
        code: ConnectReturnCode::UseAnotherServer,
        properties: Some(ConnAckProperties {
            session_expiry_interval: None,
            receive_max: None,
            max_qos: None,
            retain_available: None,
            max_packet_size: None,
            assigned_client_identifier: None,
            topic_alias_max: None,
            reason_string: None,
            user_properties: Vec::new(),
            wildcard_subscription_available: None,
            subscription_identifiers_available: None,
            shared_subscription_available: None,
            server_keep_alive: None,
            response_information: None,
            server_reference: Some(reference.to_owned()),
            authentication_method: None,
            authentication_data: None,
        }),
    }
}

fn open(name: &str, broker: &Scripted, runtime: &tokio::runtime::Runtime) -> Arc<Connection> {
    let config = Config {
        protocol: Protocol::V5,
        ..config_for(broker.port)
    };
    open_on(runtime.handle(), name, config)
}

#[test]
fn a_connack_naming_another_server_sends_the_connection_there() {
    let runtime = runtime();
    let (first, second) = (Scripted::start(), Scripted::start());
    let connection = open("redirected-by-connack", &first, &runtime);

    first.accept().send(Packet::ConnAck(refusal(&format!(
        "127.0.0.1:{}",
        second.port
    ))));
    let served = second.accept().serve();

    let status = eventually(&connection, "connected to the second server", |s| {
        s.state == ConnectionState::Connected
    });
    assert_eq!(status.server, format!("127.0.0.1:{}", second.port));
    assert_eq!(status.port, second.port);
    let first_error = status.servers[0].1.as_deref().unwrap_or_default();
    assert!(first_error.contains("sent the client to"), "{first_error}");
    connection
        .publish_sync("a/b", b"there", QoS::AtLeastOnce, false, None, WAIT)
        .expect("the second server acknowledges");
    connection.close();
    served.join().expect("the second server's script ends");
}

#[test]
fn a_disconnect_naming_another_server_moves_the_connection_there() {
    let runtime = runtime();
    let (first, second) = (Scripted::start(), Scripted::start());
    let connection = open("redirected-by-disconnect", &first, &runtime);
    let mut old = first.accept();
    old.send(Packet::ConnAck(ConnAck {
        session_present: false,
        code: ConnectReturnCode::Success,
        properties: None,
    }));
    eventually(&connection, "connected to the first server", |s| {
        s.state == ConnectionState::Connected
    });

    old.send(Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::ServerMoved,
        properties: Some(DisconnectProperties {
            session_expiry_interval: None,
            reason_string: None,
            user_properties: Vec::new(),
            server_reference: Some(format!("127.0.0.1:{}", second.port)),
        }),
    }));
    let served = second.accept().serve();
    let status = eventually(&connection, "connected to the second server", |s| {
        s.state == ConnectionState::Connected && s.port == second.port
    });
    assert_eq!(status.reconnects, 1);
    connection.close();
    served.join().expect("the second server's script ends");
}

#[test]
fn a_loop_of_redirects_is_an_error_and_the_connection_goes_on_trying() {
    let runtime = runtime();
    let looping = Scripted::start();
    let reference = format!("127.0.0.1:{}", looping.port);
    let connection = open("redirected-in-a-loop", &looping, &runtime);
    let _script = looping.redirect_forever(reference);

    let status = eventually(&connection, "the loop is reported", |s| {
        s.last_error
            .as_deref()
            .is_some_and(|e| e.contains("taken for a loop"))
    });
    assert_ne!(status.state, ConnectionState::Connected);
    assert_ne!(status.state, ConnectionState::Failed);
}
