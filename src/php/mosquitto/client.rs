//! `Mosquitto\Client`: Mosquitto-PHP's client on one of this extension's
//! connections. The connection works in the background as every connection
//! does (reconnecting, re-sending QoS 1/2, flushing at the end); the
//! callbacks run on PHP's thread inside `loop()` and `loopForever()`, in the
//! order things happened.

// Parameters are named as Mosquitto-PHP names them, for PHP's named arguments.
#![allow(non_snake_case)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ext_php_rs::binary::Binary;
use ext_php_rs::convert::{IntoZval, IntoZvalDyn};
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendClassObject;

use mqtt_broadcast_core::close::CloseOptions;
use mqtt_broadcast_core::config::{Config, Value};
use mqtt_broadcast_core::connection::{Connection, Outcome};
use mqtt_broadcast_core::deadline;
use mqtt_broadcast_core::events::EventKind;
use mqtt_broadcast_core::inbox::Inbox;
use mqtt_broadcast_core::registry;
use mqtt_broadcast_core::runtime::current_pid;
use mqtt_broadcast_core::subscriptions::SubscriptionState;
use mqtt_broadcast_core::QoS;

use super::super::subscriber::{dispatch_signals, Handler};
use super::message::MosquittoMessage;
use super::{exception, flush_timeout, remember};

const NOT_CONNECTED: &str = "The client is not currently connected.";
/// How often a waiting loop looks at what it waits for besides messages
/// (acknowledgements, connection events) and at pending signals.
const STEP: Duration = Duration::from_millis(5);
/// Messages handled by one loop() at most, so that it returns under a flood.
const MESSAGES_PER_LOOP: usize = 1000;
/// libmosquitto's log levels.
const LOG_INFO: i64 = 1;
const LOG_NOTICE: i64 = 2;
const LOG_WARNING: i64 = 4;
const LOG_ERR: i64 = 8;
const LOG_DEBUG: i64 = 16;
/// libmosquitto's error number for a lost connection, given to onDisconnect.
const CONNECTION_LOST: i64 = 7;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A client of one broker, with Mosquitto-PHP's API.
#[php_class]
#[php(name = "Mosquitto\\Client")]
pub struct MosquittoClient {
    settings: RefCell<Settings>,
    callbacks: Callbacks,
    session: RefCell<Option<Rc<Session>>>,
    next_mid: Cell<u16>,
    looping: Cell<bool>,
}

/// What applies at the next connect().
#[derive(Clone)]
struct Settings {
    id: Option<String>,
    clean_session: bool,
    username: Option<String>,
    password: Option<Vec<u8>>,
    tls: Option<Vec<(String, Value)>>,
    verify_hostname: bool,
    will: Option<Vec<(String, Value)>>,
    reconnect: (f64, f64),
    max_inflight: Option<i64>,
}

#[derive(Default)]
struct Callbacks {
    connect: RefCell<Option<Rc<Handler>>>,
    disconnect: RefCell<Option<Rc<Handler>>>,
    log: RefCell<Option<Rc<Handler>>>,
    subscribe: RefCell<Option<Rc<Handler>>>,
    unsubscribe: RefCell<Option<Rc<Handler>>>,
    message: RefCell<Option<Rc<Handler>>>,
    publish: RefCell<Option<Rc<Handler>>>,
}

/// One connect() until disconnect(), the object's end or the request's.
pub struct Session {
    connection: ManuallyDrop<Arc<Connection>>,
    pid: u32,
    inbox: Arc<Inbox>,
    client_id: String,
    events_seen: Cell<u64>,
    /// Message ids of publishes and what tells their outcome, oldest first.
    publishes: RefCell<VecDeque<(u16, QoS, Outcome)>>,
    /// Message ids of subscribes and the subscription they wait on.
    subscribes: RefCell<VecDeque<(u16, u64)>>,
    /// Message ids of unsubscribes and the filter whose UNSUBACK they wait
    /// for; none when no UNSUBSCRIBE went out (nothing to wait for).
    unsubscribes: RefCell<VecDeque<(u16, Option<String>)>>,
    closed: Cell<bool>,
}

