//! One supervised broker connection: its state, and the calls PHP makes on
//! it. The task that owns rumqttc's event loop is in `task.rs`; where
//! received messages go, in `received.rs`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard};
use rumqttc::{Lent, QoS};
use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::backoff::Backoff;
use super::close::CloseOptions;
use super::config::{self, Server, ServerOrder};
use super::config::{Config, Protocol};
use super::deadline;
use super::error::{Argument, ConnectionError, Error, Refusal, Timeout};
use super::events::{ConnectionEvent, EventKind, EventLog};
use super::inbox::{Acknowledger, Delivery, Inbox, PendingAck};
use super::metrics::Meter;
use super::outbox::{Message, Outbox, Receipt};
use super::properties::{variable_int_len, Properties};
use super::protocol::{self, Accepted, Direct, Event, EventLoop, Failure, Incoming, Requests};
use super::request::Replies;
use super::subscriptions::{SubscribeOptions, SubscriptionState, Subscriptions};
use super::topic::{validate_filter, validate_length, validate_topic};

mod received;
mod supervision;
mod task;

use supervision::Supervised;

/// Room in rumqttc's request channel beyond the publishes in flight, for
/// acknowledgements and subscriptions: under load rumqttc takes requests
/// more slowly than PHP acknowledges. The channel allocates as it fills.
const CHANNEL_HEADROOM: usize = 65_536;
/// How long `close()` waits for the broker to end the connection after DISCONNECT.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a flush looks again at the rest of a packet the PHP thread
/// started writing: the runtime finishes it without telling anyone.
const UNWRITTEN_POLL: Duration = Duration::from_millis(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    Reconnecting,
    Failed,
    Closed,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::Failed => "failed",
            ConnectionState::Closed => "closed",
        }
    }
}

/// How `enqueue` sent a message.
enum Sent {
    /// Into the outbox, for the event loop.
    Queued,
    /// Written on the calling thread (QoS 0).
    Written,
    /// Written on the calling thread under this packet id (QoS 1/2), and
    /// waiting for its acknowledgement; for a `publishSync()` at QoS 1, with
    /// the socket's reading lent to the calling thread to read it.
    WrittenAs(Direct, u16, Option<Lent>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub name: String,
    pub state: ConnectionState,
    pub client_id: String,
    pub host: String,
    pub port: u16,
    pub reconnects: u64,
    pub queued: usize,
    pub in_flight: usize,
    pub published: u64,
    pub acknowledged: u64,
    /// Publishes the broker refused: an error reason code (MQTT 5), or a
    /// message it closed the connection on again and again.
    pub refused: u64,
    pub last_error: Option<String>,
    /// Seconds since the Unix epoch.
    pub connected_since: Option<f64>,
    /// Whether the broker kept the session, by the latest CONNACK; `None` before the first.
    pub session_present: Option<bool>,
    /// The server in use (or tried last), as "host:port".
    pub server: String,
    /// Every server of the connection, in the order attempts go through
    /// them, with the last error of each.
    pub servers: Vec<(String, Option<String>)>,
}

/// The outcome of a publish made by `Connection::publish_tracked`.
pub struct Outcome {
    result: crossbeam_channel::Receiver<Result<(), Error>>,
    connection: String,
}

impl Outcome {
    /// `Ok` once the broker acknowledged the message (written, for QoS 0),
    /// the error that refused or failed it, or `None` while it is on its way.
    pub fn try_take(&self) -> Option<Result<(), Error>> {
        match self.result.try_recv() {
            Ok(result) => Some(result),
            Err(crossbeam_channel::TryRecvError::Empty) => None,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                Some(Err(ConnectionError::Closed {
                    connection: self.connection.clone(),
                }
                .into()))
            }
        }
    }
}

