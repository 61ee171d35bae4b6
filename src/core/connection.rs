//! One supervised broker connection: the task that owns rumqttc's event loop,
//! its state machine, and the calls PHP makes on it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, MutexGuard};
use rumqttc::QoS;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use super::backoff::Backoff;
use super::config::{Config, Protocol};
use super::error::Error;
use super::inbox::{Delivery, Inbox, PendingAck};
use super::outbox::{Message, Outbox, Receipt};
use super::properties::{variable_int_len, Properties};
use super::protocol::{self, Event, EventLoop, Failure, Incoming, Requests};
use super::subscriptions::{SubscriptionState, Subscriptions};
use super::topic::{validate_filter, validate_length, validate_topic};

/// Room in rumqttc's request channel beyond the publishes in flight, for
/// acknowledgements and subscriptions: under load rumqttc takes requests
/// more slowly than PHP acknowledges. The channel allocates as it fills.
const CHANNEL_HEADROOM: usize = 65_536;
/// A persistent session's messages kept for a subscriber yet to come; the
/// broker keeps the rest until the next connection.
const MAX_UNROUTED: usize = 1000;
/// How long such a message waits for a subscriber. Past that it belongs to
/// a subscription the application no longer makes, and holding it would
/// block the broker's in-flight window for this client.
const UNROUTED_GRACE: Duration = Duration::from_secs(5);
/// How long `close()` waits for the broker to end the connection after DISCONNECT.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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
    /// Publishes the broker answered with an error reason code (MQTT 5).
    pub refused: u64,
    pub last_error: Option<String>,
    /// Seconds since the Unix epoch.
    pub connected_since: Option<f64>,
}