impl Session {
    fn is_live(&self) -> bool {
        !self.closed.get() && self.pid == current_pid()
    }

    /// Flushes (bounded by the ini setting), says DISCONNECT and forgets
    /// the connection. Once; in a forked child it only forgets.
    pub fn close(&self) {
        if self.closed.replace(true) || self.pid != current_pid() {
            return;
        }
        // A persistent session keeps its subscriptions on the broker.
        self.connection.forget_inbox(&self.inbox, true);
        let flush = Duration::try_from_secs_f64(flush_timeout()).unwrap_or(Duration::MAX);
        self.connection.flush(flush);
        registry::close(&self.connection, CloseOptions::default());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
        if self.pid == current_pid() {
            // SAFETY: dropped once, in the process that made it; in a forked
            // child the connection's threads do not exist, so it is forgotten.
            unsafe { ManuallyDrop::drop(&mut self.connection) };
        }
    }
}

#[php_impl]
impl MosquittoClient {
    pub const LOG_INFO: i64 = LOG_INFO;
    pub const LOG_NOTICE: i64 = LOG_NOTICE;
    pub const LOG_WARNING: i64 = LOG_WARNING;
    pub const LOG_ERR: i64 = LOG_ERR;
    pub const LOG_DEBUG: i64 = LOG_DEBUG;
    pub const SSL_VERIFY_NONE: i64 = 0;
    pub const SSL_VERIFY_PEER: i64 = 1;

    /// A client with `$id` (null: one is generated); a persistent session
    /// (`$cleanSession` false) needs an id.
    #[php(defaults(cleanSession = true))]
    #[php(optional = id)]
    pub fn __construct(id: Option<String>, cleanSession: bool) -> PhpResult<Self> {
        if id.is_none() && !cleanSession {
            return Err(exception(
                "a client without an id must use a clean session: give an id, or $cleanSession true",
            ));
        }
        let settings = Settings {
            id,
            clean_session: cleanSession,
            username: None,
            password: None,
            tls: None,
            verify_hostname: true,
            will: None,
            reconnect: (1.0, 1.0),
            max_inflight: None,
        };
        settings.config("127.0.0.1", 1883, 60)?;
        Ok(MosquittoClient {
            settings: RefCell::new(settings),
            callbacks: Callbacks::default(),
            session: RefCell::new(None),
            next_mid: Cell::new(0),
            looping: Cell::new(false),
        })
    }

    /// The username and password sent at connect().
    pub fn set_credentials(&self, username: String, password: Binary<u8>) -> PhpResult<()> {
        let mut settings = self.settings.borrow().clone();
        settings.username = Some(username);
        settings.password = Some(password.into());
        self.replace_settings(settings)
    }

    /// TLS, trusting the CA certificates of `$caPath` (a PEM file or a
    /// directory of them), with a client certificate when given.
    #[php(optional = certFile)]
    pub fn set_tls_certificates(
        &self,
        caPath: String,
        certFile: Option<String>,
        keyFile: Option<String>,
        password: Option<String>,
    ) -> PhpResult<()> {
        if password.is_some() {
            return Err(exception(
                "encrypted private keys are not supported: decrypt the key file (openssl pkey -in key.pem -out plain.pem) and pass no password",
            ));
        }
        let mut tls = vec![("ca_file".to_owned(), Value::Str(caPath))];
        match (certFile, keyFile) {
            (Some(cert), Some(key)) => {
                tls.push(("cert_file".to_owned(), Value::Str(cert)));
                tls.push(("key_file".to_owned(), Value::Str(key)));
            }
            (None, None) => {}
            _ => {
                return Err(exception(
                    "$certFile and $keyFile go together: give both or neither",
                ))
            }
        }
        let mut settings = self.settings.borrow().clone();
        let verify_peer = settings.tls_entry("verify_peer");
        settings.tls = Some(tls);
        if let Some(verify_peer) = verify_peer {
            settings.tls_set("verify_peer", verify_peer);
        }
        self.replace_settings(settings)
    }

    /// True: the broker's certificate must still be signed by a trusted CA,
    /// but need not be valid for the host name.
    pub fn set_tls_insecure(&self, value: bool) -> PhpResult<()> {
        let mut settings = self.settings.borrow().clone();
        settings.verify_hostname = !value;
        self.replace_settings(settings)
    }

