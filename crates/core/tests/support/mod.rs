//! A scripted MQTT 3.1.1 broker: the test accepts the client's connection,
//! reads each packet the client sends and writes the broker's answers itself,
//! so it decides when an acknowledgement arrives, whether the broker kept the
//! session, and when the connection drops.
//!
//! The tests are plain `#[test]`s: the connection runs on the broker's tokio
//! runtime, and each scripted step blocks the test's thread on it, bounded by
//! `WAIT`, so a broken test fails instead of hanging.

use std::future::Future;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_broadcast_core::config::{Config, Reconnect};
use mqtt_broadcast_core::connection::{Connection, ConnectionState, Status};
use mqtt_broadcast_core::error::Error;
use mqtt_broadcast_core::QoS;
use rumqttc::mqttbytes::v4::{
    ConnAck, Connect, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, Publish,
};
use rumqttc::mqttbytes::Error as DecodeError;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::time::error::Elapsed;

/// The runtime connections run on: one worker, as in the extension.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A connection to a broker on `port` of loopback that reconnects at once
/// and gives up on nothing: the tests decide when it is connected.
pub fn config_for(port: u16) -> Config {
    Config {
        host: "127.0.0.1".into(),
        port,
        flush_timeout: WAIT,
        reconnect: Reconnect {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retries: 0,
        },
        ..Config::default()
    }
}

/// Opens `name` on `runtime`, the way the registry does.
pub fn open_on(runtime: &Handle, name: &str, config: Config) -> Arc<Connection> {
    Connection::open(name, config, None, std::process::id(), runtime, Vec::new())
}

/// How long any one step may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);
/// How long the client is watched for something it must not do: far longer
/// than it takes to react to a packet on loopback.
pub const QUIET: Duration = Duration::from_millis(200);

const MAX_PACKET_SIZE: usize = 1024 * 1024;

/// Listens on a loopback port of its own; runs the connection under test.
pub struct Broker {
    runtime: Runtime,
    listener: TcpListener,
    port: u16,
}

impl Broker {
    /// Listens on a free loopback port. Nothing is accepted until `accept`:
    /// meanwhile the client's TCP connect succeeds, and it waits for CONNACK.
    pub fn start() -> Broker {
        let runtime = runtime();
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let port = listener.local_addr().expect("the bound address").port();
        Broker {
            runtime,
            listener,
            port,
        }
    }

    /// A connection to this broker (see `config_for`).
    pub fn config(&self) -> Config {
        config_for(self.port)
    }

    /// Opens `name` on the broker's runtime (see `open_on`).
    pub fn open(&self, name: &str, config: Config) -> Arc<Connection> {
        open_on(self.runtime.handle(), name, config)
    }

    /// Accepts the client's next connection and reads its CONNECT; the
    /// session does not answer it until `connack`.
    pub fn accept(&self) -> Session {
        let (stream, _) = within(self.runtime.handle(), WAIT, self.listener.accept())
            .expect("the client connects in time")
            .expect("the client's connection is accepted");
        let mut buffer = BytesMut::new();
        let first = within(
            self.runtime.handle(),
            WAIT,
            read_packet(&stream, &mut buffer),
        );
        let connect = match first {
            Ok(Some(Packet::Connect(connect))) => connect,
            other => panic!("expected CONNECT first, the client sent {other:?}"),
        };
        Session {
            runtime: self.runtime.handle().clone(),
            stream,
            buffer,
            connect,
        }
    }

    /// Accepts the client with a fresh session (CONNACK, session_present
    /// false), and waits until the connection says it is connected.
    pub fn accept_connected(&self, connection: &Connection) -> Session {
        let mut session = self.accept();
        session.connack(false);
        eventually(connection, "connected", |s| {
            s.state == ConnectionState::Connected
        });
        session
    }
}

/// One accepted connection. Dropping it drops the connection, without a word.
pub struct Session {
    runtime: Handle,
    stream: TcpStream,
    buffer: BytesMut,
    /// What the client opened this session with.
    pub connect: Connect,
}