/// What the PHP thread and the event loop task share, behind one lock.
struct Link {
    state: ConnectionState,
    /// What the latest CONNACK said: whether the broker kept the session,
    /// and the client id it assigned to an empty one (MQTT 5).
    session_present: Option<bool>,
    assigned_client_id: Option<String>,
    outbox: Outbox,
    subscriptions: Subscriptions,
    /// Counts connections made: acknowledgements of received messages are
    /// only valid on the connection that received them.
    session: u64,
    closing: bool,
    /// What close() says in its DISCONNECT.
    farewell: CloseOptions,
    task_done: bool,
    reconnects: u64,
    last_error: Option<String>,
    /// Why the broker or the TLS handshake refused the last attempt.
    refusal: Option<String>,
    /// The last publish the broker refused on this connection: some brokers
    /// (Mosquitto 2.0) close the connection right after, and the refusal is
    /// the better explanation of that.
    refused_publish: Option<String>,
    /// The largest packet the broker takes, when it said so (MQTT 5).
    broker_max_packet_size: Option<usize>,
    /// A persistent session's messages that arrived before any subscriber
    /// wanted them, and when.
    unrouted: Vec<(Instant, Incoming)>,
    /// Acknowledgements (packet id, QoS) the request channel had no room for yet.
    unsent_acks: Vec<(u16, QoS)>,
    /// While connected over TCP, plain or TLS: the socket and protocol state the
    /// PHP thread writes to itself (see `write_now`).
    direct: Option<Direct>,
    /// The server in use or tried last, by its place in `Connection::servers`,
    /// and the last error of each server.
    server: usize,
    server_errors: Vec<Option<String>>,
    /// The server an MQTT 5 broker sent the connection to, while it is used.
    redirected: Option<Server>,
    connected_since: Option<SystemTime>,
    /// Why the connection's task died, if it panicked: a bug, reported as such.
    crash: Option<String>,
    /// The message (outbox id) the last short connections ended on, and how
    /// many in a row.
    suspect: Option<(u64, u32)>,
    events: EventLog,
    /// The last event `drain_events()` returned.
    drained: u64,
}

impl Acknowledger for Connection {
    /// Only on the connection that received the message: after a reconnect
    /// the broker sends it again instead.
    fn acknowledge(&self, session: u64, pkid: u16, qos: QoS) {
        let mut link = self.link.lock();
        if link.session == session && link.state == ConnectionState::Connected {
            self.send_acknowledgement(&mut link, pkid, qos);
        }
    }
}

pub struct Connection {
    pub name: String,
    pub config: Config,
    pub client_id: String,
    /// The process that opened it; a forked child must not touch it.
    pub pid: u32,
    /// For acknowledgements that outlive a delivery's trip through PHP.
    me: Weak<Connection>,
    broker: Arc<str>,
    requests: Requests,
    link: Mutex<Link>,
    /// Signalled when the outbox empties and when the state ends.
    changed: Condvar,
    close_requested: Notify,
    /// The number of the latest event, readable without the lock.
    last_event: AtomicU64,
    /// Request/response: made by the first request.
    pub(crate) replies: OnceLock<Arc<Replies>>,
    /// Counts into the metrics of the whole pool.
    meter: Meter,
    /// The servers attempts go through, in this connection's order.
    servers: Vec<Server>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Connection {
    /// Opens the connection in the background: never waits for the network.
    pub fn open(
        name: &str,
        config: Config,
        tls: Option<Arc<rustls::ClientConfig>>,
        pid: u32,
        runtime: &Handle,
        carried: Vec<Message>,
    ) -> Arc<Connection> {
        let client_id = config
            .client_id
            .clone()
            .unwrap_or_else(|| format!("mqttb-{pid}-{:08x}", fastrand::u32(..)));
        let capacity = usize::from(config.max_inflight) + CHANNEL_HEADROOM;
        let mut servers = config.servers();
        if config.server_order == ServerOrder::Random {
            fastrand::shuffle(&mut servers);
        }
        let (requests, mut eventloop) = protocol::open(&config, &client_id, tls.clone(), capacity);
        eventloop.set_server(&config, &servers[0], tls.as_ref());
        let meter = Meter::for_connection(name);
        let mut outbox =
            Outbox::with_messages(config.max_queue, usize::from(config.max_inflight), carried);
        outbox.set_meter(meter);
        let connection = Arc::new_cyclic(|me| Connection {
            me: me.clone(),
            name: name.to_string(),
            broker: Arc::from(name),
            client_id,
            pid,
            requests,
            link: Mutex::new(Link {
                state: ConnectionState::Connecting,
                outbox,
                subscriptions: Subscriptions::default(),
                session: 0,
                closing: false,
                farewell: CloseOptions::default(),
                task_done: false,
                reconnects: 0,
                last_error: None,
                refusal: None,
                refused_publish: None,
                broker_max_packet_size: None,
                unrouted: Vec::new(),
                unsent_acks: Vec::new(),
                direct: None,
                server: 0,
                server_errors: vec![None; servers.len()],
                redirected: None,
                connected_since: None,
                session_present: None,
                assigned_client_id: None,
                crash: None,
                suspect: None,
                events: EventLog::default(),
                drained: 0,
            }),
            changed: Condvar::new(),
            close_requested: Notify::new(),
            last_event: AtomicU64::new(0),
            replies: OnceLock::new(),
            meter,
            servers,
            tls,
            config,
        });
        connection.emit(
            &mut connection.link.lock(),
            ConnectionEvent::new(EventKind::Connecting, &connection.broker, 1),
        );
        let task = connection.clone().run(eventloop);
        runtime.spawn(Supervised::new(connection.clone(), task));
        connection
    }

    /// Queues a publish and returns at once. `topic` is without the prefix.
    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Properties>,
    ) -> Result<(), Error> {
        self.enqueue(topic, payload, qos, retain, properties, None)
            .map(|_| ())
    }