    /// SSL_VERIFY_NONE accepts any certificate; TLS 1.2 and 1.3 are spoken
    /// (rustls has no older version), and cipher lists are not supported.
    #[php(optional = tlsVersion)]
    pub fn set_tls_options(
        &self,
        certReqs: i64,
        tlsVersion: Option<String>,
        ciphers: Option<String>,
    ) -> PhpResult<()> {
        let verify_peer = match certReqs {
            0 => false,
            1 => true,
            other => {
                return Err(exception(format!(
                    "$certReqs must be Mosquitto\\Client::SSL_VERIFY_NONE (0) or SSL_VERIFY_PEER (1), got {other}"
                )))
            }
        };
        match tlsVersion.as_deref() {
            None | Some("tlsv1.2" | "tlsv1.3") => {}
            Some(other) => {
                return Err(exception(format!(
                    "$tlsVersion \"{other}\" is not supported: TLS 1.2 and 1.3 are (\"tlsv1.2\", \"tlsv1.3\"), older versions are insecure"
                )))
            }
        }
        if ciphers.is_some() {
            return Err(exception(
                "$ciphers is not supported: the TLS library chooses among its own safe cipher suites; pass null",
            ));
        }
        let mut settings = self.settings.borrow().clone();
        settings.tls.get_or_insert_with(Vec::new);
        settings.tls_set("verify_peer", Value::Bool(verify_peer));
        self.replace_settings(settings)
    }

    /// Refused: the TLS library (rustls) has no pre-shared keys.
    #[php(name = "setTlsPSK")]
    #[php(optional = ciphers)]
    pub fn set_tls_psk(
        &self,
        psk: String,
        identity: String,
        ciphers: Option<String>,
    ) -> PhpResult<()> {
        let _ = (psk, identity, ciphers);
        Err(exception(
            "TLS-PSK is not supported: the TLS library (rustls) cannot use pre-shared keys; use certificates (setTlsCertificates)",
        ))
    }

    /// The message the broker publishes when this client goes away without disconnect().
    #[php(defaults(qos = 0, retain = false))]
    #[php(optional = qos)]
    pub fn set_will(
        &self,
        topic: String,
        payload: Binary<u8>,
        qos: i64,
        retain: bool,
    ) -> PhpResult<()> {
        let mut settings = self.settings.borrow().clone();
        let payload: Vec<u8> = payload.into();
        settings.will = Some(vec![
            ("topic".to_owned(), Value::Str(topic)),
            ("payload".to_owned(), Value::Bytes(payload)),
            ("qos".to_owned(), Value::Int(qos)),
            ("retain".to_owned(), Value::Bool(retain)),
        ]);
        self.replace_settings(settings)
    }

    pub fn clear_will(&self) {
        self.settings.borrow_mut().will = None;
    }

    /// Seconds between reconnect attempts: `$reconnectDelay`, or with
    /// `$exponentialBackoff` doubling up to `$exponentialDelay`.
    #[php(defaults(exponentialDelay = 0, exponentialBackoff = false))]
    #[php(optional = exponentialDelay)]
    pub fn set_reconnect_delay(
        &self,
        reconnectDelay: i64,
        exponentialDelay: i64,
        exponentialBackoff: bool,
    ) -> PhpResult<()> {
        if reconnectDelay < 0 || exponentialDelay < 0 {
            return Err(exception("reconnect delays must be whole seconds >= 0"));
        }
        let first = reconnectDelay as f64;
        let most = if exponentialBackoff {
            (exponentialDelay as f64).max(first)
        } else {
            first
        };
        let mut settings = self.settings.borrow().clone();
        settings.reconnect = (first, most);
        self.replace_settings(settings)
    }