impl Session {
    pub fn connack(&mut self, session_present: bool) {
        self.send(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            session_present,
        )));
    }

    pub fn puback(&mut self, pkid: u16) {
        self.send(Packet::PubAck(PubAck::new(pkid)));
    }

    pub fn pubrec(&mut self, pkid: u16) {
        self.send(Packet::PubRec(PubRec::new(pkid)));
    }

    pub fn pubcomp(&mut self, pkid: u16) {
        self.send(Packet::PubComp(PubComp::new(pkid)));
    }

    /// Writes any packet, SUBACK for one.
    pub fn send(&mut self, packet: Packet) {
        let mut bytes = BytesMut::new();
        packet
            .write(&mut bytes, MAX_PACKET_SIZE)
            .expect("the broker's packet encodes");
        let stream = &self.stream;
        let written = within(&self.runtime, WAIT, async {
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                stream.writable().await?;
                match stream.try_write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        written
            .expect("the broker writes in time")
            .expect("the broker writes to the client");
    }

    /// The next packet the client sends.
    pub fn next_packet(&mut self) -> Packet {
        match self.next_packet_within(WAIT) {
            Some(packet) => packet,
            None => panic!("the client sent nothing within {WAIT:?}"),
        }
    }

    /// The next packet, if the client sends one within `time`.
    pub fn next_packet_within(&mut self, time: Duration) -> Option<Packet> {
        let (stream, buffer) = (&self.stream, &mut self.buffer);
        let read = within(&self.runtime, time, read_packet(stream, buffer));
        match read {
            Ok(Some(packet)) => Some(packet),
            Ok(None) => panic!("the client closed the connection"),
            Err(_) => None,
        }
    }

    pub fn expect_publish(&mut self) -> Publish {
        match self.next_packet() {
            Packet::Publish(publish) => publish,
            other => panic!("expected PUBLISH, the client sent {other:?}"),
        }
    }

    /// The packet id of the PUBREL the client sends next.
    pub fn expect_pubrel(&mut self) -> u16 {
        match self.next_packet() {
            Packet::PubRel(pubrel) => pubrel.pkid,
            other => panic!("expected PUBREL, the client sent {other:?}"),
        }
    }

    /// The client sends nothing for a while: `why` says what it must not do.
    pub fn expect_silence(&mut self, why: &str) {
        if let Some(packet) = self.next_packet_within(QUIET) {
            panic!("{why}, but the client sent {packet:?}");
        }
    }

    /// `connection.close()` says DISCONNECT; the broker then ends the connection.
    pub fn close(mut self, connection: &Arc<Connection>) {
        let closing = {
            let connection = connection.clone();
            std::thread::spawn(move || connection.close())
        };
        match self.next_packet() {
            Packet::Disconnect => {}
            other => panic!("expected DISCONNECT on close, the client sent {other:?}"),
        }
        drop(self);
        closing.join().expect("close() returns");
    }
}

/// Runs `future` to its end on `runtime`, for at most `time`.
fn within<F: Future>(runtime: &Handle, time: Duration, future: F) -> Result<F::Output, Elapsed> {
    runtime.block_on(async { tokio::time::timeout(time, future).await })
}

async fn read_packet(stream: &TcpStream, buffer: &mut BytesMut) -> Option<Packet> {
    loop {
        match Packet::read(buffer, MAX_PACKET_SIZE) {
            Ok(packet) => return Some(packet),
            Err(DecodeError::InsufficientBytes(_)) => {}
            Err(e) => panic!("the client sent a malformed packet: {e}"),
        }
        stream.readable().await.ok()?;
        let mut chunk = [0u8; 4096];
        match stream.try_read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
    }
}

/// Polls `status()` until `done`; fails the test with the last status when
/// it does not happen within `WAIT`. `what` says what is waited for.
pub fn eventually(connection: &Connection, what: &str, done: impl Fn(&Status) -> bool) -> Status {
    let deadline = Instant::now() + WAIT;
    loop {
        let status = connection.status();
        if done(&status) {
            return status;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting until {what}: {status:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `publish_sync()` on a thread of its own; its result arrives on the receiver.
pub fn publish_sync_in_background(
    connection: &Arc<Connection>,
    topic: &str,
    qos: QoS,
) -> mpsc::Receiver<Result<(), Error>> {
    let (done, result) = mpsc::channel();
    let connection = connection.clone();
    let topic = topic.to_owned();
    std::thread::spawn(move || {
        let _ = done.send(connection.publish_sync(&topic, b"sync", qos, false, None, WAIT));
    });
    result
}