    /// Queues a publish and returns at once with what will tell its outcome.
    pub fn publish_tracked(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Outcome, Error> {
        let (receipt, outcome) = crossbeam_channel::bounded(1);
        self.enqueue(topic, payload, qos, retain, None, Some(receipt))?;
        Ok(Outcome {
            result: outcome,
            connection: self.name.clone(),
        })
    }

    /// Returns once the broker acknowledged the message (written, for QoS 0).
    /// Past the timeout the message stays queued and is still delivered.
    pub fn publish_sync(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Properties>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let (receipt, outcome) = crossbeam_channel::bounded(1);
        let deadline = deadline::after(timeout);
        let sent = self.enqueue(topic, payload, qos, retain, properties, Some(receipt))?;
        if let Sent::WrittenAs(direct, pkid, Some(lent)) = sent {
            // This thread reads the PUBACK itself: unless messages may
            // arrive, the runtime's thread need not wake for it either.
            if self.link.lock().subscriptions.is_empty() {
                direct.hush();
            }
            self.apply_read_here(direct.await_puback(lent, pkid, deadline));
        }
        match outcome.recv_deadline(deadline) {
            Ok(result) => result,
            Err(_) => Err(Timeout::Publish {
                connection: self.name.clone(),
                topic: topic.to_owned(),
                waited: timeout,
                state: self.describe_state(),
            }
            .into()),
        }
    }

    fn enqueue(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Option<Properties>,
        receipt: Option<Receipt>,
    ) -> Result<Sent, Error> {
        validate_topic(topic).map_err(|e| Error::invalid_topic(Argument::Topic, e))?;
        // The prefix was checked with the options: only the length can fail now.
        validate_length(&self.config.prefix, topic).map_err(|e| {
            Error::invalid(Argument::Topic, format!("with the connection's prefix {e}"))
        })?;
        // Most connections have no prefix: no copy of the topic for them.
        let full_topic = match self.config.prefix.as_str() {
            "" => Cow::Borrowed(topic),
            prefix => Cow::Owned([prefix, topic].concat()),
        };
        let size = self.packet_size(&full_topic, payload.len(), qos, properties.as_ref());
        if size > self.config.max_packet_size {
            return Err(Error::invalid(
                Argument::Payload,
                format!(
                    "makes a packet of {size} bytes with the topic{}, larger than the max_packet_size option of connection \"{}\" ({} bytes)",
                    if properties.is_some() { " and properties" } else { "" },
                    self.name,
                    self.config.max_packet_size
                ),
            ));
        }

        let mut link = self.link.lock();
        self.ensure_usable(&link)?;
        if let Some(limit) = link.broker_max_packet_size.filter(|&limit| size > limit) {
            return Err(self.too_large_error(&full_topic, limit));
        }
        if let (Some(reason), Some(receipt)) = (&link.refusal, &receipt) {
            // Refused: waiting would only end in a timeout.
            let _ = receipt.try_send(Err(self.refused_error(&link, reason)));
        }
        if let Some(sent) = self.write_now(
            &mut link,
            &full_topic,
            payload,
            qos,
            retain,
            &properties,
            &receipt,
        ) {
            return Ok(sent);
        }
        link.outbox
            .push(
                &full_topic,
                payload,
                qos,
                retain,
                properties.map(Box::new),
                receipt,
            )
            .map_err(|_| Error::QueueFull {
                connection: self.name.clone(),
                capacity: self.config.max_queue,
            })?;
        self.pump(&mut link);
        Ok(Sent::Queued)
    }

    /// Writes the publish on the calling thread when nothing waits ahead of
    /// it: no hand-off to the connection's task and no wake-up of it. On an
    /// idle connection, as between web requests, that is most of what a
    /// publish used to cost. QoS 0 goes this way whenever nothing is queued;
    /// QoS 1 and 2 too, while the in-flight window has room and the packet
    /// id they get is free, and the outbox keeps them in flight under it as
    /// if the event loop had written them. Anything else takes the outbox's
    /// way: `None`.
    #[allow(clippy::too_many_arguments)]
    fn write_now(
        &self,
        link: &mut MutexGuard<'_, Link>,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &Option<Properties>,
        receipt: &Option<Receipt>,
    ) -> Option<Sent> {
        // Acknowledgements left for this thread first (the connection's
        // end, met instead, is the event loop's to handle).
        let open = self.catch_up(link);
        let link: &mut Link = link;
        if !open || link.state != ConnectionState::Connected || !link.outbox.is_idle() {
            return None;
        }
        let direct = link.direct.as_ref()?;
        let properties_ref = properties.as_ref();
        if qos == QoS::AtMostOnce {
            if !direct.publish_qos0(topic, payload, retain, properties_ref) {
                return None;
            }
            link.outbox.count_written(payload.len());
            if let Some(receipt) = receipt {
                let _ = receipt.try_send(Ok(()));
            }
            return Some(Sent::Written);
        }
        if !link.outbox.has_room() {
            return None;
        }
        let payload = Bytes::copy_from_slice(payload);
        let read_here = qos == QoS::AtLeastOnce && receipt.is_some();
        let lent = read_here.then(|| direct.lend()).flatten();
        // Not under a packet id the outbox still holds: the event loop may
        // have read its acknowledgement, and the outbox not applied it yet.
        let outbox = &link.outbox;
        let free = |pkid| !outbox.holds(pkid);
        let pkid =
            direct.publish_acknowledged(topic, &payload, qos, retain, properties_ref, free)?;
        link.outbox.push_written(
            pkid,
            topic.to_owned(),
            payload,
            qos,
            retain,
            properties.clone().map(Box::new),
            receipt.clone(),
        );
        // Nobody waits for its PUBACK, and the connection expects no
        // messages: the next call reads it here (`catch_up`), sparing the
        // runtime's thread a wake-up for it.
        if qos == QoS::AtLeastOnce && receipt.is_none() && link.subscriptions.is_empty() {
            direct.hush();
        }
        self.measure(link);
        Some(Sent::WrittenAs(direct.clone(), pkid, lent))
    }

    /// Waits until nothing is queued, in flight, or left of a packet written
    /// in part. False when the deadline passed, or the connection ended, first.
    pub fn flush_until(&self, deadline: Instant) -> bool {
        let mut link = self.link.lock();
        self.catch_up(&mut link);
        if let Some(direct) = link.direct.as_ref().filter(|_| !link.outbox.is_empty()) {
            // What is still in flight is acknowledged to the event loop.
            direct.listen();
        }
        loop {
            let unwritten = link
                .direct
                .as_ref()
                .is_some_and(|direct| !direct.is_drained());
            if link.outbox.is_empty() && !unwritten {
                return true;
            }
            if link.task_done || Instant::now() >= deadline {
                return false;
            }
            let wake = match unwritten {
                true => deadline.min(Instant::now() + UNWRITTEN_POLL),
                false => deadline,
            };
            self.changed.wait_until(&mut link, wake);
        }
    }

    /// Waits for the outcome of the first connection attempt: `Ok` once
    /// connected, else the error that ended it (with the CONNACK's code when
    /// the broker refused), or `None` at the deadline.
    pub fn wait_first_attempt(&self, deadline: Instant) -> Option<Result<(), String>> {
        let mut link = self.link.lock();
        loop {
            if link.state == ConnectionState::Connected {
                return Some(Ok(()));
            }
            if let Some(error) = &link.last_error {
                return Some(Err(error.clone()));
            }
            if link.task_done || link.closing {
                return Some(Err(self.closed_error().to_string()));
            }
            if self.changed.wait_until(&mut link, deadline).timed_out() {
                return None;
            }
        }
    }

    /// The socket of the current TCP connection (plain or TLS), while there is one.
    pub fn socket_fd(&self) -> Option<i32> {
        self.link.lock().direct.as_ref().map(Direct::raw_fd)
    }

    /// Waits until the connection is up. False when the deadline passed, or
    /// the connection ended, first.
    pub fn wait_connected(&self, deadline: Instant) -> bool {
        let mut link = self.link.lock();
        loop {
            if link.state == ConnectionState::Connected {
                return true;
            }
            if link.task_done || link.closing {
                return false;
            }
            if self.changed.wait_until(&mut link, deadline).timed_out() {
                return link.state == ConnectionState::Connected;
            }
        }
    }

    pub fn flush(&self, timeout: Duration) -> bool {
        self.flush_until(deadline::after(timeout))
    }

    /// Flushes until `deadline`, says DISCONNECT (with `farewell`'s reason
    /// and session expiry, checked by `CloseOptions::check_for`) and stops
    /// the task. What could not be delivered stays counted in `status()`.
    pub fn close_by(&self, deadline: Instant, farewell: CloseOptions) {
        self.flush_until(deadline);
        let mut link = self.link.lock();
        link.closing = true;
        link.farewell = farewell;
        self.close_requested.notify_one();
        let stop_deadline = Instant::now() + DISCONNECT_TIMEOUT * 2;
        while !link.task_done {
            if self
                .changed
                .wait_until(&mut link, stop_deadline)
                .timed_out()
            {
                break;
            }
        }
        if link.state != ConnectionState::Closed {
            let closed = ConnectionEvent::new(EventKind::Closed, &self.broker, 0);
            self.emit(&mut link, closed);
        }
        link.state = ConnectionState::Closed;
        link.outbox.fail_receipts(&self.closed_error());
        self.measure(&link);
    }

    pub fn close(&self) {
        self.close_with(CloseOptions::default());
    }

    pub fn close_with(&self, farewell: CloseOptions) {
        self.close_by(deadline::after(self.config.flush_timeout), farewell);
    }

    /// Closed or failed for good: a registry replaces it on next use.
    pub fn is_finished(&self) -> bool {
        let link = self.link.lock();
        link.closing || link.task_done
    }

    pub fn take_unacknowledged(&self) -> Vec<Message> {
        self.link.lock().outbox.take_unacknowledged()
    }

    /// Subscribes `inbox` to `filter` (without the prefix). Returns the id
    /// to wait on; the subscription is restored after every reconnect.
    pub fn subscribe(&self, inbox: &Arc<Inbox>, filter: &str, qos: QoS) -> Result<u64, Error> {
        self.subscribe_with(inbox, filter, qos, SubscribeOptions::default())
    }

    /// `subscribe` with MQTT 5's subscription options.
    pub fn subscribe_with(
        &self,
        inbox: &Arc<Inbox>,
        filter: &str,
        qos: QoS,
        options: SubscribeOptions,
    ) -> Result<u64, Error> {
        validate_filter(filter).map_err(|e| Error::invalid_topic(Argument::Filter, e))?;
        let filter = self.with_prefix(filter);
        validate_filter(&filter).map_err(|e| {
            Error::invalid(
                Argument::Filter,
                format!("with the connection's prefix {e}"),
            )
        })?;
        let mut link = self.link.lock();
        self.ensure_usable(&link)?;
        let subscribe = link.subscriptions.add_with(inbox, filter, qos, options);
        if link.state == ConnectionState::Connected && self.requests.subscribe(&subscribe) {
            link.subscriptions.sent(subscribe.id);
            // A publish before may have hushed the runtime (it expected
            // acknowledgements only): it reads the SUBACK, and the messages.
            if let Some(direct) = &link.direct {
                direct.listen();
            }
        }
        self.deliver_unrouted(&mut link, inbox);
        Ok(subscribe.id)
    }

    /// Waits for the broker's SUBACK, through the first connection attempt;
    /// while the broker is unreachable the subscription is made on connect,
    /// nothing to wait for now.
    pub fn await_subscription(
        &self,
        id: u64,
        filter: &str,
        deadline: Instant,
    ) -> Result<(), Error> {
        let mut link = self.link.lock();
        loop {
            match link.subscriptions.state(id) {
                None | Some(SubscriptionState::Confirmed) => return Ok(()),
                Some(SubscriptionState::Refused(reason)) => {
                    return Err(Refusal::Subscription {
                        connection: self.name.clone(),
                        filter: filter.to_owned(),
                        reason,
                    }
                    .into())
                }
                // The broker is unreachable: it is subscribed to on connect.
                Some(SubscriptionState::Pending)
                    if link.state != ConnectionState::Connected && link.last_error.is_some() =>
                {
                    return Ok(())
                }
                Some(SubscriptionState::Pending) => {}
            }
            if self.changed.wait_until(&mut link, deadline).timed_out() {
                return Err(Timeout::Subscribe {
                    connection: self.name.clone(),
                    filter: filter.to_owned(),
                }
                .into());
            }
        }
    }

    pub fn unsubscribe(&self, inbox: &Inbox, filter: &str) -> Result<(), Error> {
        self.unsubscribe_sent(inbox, filter).map(|_| ())
    }

    /// `unsubscribe`, saying whether an UNSUBSCRIBE went to the broker (its
    /// UNSUBACK becomes an `unsubscribed` event): not when another subscriber
    /// still holds the filter, when `inbox` did not, or while disconnected.
    pub fn unsubscribe_sent(&self, inbox: &Inbox, filter: &str) -> Result<bool, Error> {
        validate_filter(filter).map_err(|e| Error::invalid_topic(Argument::Filter, e))?;
        let filter = self.with_prefix(filter);
        let mut link = self.link.lock();
        let sent = match link.subscriptions.remove(inbox.id, &filter) {
            Some(filter) => self.send_unsubscribe(&mut link, filter),
            None => false,
        };
        self.release_unrouted(&mut link);
        Ok(sent)
    }

    /// Where a subscription made by `subscribe` stands; `None` once it is gone.
    pub fn subscription_state(&self, id: u64) -> Option<SubscriptionState> {
        self.link.lock().subscriptions.state(id)
    }

    /// A subscriber went away; its filters no other subscriber holds are
    /// unsubscribed, unless `keep_session`: a persistent session then keeps
    /// them on the broker, which holds the messages for the next process.
    pub fn forget_inbox(&self, inbox: &Inbox, keep_session: bool) {
        let mut link = self.link.lock();
        let released = link.subscriptions.remove_inbox(inbox.id);
        if keep_session && !self.config.clean_session {
            return;
        }
        for filter in released {
            self.send_unsubscribe(&mut link, filter);
        }
        self.release_unrouted(&mut link);
    }
    fn send_unsubscribe(&self, link: &mut Link, filter: String) -> bool {
        let sent =
            link.state == ConnectionState::Connected && self.requests.unsubscribe(filter.clone());
        if sent {
            link.subscriptions.unsubscribe_handed_over(filter);
        }
        sent
    }

    /// `$share/{group}/` stays in front of the prefix.
    fn with_prefix(&self, filter: &str) -> String {
        let prefix = &self.config.prefix;
        match shared_group(filter) {
            Some((head, rest)) => format!("{head}{prefix}{rest}"),
            None => format!("{prefix}{filter}"),
        }
    }

    /// A lost acknowledgement would hold a slot of the broker's window for
    /// good: what the request channel has no room for now is sent later.
    /// A PUBACK (QoS 1) is written on the calling thread when it can be,
    /// like a QoS 0 publish: rumqttc's state keeps nothing of it.
    fn send_acknowledgement(&self, link: &mut Link, pkid: u16, qos: QoS) {
        let written = qos == QoS::AtLeastOnce
            && link.unsent_acks.is_empty()
            && link
                .direct
                .as_ref()
                .is_some_and(|direct| direct.puback(pkid));
        if !written && !self.requests.acknowledge(pkid, qos) {
            link.unsent_acks.push((pkid, qos));
        }
    }

    /// The number of the latest event; cheap enough to ask in a loop.
    pub fn last_event(&self) -> u64 {
        self.last_event.load(Ordering::Acquire)
    }

    /// The events after number `seen` that are still kept, and the number
    /// of the latest.
    pub fn events_since(&self, seen: u64) -> (Vec<Arc<ConnectionEvent>>, u64) {
        let link = self.link.lock();
        (link.events.since(seen), link.events.last())
    }

    /// The events no `drain_events()` returned yet, for code that does not loop.
    pub fn drain_events(&self) -> Vec<Arc<ConnectionEvent>> {
        let mut link = self.link.lock();
        let events = link.events.since(link.drained);
        link.drained = link.events.last();
        events
    }

    fn emit(&self, link: &mut Link, event: ConnectionEvent) {
        link.events.push(event);
        self.last_event.store(link.events.last(), Ordering::Release);
    }

    pub fn status(&self) -> Status {
        let mut link = self.link.lock();
        self.catch_up(&mut link);
        Status {
            name: self.name.clone(),
            state: link.state,
            client_id: link
                .assigned_client_id
                .clone()
                .unwrap_or_else(|| self.client_id.clone()),
            host: self.current_server(&link).host.clone(),
            port: self.current_server(&link).port,
            reconnects: link.reconnects,
            queued: link.outbox.queued_len(),
            in_flight: link.outbox.in_flight_len(),
            published: link.outbox.published(),
            acknowledged: link.outbox.acknowledged(),
            refused: link.outbox.refused(),
            last_error: link.last_error.clone(),
            connected_since: link
                .connected_since
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64()),
            session_present: link.session_present,
            server: self.current_server(&link).label(),
            servers: self
                .servers
                .iter()
                .zip(&link.server_errors)
                .map(|(server, error)| (server.label(), error.clone()))
                .collect(),
        }
    }