    /// Connects, waiting for the first attempt: a broker that cannot be
    /// reached throws; one that refuses says so to onConnect in loop().
    #[php(defaults(port = 1883, keepalive = 60))]
    #[php(optional = port)]
    pub fn connect(
        &self,
        host: String,
        port: i64,
        keepalive: i64,
        interface: Option<String>,
    ) -> PhpResult<()> {
        if interface.is_some() {
            return Err(exception(
                "binding to a local interface ($interface) is not supported: pass null",
            ));
        }
        let config = self.settings.borrow().config(&host, port, keepalive)?;
        if let Some(previous) = self.session.borrow_mut().take() {
            previous.close();
        }
        let name = format!(
            "mosquitto-{}-{}",
            current_pid(),
            NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed)
        );
        let connect_timeout = config.connect_timeout;
        let connection = registry::connect(&name, config).map_err(|e| exception(e.to_string()))?;
        let session = Rc::new(Session {
            client_id: connection.status().client_id,
            connection: ManuallyDrop::new(connection),
            pid: current_pid(),
            inbox: Inbox::new(MESSAGES_PER_LOOP),
            events_seen: Cell::new(0),
            publishes: RefCell::default(),
            subscribes: RefCell::default(),
            unsubscribes: RefCell::default(),
            closed: Cell::new(false),
        });
        self.log(
            LOG_DEBUG,
            format!("Client {} sending CONNECT", session.client_id),
        )?;
        let first = session
            .connection
            .wait_first_attempt(deadline::after(connect_timeout + Duration::from_secs(1)));
        let refused = || {
            let (events, _) = session.connection.events_since(0);
            events.iter().any(|event| event.code.is_some())
        };
        match first {
            Some(Ok(())) => {}
            Some(Err(_)) if refused() => {}
            Some(Err(error)) => {
                session.close();
                return Err(exception(error));
            }
            None => {
                session.close();
                return Err(exception(format!("timed out connecting to {host}:{port}")));
            }
        }
        remember(&session);
        *self.session.borrow_mut() = Some(session);
        Ok(())
    }

    /// Flushes what was published (bounded by the ini setting
    /// mqtt_broadcast.mosquitto_flush_timeout), disconnects, calls onDisconnect(0).
    pub fn disconnect(&self) -> PhpResult<()> {
        let session = self.live_session()?;
        self.log(
            LOG_DEBUG,
            format!("Client {} sending DISCONNECT", session.client_id),
        )?;
        session.close();
        self.session.borrow_mut().take();
        self.looping.set(false);
        self.call(
            &self.callbacks.disconnect,
            &[&0i64],
            "the disconnect callback",
        )
    }

    /// Called with ($rc, $message) for each CONNACK: 0 when connected, again after every reconnect.
    pub fn on_connect(&self, callback: Handler) {
        *self.callbacks.connect.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with ($rc): 0 after disconnect(), non-zero when the connection was lost.
    pub fn on_disconnect(&self, callback: Handler) {
        *self.callbacks.disconnect.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with ($level, $message), $level one of the LOG_* constants.
    pub fn on_log(&self, callback: Handler) {
        *self.callbacks.log.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with ($mid, $qosCount) when the broker answered a subscribe().
    pub fn on_subscribe(&self, callback: Handler) {
        *self.callbacks.subscribe.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with ($mid) when the broker answered an unsubscribe().
    pub fn on_unsubscribe(&self, callback: Handler) {
        *self.callbacks.unsubscribe.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with (Mosquitto\Message) for each message; it is acknowledged after the callback returned.
    pub fn on_message(&self, callback: Handler) {
        *self.callbacks.message.borrow_mut() = Some(Rc::new(callback));
    }

    /// Called with ($mid) once the broker acknowledged that publish() (QoS 0: once written).
    pub fn on_publish(&self, callback: Handler) {
        *self.callbacks.publish.borrow_mut() = Some(Rc::new(callback));
    }

    /// The file descriptor of the connection's socket while connected over
    /// TCP (plain or TLS), else -1. The connection's own thread reads it.
    pub fn get_socket(&self) -> i64 {
        self.session
            .borrow()
            .as_ref()
            .filter(|s| s.is_live())
            .and_then(|s| s.connection.socket_fd())
            .map_or(-1, i64::from)
    }

    /// QoS 1/2 messages in flight at once (0: no limit), from the next connect().
    pub fn set_max_in_flight_messages(&self, maxInFlightMessages: i64) -> PhpResult<()> {
        if !(0..=65535).contains(&maxInFlightMessages) {
            return Err(exception(format!(
                "$maxInFlightMessages must be between 0 (no limit) and 65535, got {maxInFlightMessages}"
            )));
        }
        self.settings.borrow_mut().max_inflight = Some(maxInFlightMessages);
        Ok(())
    }

    /// Accepted for compatibility: unacknowledged QoS 1/2 messages are sent
    /// again after a reconnect, as MQTT 3.1.1 says, not on a timer.
    pub fn set_message_retry(&self, messageRetryPeriod: i64) -> PhpResult<()> {
        if messageRetryPeriod < 0 {
            return Err(exception(format!(
                "$messageRetryPeriod must be whole seconds >= 0, got {messageRetryPeriod}"
            )));
        }
        Ok(())
    }

    /// Queues the message; returns its message id, which onPublish gets once it is acknowledged.
    #[php(defaults(qos = 0, retain = false))]
    #[php(optional = qos)]
    pub fn publish(
        &self,
        topic: String,
        payload: Binary<u8>,
        qos: i64,
        retain: bool,
    ) -> PhpResult<i64> {
        let session = self.live_session()?;
        let level = qos_of(qos)?;
        let payload: Vec<u8> = payload.into();
        let outcome = session
            .connection
            .publish_tracked(&topic, &payload, level, retain)
            .map_err(|e| exception(e.to_string()))?;
        let mid = self.mid();
        session
            .publishes
            .borrow_mut()
            .push_back((mid, level, outcome));
        self.log(
            LOG_DEBUG,
            format!(
                "Client {} sending PUBLISH (d0, q{qos}, r{}, m{mid}, '{topic}', ... ({} bytes))",
                session.client_id,
                u8::from(retain),
                payload.len()
            ),
        )?;
        Ok(i64::from(mid))
    }

    /// Subscribes; returns the message id onSubscribe gets once the broker answered.
    pub fn subscribe(&self, topic: String, qos: i64) -> PhpResult<i64> {
        let session = self.live_session()?;
        let level = qos_of(qos)?;
        let id = session
            .connection
            .subscribe(&session.inbox, &topic, level)
            .map_err(|e| exception(e.to_string()))?;
        let mid = self.mid();
        session.subscribes.borrow_mut().push_back((mid, id));
        self.log(
            LOG_DEBUG,
            format!(
                "Client {} sending SUBSCRIBE (Mid: {mid}, Topic: {topic}, QoS: {qos})",
                session.client_id
            ),
        )?;
        Ok(i64::from(mid))
    }

    /// Unsubscribes; returns the message id onUnsubscribe gets once the broker answered.
    pub fn unsubscribe(&self, topic: String) -> PhpResult<i64> {
        let session = self.live_session()?;
        let sent = session
            .connection
            .unsubscribe_sent(&session.inbox, &topic)
            .map_err(|e| exception(e.to_string()))?;
        let mid = self.mid();
        session
            .unsubscribes
            .borrow_mut()
            .push_back((mid, sent.then(|| topic.clone())));
        self.log(
            LOG_DEBUG,
            format!(
                "Client {} sending UNSUBSCRIBE (Mid: {mid}, Topic: {topic})",
                session.client_id
            ),
        )?;
        Ok(i64::from(mid))
    }

    /// Runs the callbacks of what happened, waiting up to `$timeout`
    /// milliseconds for something to happen. `$maxPackets` is unused, as in Mosquitto-PHP.
    #[php(name = "loop")]
    #[php(defaults(timeout = 1000, maxPackets = 1))]
    #[php(optional = timeout)]
    pub fn run_loop(&self, timeout: i64, maxPackets: i64) -> PhpResult<()> {
        let _ = maxPackets;
        let session = self.live_session()?;
        self.run_once(&session, deadline::after(millis(timeout)))
    }

    /// loop() until exitLoop() or disconnect(); reconnects by itself when the
    /// connection is lost, calling onDisconnect and then onConnect again.
    #[php(defaults(timeout = 1000, maxPackets = 1))]
    #[php(optional = timeout)]
    pub fn loop_forever(&self, timeout: i64, maxPackets: i64) -> PhpResult<()> {
        let _ = maxPackets;
        let mut session = self.live_session()?;
        self.looping.set(true);
        while self.looping.get() {
            self.run_once(&session, deadline::after(millis(timeout)))?;
            dispatch_signals()?;
            match self.live_session() {
                Ok(current) => session = current,
                Err(_) => break,
            }
        }
        self.looping.set(false);
        Ok(())
    }

    /// Makes loopForever() return after the current round, staying connected.
    pub fn exit_loop(&self) {
        self.looping.set(false);
    }
}

impl MosquittoClient {
    fn live_session(&self) -> PhpResult<Rc<Session>> {
        self.session
            .borrow()
            .as_ref()
            .filter(|s| s.is_live())
            .cloned()
            .ok_or_else(|| exception(NOT_CONNECTED))
    }

    /// Settings are checked as they are given, against a connection's rules.
    fn replace_settings(&self, settings: Settings) -> PhpResult<()> {
        settings.config("127.0.0.1", 1883, 60)?;
        *self.settings.borrow_mut() = settings;
        Ok(())
    }

    /// The next message id: 1 to 65535, then again from 1, as libmosquitto counts.
    fn mid(&self) -> u16 {
        let next = self.next_mid.get().checked_add(1).unwrap_or(1);
        self.next_mid.set(next);
        next
    }

    /// One round: what happened, then messages as they come until the
    /// deadline or until something was reported.
    fn run_once(&self, session: &Rc<Session>, deadline: Instant) -> PhpResult<()> {
        loop {
            let mut reported = self.report(session)?;
            let waiting_for_acks = !session.publishes.borrow().is_empty()
                || !session.subscribes.borrow().is_empty()
                || !session.unsubscribes.borrow().is_empty();
            let left = deadline.saturating_duration_since(Instant::now());
            let step = if reported {
                Duration::ZERO
            } else if waiting_for_acks {
                left.min(STEP)
            } else {
                left.min(Duration::from_millis(100))
            };
            let mut handled = 0;
            let mut wait = step;
            while handled < MESSAGES_PER_LOOP && session.is_live() {
                let Some(mut delivery) = session.inbox.receive(wait) else {
                    break;
                };
                wait = Duration::ZERO;
                handled += 1;
                let message = MosquittoMessage::from(&delivery);
                let acknowledgement = delivery.take_acknowledgement();
                self.log(
                    LOG_DEBUG,
                    format!(
                        "Client {} received PUBLISH (d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
                        session.client_id,
                        u8::from(delivery.duplicate),
                        delivery.qos as u8,
                        u8::from(delivery.retain),
                        message.mid,
                        delivery.topic,
                        delivery.payload.len()
                    ),
                )?;
                let message = ZendClassObject::new(message).into_zval(false)?;
                self.call(&self.callbacks.message, &[&message], "the message callback")?;
                // Handled: the broker gets its acknowledgement now.
                acknowledgement.send();
            }
            reported |= handled > 0;
            reported |= self.report(session)?;
            if reported || Instant::now() >= deadline || !session.is_live() {
                return Ok(());
            }
            dispatch_signals()?;
        }
    }

    /// Calls the callbacks of connection events, acknowledged publishes and
    /// answered (un)subscribes. True when it called any.
    fn report(&self, session: &Rc<Session>) -> PhpResult<bool> {
        let mut reported = false;
        let connection = &session.connection;
        if connection.last_event() != session.events_seen.get() {
            let (events, last) = connection.events_since(session.events_seen.get());
            session.events_seen.set(last);
            for event in events {
                let id = &session.client_id;
                let reason = event.reason.clone().unwrap_or_default();
                match event.kind {
                    EventKind::Connected => {
                        self.log(LOG_DEBUG, format!("Client {id} received CONNACK (0)"))?;
                        self.call(
                            &self.callbacks.connect,
                            &[&0i64, &"Connection Accepted."],
                            "the connect callback",
                        )?;
                    }
                    EventKind::Reconnecting | EventKind::Failed => match event.code {
                        Some(code) => {
                            self.log(LOG_DEBUG, format!("Client {id} received CONNACK ({code})"))?;
                            self.call(
                                &self.callbacks.connect,
                                &[&i64::from(code), &connack_text(code)],
                                "the connect callback",
                            )?;
                        }
                        None => self.log(
                            LOG_NOTICE,
                            format!("Client {id} could not connect: {reason}"),
                        )?,
                    },
                    EventKind::Disconnected => {
                        self.log(
                            LOG_ERR,
                            format!("Client {id} lost its connection: {reason}"),
                        )?;
                        self.call(
                            &self.callbacks.disconnect,
                            &[&CONNECTION_LOST],
                            "the disconnect callback",
                        )?;
                    }
                    EventKind::Unsubscribed => {
                        let answered = {
                            let mut waiting = session.unsubscribes.borrow_mut();
                            let position = waiting.iter().position(|(_, filter)| {
                                filter.as_deref() == event.filter.as_deref()
                            });
                            position
                                .and_then(|at| waiting.remove(at))
                                .map(|(mid, _)| mid)
                        };
                        if let Some(mid) = answered {
                            self.log(LOG_DEBUG, format!("Client {id} received UNSUBACK"))?;
                            self.call(
                                &self.callbacks.unsubscribe,
                                &[&i64::from(mid)],
                                "the unsubscribe callback",
                            )?;
                        }
                    }
                    EventKind::SubscriptionRefused => self.log(
                        LOG_WARNING,
                        format!(
                            "Client {id}: the broker refused the subscription to {}: {reason}",
                            event.filter.as_deref().unwrap_or_default()
                        ),
                    )?,
                    _ => {}
                }
                reported = true;
            }
        }
        // Unsubscribes that sent nothing have nothing to wait for.
        loop {
            let unanswerable = {
                let mut waiting = session.unsubscribes.borrow_mut();
                let position = waiting.iter().position(|(_, filter)| filter.is_none());
                position
                    .and_then(|at| waiting.remove(at))
                    .map(|(mid, _)| mid)
            };
            let Some(mid) = unanswerable else { break };
            self.call(
                &self.callbacks.unsubscribe,
                &[&i64::from(mid)],
                "the unsubscribe callback",
            )?;
            reported = true;
        }
        loop {
            let answered = {
                let mut waiting = session.subscribes.borrow_mut();
                let position = waiting.iter().position(|(_, id)| {
                    !matches!(
                        session.connection.subscription_state(*id),
                        Some(SubscriptionState::Pending)
                    )
                });
                position
                    .and_then(|at| waiting.remove(at))
                    .map(|(mid, _)| mid)
            };
            let Some(mid) = answered else { break };
            self.log(
                LOG_DEBUG,
                format!("Client {} received SUBACK", session.client_id),
            )?;
            self.call(
                &self.callbacks.subscribe,
                &[&i64::from(mid), &1i64],
                "the subscribe callback",
            )?;
            reported = true;
        }
        // In order: an acknowledgement still due holds back the later ones.
        loop {
            let done = {
                let mut waiting = session.publishes.borrow_mut();
                let outcome = match waiting.front() {
                    Some((_, _, outcome)) => outcome.try_take(),
                    None => break,
                };
                match outcome {
                    None => break,
                    Some(outcome) => waiting.pop_front().map(|(mid, qos, _)| (mid, qos, outcome)),
                }
            };
            let Some((mid, qos, outcome)) = done else {
                break;
            };
            reported = true;
            match outcome {
                Ok(()) => {
                    let ack = match qos {
                        QoS::AtMostOnce => None,
                        QoS::AtLeastOnce => Some("PUBACK"),
                        QoS::ExactlyOnce => Some("PUBCOMP"),
                    };
                    if let Some(ack) = ack {
                        self.log(
                            LOG_DEBUG,
                            format!("Client {} received {ack} (Mid: {mid})", session.client_id),
                        )?;
                    }
                    self.call(
                        &self.callbacks.publish,
                        &[&i64::from(mid)],
                        "the publish callback",
                    )?;
                }
                Err(error) => self.log(
                    LOG_ERR,
                    format!(
                        "Client {}: message {mid} was not delivered: {error}",
                        session.client_id
                    ),
                )?,
            }
        }
        Ok(reported)
    }

    fn log(&self, level: i64, message: String) -> PhpResult<()> {
        if self.callbacks.log.borrow().is_none() {
            return Ok(());
        }
        self.call(
            &self.callbacks.log,
            &[&level, &message.as_str()],
            "the log callback",
        )
    }

    /// Calls a callback when one is set; the Rc keeps it alive while a
    /// callback replaces itself.
    fn call(
        &self,
        callback: &RefCell<Option<Rc<Handler>>>,
        arguments: &[&dyn IntoZvalDyn],
        what: &str,
    ) -> PhpResult<()> {
        let Some(handler) = callback.borrow().clone() else {
            return Ok(());
        };
        handler.call(arguments.to_vec(), what)
    }
}

impl Drop for MosquittoClient {
    fn drop(&mut self) {
        if let Some(session) = self.session.get_mut().take() {
            session.close();
        }
    }
}

impl Settings {
    /// The connection's options, checked as every connection's are.
    fn config(&self, host: &str, port: i64, keepalive: i64) -> PhpResult<Config> {
        if !(1..=65535).contains(&port) {
            return Err(exception(format!(
                "$port must be between 1 and 65535, got {port}"
            )));
        }
        if !(0..=65535).contains(&keepalive) {
            return Err(exception(format!(
                "$keepalive must be between 0 and 65535 seconds, got {keepalive}"
            )));
        }
        let mut options = vec![
            ("host".to_owned(), Value::Str(host.to_owned())),
            ("port".to_owned(), Value::Int(port)),
            ("keep_alive".to_owned(), Value::Int(keepalive)),
            ("clean_session".to_owned(), Value::Bool(self.clean_session)),
            (
                "reconnect".to_owned(),
                Value::Map(vec![
                    ("initial_delay".to_owned(), Value::Float(self.reconnect.0)),
                    ("max_delay".to_owned(), Value::Float(self.reconnect.1)),
                    ("max_retries".to_owned(), Value::Int(0)),
                ]),
            ),
            ("flush_timeout".to_owned(), Value::Float(flush_timeout())),
        ];
        if let Some(id) = &self.id {
            options.push(("client_id".to_owned(), Value::Str(id.clone())));
        }
        if let Some(username) = &self.username {
            options.push(("username".to_owned(), Value::Str(username.clone())));
        }
        if let Some(password) = &self.password {
            options.push(("password".to_owned(), Value::Bytes(password.clone())));
        }
        if let Some(tls) = &self.tls {
            options.push(("tls".to_owned(), Value::Map(tls.clone())));
        }
        if let Some(will) = &self.will {
            options.push(("will".to_owned(), Value::Map(will.clone())));
        }
        if let Some(max) = self.max_inflight {
            let max = if max == 0 { 65535 } else { max };
            options.push(("max_inflight".to_owned(), Value::Int(max)));
        }
        let mut config =
            Config::from_value(&Value::Map(options)).map_err(|e| exception(e.to_string()))?;
        if let Some(tls) = &mut config.tls {
            tls.verify_hostname = self.verify_hostname;
        }
        Ok(config)
    }

    fn tls_entry(&self, key: &str) -> Option<Value> {
        self.tls
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn tls_set(&mut self, key: &str, value: Value) {
        let tls = self.tls.get_or_insert_with(Vec::new);
        tls.retain(|(k, _)| k != key);
        tls.push((key.to_owned(), value));
    }
}

fn qos_of(qos: i64) -> PhpResult<QoS> {
    match qos {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        other => Err(exception(format!("$qos must be 0, 1 or 2, got {other}"))),
    }
}

/// A loop timeout in milliseconds; a negative one means 1000, as in libmosquitto.
fn millis(timeout: i64) -> Duration {
    Duration::from_millis(u64::try_from(timeout).unwrap_or(1000))
}

/// libmosquitto's words for a CONNACK return code.
fn connack_text(code: u8) -> &'static str {
    match code {
        0 => "Connection Accepted.",
        1 => "Connection Refused: unacceptable protocol version.",
        2 => "Connection Refused: identifier rejected.",
        3 => "Connection Refused: broker unavailable.",
        4 => "Connection Refused: bad user name or password.",
        5 => "Connection Refused: not authorised.",
        _ => "Connection Refused: unknown reason.",
    }
}