/// What the PHP thread and the event loop task share, behind one lock.
struct Link {
    state: ConnectionState,
    outbox: Outbox,
    subscriptions: Subscriptions,
    /// Counts connections made: acknowledgements of received messages are
    /// only valid on the connection that received them.
    session: u64,
    closing: bool,
    task_done: bool,
    reconnects: u64,
    last_error: Option<String>,
    /// Why the broker or the TLS handshake refused the last attempt.
    refusal: Option<String>,
    /// The last publish the broker refused on this connection: some brokers
    /// (Mosquitto 2.0) close the connection right after, and the refusal is
    /// the better explanation of that.
    refused_publish: Option<String>,
    /// A persistent session's messages that arrived before any subscriber
    /// wanted them, and when.
    unrouted: Vec<(Instant, Incoming)>,
    /// Acknowledgements (packet id, QoS) the request channel had no room for yet.
    unsent_acks: Vec<(u16, QoS)>,
    connected_since: Option<SystemTime>,
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
        let (requests, eventloop) = protocol::open(&config, &client_id, tls, capacity);
        let connection = Arc::new_cyclic(|me| Connection {
            me: me.clone(),
            name: name.to_string(),
            broker: Arc::from(name),
            client_id,
            pid,
            requests,
            link: Mutex::new(Link {
                state: ConnectionState::Connecting,
                outbox: Outbox::with_messages(
                    config.max_queue,
                    usize::from(config.max_inflight),
                    carried,
                ),
                subscriptions: Subscriptions::default(),
                session: 0,
                closing: false,
                task_done: false,
                reconnects: 0,
                last_error: None,
                refusal: None,
                refused_publish: None,
                unrouted: Vec::new(),
                unsent_acks: Vec::new(),
                connected_since: None,
            }),
            changed: Condvar::new(),
            close_requested: Notify::new(),
            config,
        });
        runtime.spawn(connection.clone().run(eventloop));
        connection
    }

    /// Queues a publish and returns at once. `topic` is without the prefix.
    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: Option<i64>,
        retain: Option<bool>,
        properties: Option<Properties>,
    ) -> Result<(), Error> {
        self.enqueue(topic, payload, qos, retain, properties, None)
    }

    /// Returns once the broker acknowledged the message (written, for QoS 0).
    /// Past the timeout the message stays queued and is still delivered.
    pub fn publish_sync(
        &self,
        topic: &str,
        payload: &[u8],
        qos: Option<i64>,
        retain: Option<bool>,
        properties: Option<Properties>,
        timeout: Duration,
    ) -> Result<(), Error> {
        let (receipt, outcome) = crossbeam_channel::bounded(1);
        self.enqueue(topic, payload, qos, retain, properties, Some(receipt))?;
        match outcome.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(format!(
                "the broker did not acknowledge the publish to \"{topic}\" within {:.3} s on connection \"{}\"; it stays queued ({})",
                timeout.as_secs_f64(),
                self.name,
                self.describe_state(),
            ))),
        }
    }

    fn enqueue(
        &self,
        topic: &str,
        payload: &[u8],
        qos: Option<i64>,
        retain: Option<bool>,
        properties: Option<Properties>,
        receipt: Option<Receipt>,
    ) -> Result<(), Error> {
        validate_topic(topic).map_err(|e| Error::invalid_topic("argument #1 ($topic)", e))?;
        let qos = qos_level(
            qos.unwrap_or(i64::from(self.config.qos)),
            "argument #3 ($qos)",
        )?;
        // The prefix was checked with the options: only the length can fail now.
        validate_length(&self.config.prefix, topic).map_err(|e| {
            Error::invalid_topic("argument #1 ($topic) with the connection's prefix", e)
        })?;
        let full_topic = format!("{}{topic}", self.config.prefix);
        let properties_len = match self.config.protocol {
            Protocol::V311 => 0,
            Protocol::V5 => properties.as_ref().map_or(1, Properties::encoded_len),
        };
        let size = publish_size(&full_topic, payload.len(), qos, properties_len);
        if size > self.config.max_packet_size {
            return Err(Error::InvalidArgument {
                argument: "argument #2 ($payload)",
                problem: format!(
                    "makes a packet of {size} bytes with the topic{}, larger than the max_packet_size option of connection \"{}\" ({} bytes)",
                    if properties.is_some() { " and properties" } else { "" },
                    self.name,
                    self.config.max_packet_size
                ),
            });
        }

        let mut link = self.link.lock();
        self.ensure_usable(&link)?;
        let retain = retain.unwrap_or(self.config.retain);
        if let (Some(reason), Some(receipt)) = (&link.refusal, &receipt) {
            // Refused: waiting would only end in a timeout.
            let _ = receipt.try_send(Err(self.refused_error(reason)));
        }
        link.outbox
            .push(
                full_topic,
                Bytes::copy_from_slice(payload),
                qos,
                retain,
                properties.map(Box::new),
                receipt,
            )
            .map_err(|_| Error::QueueFull {
                name: self.name.clone(),
                capacity: self.config.max_queue,
            })?;
        self.pump(&mut link);
        Ok(())
    }

    /// Waits until nothing is queued or in flight. False when the deadline
    /// passed, or the connection ended, first.
    pub fn flush_until(&self, deadline: Instant) -> bool {
        let mut link = self.link.lock();
        loop {
            if link.outbox.is_empty() {
                return true;
            }
            if link.task_done {
                return false;
            }
            if self.changed.wait_until(&mut link, deadline).timed_out() {
                return link.outbox.is_empty();
            }
        }
    }

    pub fn flush(&self, timeout: Duration) -> bool {
        self.flush_until(Instant::now() + timeout)
    }

    /// Flushes until `deadline`, says DISCONNECT and stops the task. What
    /// could not be delivered stays counted in `status()`.
    pub fn close_by(&self, deadline: Instant) {
        self.flush_until(deadline);
        let mut link = self.link.lock();
        link.closing = true;
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
        link.state = ConnectionState::Closed;
        link.outbox.fail_receipts(&self.closed_error());
    }

    pub fn close(&self) {
        self.close_by(Instant::now() + self.config.flush_timeout);
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
        validate_filter(filter).map_err(|e| Error::invalid_topic("argument #1 ($filter)", e))?;
        let filter = self.with_prefix(filter);
        validate_filter(&filter).map_err(|e| {
            Error::invalid_topic("argument #1 ($filter) with the connection's prefix", e)
        })?;
        let mut link = self.link.lock();
        self.ensure_usable(&link)?;
        let subscribe = link.subscriptions.add(inbox, filter, qos);
        if link.state == ConnectionState::Connected && self.requests.subscribe(&subscribe) {
            link.subscriptions.sent(subscribe.id);
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
                    return Err(Error::Refused(format!(
                        "the broker of connection \"{}\" refused the subscription to \"{filter}\": {reason}",
                        self.name
                    )))
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
                return Err(Error::Timeout(format!(
                    "the broker of connection \"{}\" did not confirm the subscription to \"{filter}\" in time; it stays and is retried after a reconnect",
                    self.name
                )));
            }
        }
    }

    pub fn unsubscribe(&self, inbox: &Inbox, filter: &str) -> Result<(), Error> {
        validate_filter(filter).map_err(|e| Error::invalid_topic("argument #1 ($filter)", e))?;
        let filter = self.with_prefix(filter);
        let mut link = self.link.lock();
        if let Some(filter) = link.subscriptions.remove(inbox.id, &filter) {
            self.send_unsubscribe(&link, filter);
        }
        self.release_unrouted(&mut link);
        Ok(())
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
            self.send_unsubscribe(&link, filter);
        }
        self.release_unrouted(&mut link);
    }
    fn send_unsubscribe(&self, link: &Link, filter: String) {
        if link.state == ConnectionState::Connected {
            self.requests.unsubscribe(filter);
        }
    }

    /// `$share/{group}/` stays in front of the prefix.
    fn with_prefix(&self, filter: &str) -> String {
        let prefix = &self.config.prefix;
        match shared_group(filter) {
            Some((head, rest)) => format!("{head}{prefix}{rest}"),
            None => format!("{prefix}{filter}"),
        }
    }

    /// Sends the acknowledgement of a received message, if it is still due on this connection.
    pub(crate) fn acknowledge(&self, session: u64, pkid: u16, qos: QoS) {
        let mut link = self.link.lock();
        if link.session == session && link.state == ConnectionState::Connected {
            self.send_acknowledgement(&mut link, pkid, qos);
        }
    }

    /// A lost acknowledgement would hold a slot of the broker's window for
    /// good: what the request channel has no room for now is sent later.
    fn send_acknowledgement(&self, link: &mut Link, pkid: u16, qos: QoS) {
        if !self.requests.acknowledge(pkid, qos) {
            link.unsent_acks.push((pkid, qos));
        }
    }

    pub fn status(&self) -> Status {
        let link = self.link.lock();
        Status {
            name: self.name.clone(),
            state: link.state,
            client_id: self.client_id.clone(),
            host: self.config.host.clone(),
            port: self.config.port,
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

    fn closed_error(&self) -> Error {
        Error::Connection(format!("connection \"{}\" is closed", self.name))
    }

    fn failed_error(&self, link: &Link) -> Error {
        Error::Connection(format!(
            "connection \"{}\" to {}:{} failed for good after {} attempts: {}",
            self.name,
            self.config.host,
            self.config.port,
            self.config.reconnect.max_retries + 1,
            link.last_error.as_deref().unwrap_or("unknown error"),
        ))
    }

    fn refused_error(&self, reason: &str) -> Error {
        Error::Connection(format!(
            "connection \"{}\" to {}:{} cannot be established: {reason}; the message stays queued and is sent once it can",
            self.name, self.config.host, self.config.port
        ))
    }

    fn describe_state(&self) -> String {
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
        if link.state != ConnectionState::Connected {
            return;
        }
        let requests = &self.requests;
        link.outbox.pump(|m| requests.publish(m));
    }

    // ---- the event loop task ----

    async fn run(self: Arc<Self>, mut eventloop: EventLoop) {
        let reconnect = &self.config.reconnect;
        let mut backoff = Backoff::new(reconnect.initial_delay, reconnect.max_delay);
        // Only this task changes the state between these two.
        let mut connected = false;
        let close_requested = self.close_requested.notified();
        tokio::pin!(close_requested);
        loop {
            let connecting = (!connected).then_some(self.config.connect_timeout);
            let polled = tokio::select! {
                biased;
                _ = &mut close_requested => break,
                polled = eventloop.poll(connecting) => polled,
            };
            match polled {
                Ok(Event::Connected {
                    session_present,
                    receive_maximum,
                }) => {
                    backoff.reset();
                    connected = true;
                    self.connected(&mut eventloop, session_present, receive_maximum);
                }
                Ok(event) => {
                    // The rest of what one read or one batch of writes produced,
                    // under one lock.
                    let mut events = vec![event];
                    events.extend(eventloop.take_events());
                    let deliveries = self.handle(events);
                    deliver(deliveries).await;
                }
                Err(failure) => {
                    connected = false;
                    let attempts = backoff.attempts();
                    let retries = reconnect.max_retries;
                    let gave_up = retries != 0 && attempts >= retries;
                    let deliveries = self.lost(&mut eventloop, failure, gave_up);
                    deliver(deliveries).await;
                    if gave_up {
                        break;
                    }
                    let delay = backoff.next_delay();
                    tokio::select! {
                        biased;
                        _ = &mut close_requested => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.disconnect(&mut eventloop).await;
        let mut link = self.link.lock();
        link.task_done = true;
        self.changed.notify_all();
    }

    fn connected(
        &self,
        eventloop: &mut EventLoop,
        session_present: bool,
        receive_maximum: Option<u16>,
    ) {
        let mut link = self.link.lock();
        let window = receive_maximum.map_or(self.config.max_inflight, |most| {
            most.min(self.config.max_inflight)
        });
        link.outbox.set_window(usize::from(window));
        let subscribes = link.subscriptions.resume(session_present);
        eventloop.resume(&link.outbox.resume(session_present), &subscribes);
        for subscribe in subscribes {
            link.subscriptions.sent(subscribe.id);
        }
        link.session += 1;
        if link.state == ConnectionState::Reconnecting {
            link.reconnects += 1;
        }
        link.state = ConnectionState::Connected;
        link.refusal = None;
        link.refused_publish = None;
        link.connected_since = Some(SystemTime::now());
        self.pump(&mut link);
    }

    fn handle(&self, events: Vec<Event>) -> Vec<(Arc<Inbox>, Delivery)> {
        let mut link = self.link.lock();
        let mut deliveries = Vec::new();
        for event in events {
            deliveries.extend(self.apply(&mut link, event));
        }
        if !link.unsent_acks.is_empty() {
            let requests = &self.requests;
            link.unsent_acks
                .retain(|&(pkid, qos)| !requests.acknowledge(pkid, qos));
        }
        if !link.unrouted.is_empty() {
            self.release_unrouted(&mut link);
        }
        self.pump(&mut link);
        if link.outbox.is_empty() {
            self.changed.notify_all();
        }
        deliveries
    }

    fn apply(&self, link: &mut Link, event: Event) -> Vec<(Arc<Inbox>, Delivery)> {
        match event {
            Event::Published(pkid) => link.outbox.outgoing_publish(pkid),
            Event::HeldBack => link.outbox.outgoing_await_ack(),
            Event::Acknowledged(pkid) => link.outbox.incoming_ack(pkid),
            Event::Received(pkid) => link.outbox.incoming_pubrec(pkid),
            Event::PublishRefused { pkid, reason } => {
                let prefix = self.config.prefix.as_str();
                let refused = link.outbox.incoming_refusal(pkid, |message| {
                    let topic = message.topic.strip_prefix(prefix).unwrap_or(&message.topic);
                    Error::Refused(format!(
                        "the broker of connection \"{}\" refused the publish to \"{topic}\": {reason}",
                        self.name
                    ))
                });
                if let Some(error) = refused {
                    link.last_error = Some(error.to_string());
                    link.refused_publish = link.last_error.clone();
                }
            }
            Event::Subscribing(pkid) => link.subscriptions.outgoing_subscribe(pkid),
            Event::Subscribed { pkid, refusal } => {
                link.subscriptions.incoming_suback(pkid, refusal);
                self.changed.notify_all();
            }
            Event::Message(incoming) => return self.route(link, incoming),
            Event::Connected { .. } | Event::Other => {}
        }
        Vec::new()
    }

    /// A copy for every subscriber whose filter matches; the broker's
    /// acknowledgement waits until all of them handled it.
    fn route(&self, link: &mut Link, publish: Incoming) -> Vec<(Arc<Inbox>, Delivery)> {
        match link
            .subscriptions
            .route(&publish.topic, &publish.identifiers)
        {
            None => {
                self.unrouted(link, publish);
                Vec::new()
            }
            // One of the broker's copies per subscription: the others reach every subscriber.
            Some(inboxes) if inboxes.is_empty() => {
                if publish.qos != QoS::AtMostOnce {
                    self.send_acknowledgement(link, publish.pkid, publish.qos);
                }
                Vec::new()
            }
            Some(inboxes) => self.deliveries(link.session, &publish, inboxes),
        }
    }

    /// Nobody here wants it yet. A persistent session's broker sends what it
    /// kept right after CONNACK, usually before the application subscribed:
    /// those wait, unacknowledged, for a subscriber. With a clean session it
    /// is a leftover of an earlier subscriber.
    fn unrouted(&self, link: &mut Link, publish: Incoming) {
        if publish.qos == QoS::AtMostOnce {
            return;
        }
        if self.config.clean_session {
            self.send_acknowledgement(link, publish.pkid, publish.qos);
        } else if link.unrouted.len() < MAX_UNROUTED {
            link.unrouted.push((Instant::now(), publish));
        }
        // Beyond that the broker has them and sends them again on the next connection.
    }

    /// A copy for every subscriber whose filter matches; the broker's
    /// acknowledgement waits until all of them handled it.
    fn deliveries(
        &self,
        session: u64,
        publish: &Incoming,
        inboxes: Vec<Arc<Inbox>>,
    ) -> Vec<(Arc<Inbox>, Delivery)> {
        let ack = (publish.qos != QoS::AtMostOnce).then(|| {
            Arc::new(PendingAck {
                connection: self.me.clone(),
                session,
                pkid: publish.pkid,
                qos: publish.qos,
                holders: std::sync::atomic::AtomicUsize::new(inboxes.len()),
            })
        });
        let topic = publish
            .topic
            .strip_prefix(self.config.prefix.as_str())
            .unwrap_or(&publish.topic);
        let received_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let properties = publish
            .properties
            .as_ref()
            .map(|properties| Arc::new(properties.clone().without_prefix(&self.config.prefix)));
        inboxes
            .into_iter()
            .map(|inbox| {
                let delivery = Delivery {
                    topic: topic.to_string(),
                    payload: publish.payload.clone(),
                    broker: self.broker.clone(),
                    qos: publish.qos,
                    retain: publish.retain,
                    duplicate: publish.dup,
                    received_at,
                    properties: properties.clone(),
                    ack: ack.clone(),
                };
                (inbox, delivery)
            })
            .collect()
    }

    /// Messages waiting for a subscription that is gone, or that nobody made
    /// within the grace period: acknowledged, or they would hold the broker's
    /// window for this client for good.
    fn release_unrouted(&self, link: &mut Link) {
        let now = Instant::now();
        let subscriptions = &link.subscriptions;
        let (gone, wanted): (Vec<_>, Vec<_>) = std::mem::take(&mut link.unrouted)
            .into_iter()
            .partition(|(arrived, publish)| {
                let unwanted = match subscriptions.route(&publish.topic, &publish.identifiers) {
                    None => !subscriptions.is_empty(),
                    Some(inboxes) => inboxes.is_empty(),
                };
                unwanted || now.duration_since(*arrived) >= UNROUTED_GRACE
            });
        link.unrouted = wanted;
        for (_, publish) in gone {
            self.send_acknowledgement(link, publish.pkid, publish.qos);
        }
    }

    /// Called while a subscriber waits, so the grace period ends even when
    /// the broker, its window full, sends nothing more.
    pub fn release_stale_unrouted(&self) {
        let mut link = self.link.lock();
        if !link.unrouted.is_empty() {
            self.release_unrouted(&mut link);
        }
    }

    /// Hands the session's waiting messages to a subscriber that now wants
    /// them, as far as its inbox has room.
    fn deliver_unrouted(&self, link: &mut Link, inbox: &Arc<Inbox>) {
        let waiting = std::mem::take(&mut link.unrouted);
        for (arrived, publish) in waiting {
            let wanted = link
                .subscriptions
                .route(&publish.topic, &publish.identifiers)
                .is_some_and(|inboxes| inboxes.iter().any(|i| i.id == inbox.id));
            if !wanted {
                link.unrouted.push((arrived, publish));
                continue;
            }
            let deliveries = self.deliveries(link.session, &publish, vec![inbox.clone()]);
            for (_, delivery) in deliveries {
                if inbox.try_deliver(delivery).is_err() {
                    link.unrouted.push((arrived, publish.clone()));
                }
            }
        }
    }

    fn lost(
        &self,
        eventloop: &mut EventLoop,
        failure: Failure,
        gave_up: bool,
    ) -> Vec<(Arc<Inbox>, Delivery)> {
        let mut link = self.link.lock();
        // Events rumqttc produced before the failure still tell what was
        // written, acknowledged and received.
        let mut deliveries = Vec::new();
        for event in eventloop.take_events() {
            deliveries.extend(self.apply(&mut link, event));
        }
        eventloop.forget();
        link.outbox.connection_lost();
        link.subscriptions.connection_lost();
        // Unacknowledged, so the broker sends them again on the next connection.
        link.unrouted.clear();
        link.unsent_acks.clear();
        let Failure {
            mut reason,
            refused,
        } = failure;
        if let Some(refusal) = link.refused_publish.take() {
            reason = format!("{refusal}; then the connection ended: {reason}");
        }
        if refused {
            link.outbox.fail_receipts(&self.refused_error(&reason));
        }
        link.refusal = refused.then(|| reason.clone());
        link.last_error = Some(reason);
        link.connected_since = None;
        link.state = if gave_up {
            ConnectionState::Failed
        } else if link.state == ConnectionState::Connecting {
            ConnectionState::Connecting
        } else {
            ConnectionState::Reconnecting
        };
        if gave_up {
            let error = self.failed_error(&link);
            link.outbox.fail_receipts(&error);
        }
        self.changed.notify_all();
        deliveries
    }

    /// Says DISCONNECT, then reads until the broker closes the connection:
    /// closing our end with unread data in it would reset the connection, and
    /// the broker could lose what we wrote just before.
    async fn disconnect(&self, eventloop: &mut EventLoop) {
        if self.link.lock().state != ConnectionState::Connected || !self.requests.disconnect() {
            return;
        }
        let closed_by_broker = async {
            while let Ok(event) = eventloop.poll(None).await {
                deliver(self.handle(vec![event])).await;
            }
        };
        let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, closed_by_broker).await;
    }
}

/// QoS 0, 1 or 2; anything else is a bad argument.
pub fn qos_level(level: i64, argument: &'static str) -> Result<QoS, Error> {
    match level {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        other => Err(Error::InvalidArgument {
            argument,
            problem: format!("must be 0, 1 or 2, got {other}"),
        }),
    }
}

/// Outside the lock: a full inbox makes the connection wait here.
async fn deliver(deliveries: Vec<(Arc<Inbox>, Delivery)>) {
    for (inbox, delivery) in deliveries {
        inbox.deliver(delivery).await;
    }
}

/// Splits `$share/{group}/{filter}` into its head and filter.
fn shared_group(filter: &str) -> Option<(&str, &str)> {
    let rest = filter.strip_prefix("$share/")?;
    let group_end = rest.find('/')?;
    let head_len = "$share/".len() + group_end + 1;
    Some((&filter[..head_len], &filter[head_len..]))
}

/// The size of a PUBLISH as rumqttc encodes it, which it refuses to write
/// beyond the maximum packet size: the connection would break on it again
/// after every reconnect.
fn publish_size(topic: &str, payload: usize, qos: QoS, properties_len: usize) -> usize {
    let packet_id = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let remaining = 2 + topic.len() + packet_id + properties_len + payload;
    1 + variable_int_len(remaining) + remaining
}