    fn ensure_usable(&self, link: &Link) -> Result<(), Error> {
        if link.closing || link.state == ConnectionState::Closed {
            return Err(self.closed_error());
        }
        if link.state == ConnectionState::Failed {
            return Err(self.failed_error(link));
        }
        Ok(())
    }

    /// The size of a PUBLISH as rumqttc encodes it. It refuses to write one
    /// beyond the maximum packet size, and the connection would break on it
    /// again after every reconnect.
    fn packet_size(
        &self,
        topic: &str,
        payload: usize,
        qos: QoS,
        properties: Option<&Properties>,
    ) -> usize {
        let properties_len = match self.config.protocol {
            Protocol::V311 => 0,
            Protocol::V5 => properties.map_or(1, Properties::encoded_len),
        };
        let packet_id = if qos == QoS::AtMostOnce { 0 } else { 2 };
        let remaining = 2 + topic.len() + packet_id + properties_len + payload;
        1 + variable_int_len(remaining) + remaining
    }

    /// `topic` as the application wrote it, without the connection's prefix.
    fn unprefixed<'t>(&self, topic: &'t str) -> &'t str {
        topic
            .strip_prefix(self.config.prefix.as_str())
            .unwrap_or(topic)
    }

    fn too_large_error(&self, topic: &str, limit: usize) -> Error {
        Refusal::TooLarge {
            connection: self.name.clone(),
            topic: self.unprefixed(topic).to_owned(),
            limit,
        }
        .into()
    }

    /// The server in use, or tried last.
    fn server(&self, link: &Link) -> String {
        self.current_server(link).label()
    }

    fn current_server<'a>(&'a self, link: &'a Link) -> &'a Server {
        link.redirected
            .as_ref()
            .unwrap_or(&self.servers[link.server])
    }

    fn closed_error(&self) -> Error {
        ConnectionError::Closed {
            connection: self.name.clone(),
        }
        .into()
    }

    fn failed_error(&self, link: &Link) -> Error {
        if let Some(message) = &link.crash {
            return ConnectionError::Crashed {
                connection: self.name.clone(),
                message: message.clone(),
            }
            .into();
        }
        ConnectionError::Failed {
            connection: self.name.clone(),
            server: self.server(link),
            attempts: u64::from(self.config.reconnect.max_retries) + 1,
            last_error: link
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown error".to_owned()),
        }
        .into()
    }

    fn refused_error(&self, link: &Link, reason: &str) -> Error {
        ConnectionError::Unavailable {
            connection: self.name.clone(),
            server: self.server(link),
            reason: reason.to_owned(),
        }
        .into()
    }

    /// The runtime does not watch the socket for reading now (`Direct::hush`).
    #[cfg(test)]
    pub(crate) fn is_hushed(&self) -> bool {
        self.link
            .lock()
            .direct
            .as_ref()
            .is_some_and(Direct::is_quiet)
    }

    pub(crate) fn describe_state(&self) -> String {
        let link = self.link.lock();
        match &link.last_error {
            Some(error) if link.state != ConnectionState::Connected => {
                format!("state {}, last error: {error}", link.state.as_str())
            }
            _ => format!("state {}", link.state.as_str()),
        }
    }

    /// Hands queued messages to rumqttc, only while connected: whatever sits
    /// in its channel when the connection breaks must be ours to re-send.
    fn pump(&self, link: &mut MutexGuard<'_, Link>) {
        if link.state == ConnectionState::Connected {
            let requests = &self.requests;
            link.outbox.pump(|m| requests.publish(m));
        }
        self.measure(link);
    }

    /// This process's state of the connection, for the pool-wide metrics.
    fn measure(&self, link: &Link) {
        self.meter.gauges(
            link.state == ConnectionState::Connected,
            link.outbox.queued_len(),
            link.outbox.in_flight_len(),
        );
    }
}

/// Splits `$share/{group}/{filter}` into its head and filter.
fn shared_group(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    let group_end = rest.find('/')?;
    let head_len = "$share/".len() + group_end + 1;
    Some((&filter[..head_len], &filter[head_len..]))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::supervision::tests::broker_answering;
    use super::*;
    use crate::registry;

    /// A connection to a broker that answers each QoS 1 PUBLISH with
    /// `answer(pkid)`.
    fn connected(name: &str, answer: impl Fn(u16) -> Vec<u8> + Send + 'static) -> Arc<Connection> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _published = broker_answering(&listener, answer);
        let config = Config {
            port: listener.local_addr().unwrap().port(),
            ..Config::default()
        };
        let connection = registry::connect(name, config).unwrap();
        assert!(connection.wait_connected(deadline::after(Duration::from_secs(10))));
        connection
    }

    fn puback(pkid: u16) -> Vec<u8> {
        let [high, low] = pkid.to_be_bytes();
        vec![0x40, 2, high, low]
    }

    /// A PINGRESP nobody asked for, then the PUBACK, in one write.
    fn another_packet_then_puback(pkid: u16) -> Vec<u8> {
        [vec![0xd0, 0], puback(pkid)].concat()
    }

    fn publish_sync(connection: &Connection) {
        connection
            .publish_sync(
                "t",
                b"1",
                QoS::AtLeastOnce,
                false,
                None,
                Duration::from_secs(10),
            )
            .unwrap();
    }

    fn assert_watched_again(connection: &Connection) {
        assert!(
            !connection.is_hushed(),
            "more than acknowledgements came: what follows would wait for the hush to end"
        );
    }

    #[test]
    fn a_subscribe_ends_the_hush_a_publish_sync_left() {
        let connection = connected("hush_then_subscribe", puback);
        // Nothing subscribed: only its PUBACK was to come, which this thread
        // read, and the runtime stops watching the socket for a while.
        publish_sync(&connection);
        connection
            .subscribe(&Inbox::new(16), "replies", QoS::AtLeastOnce)
            .unwrap();
        assert!(
            !connection.is_hushed(),
            "the SUBACK, and the messages, would wait for the hush to end"
        );
    }

    #[test]
    fn a_publish_sync_that_meets_another_packet_first_ends_its_hush() {
        let connection = connected("hush_then_another_packet", another_packet_then_puback);
        publish_sync(&connection);
        assert_watched_again(&connection);
    }

    #[test]
    fn a_publish_whose_puback_comes_after_another_packet_ends_its_hush_at_the_next_call() {
        let connection = connected("hush_then_another_packet_later", another_packet_then_puback);
        // Nobody waits for its PUBACK: the next call reads it (`catch_up`).
        connection
            .publish("t", b"1", QoS::AtLeastOnce, false, None)
            .unwrap();
        // Until a call found the PINGRESP, and the runtime then the PUBACK.
        let deadline = deadline::after(Duration::from_secs(10));
        while connection.status().acknowledged == 0 {
            assert!(Instant::now() < deadline, "no PUBACK");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_watched_again(&connection);
    }
}
