//! The task that owns rumqttc's event loop: connects, reconnects with
//! backoff, and applies what the event loop reports to the link.

use super::*;

/// A connection that ends sooner than this after CONNACK did not really
/// work: the backoff goes on growing, and the publish it ended on is suspect.
const STABLE_AFTER: Duration = Duration::from_secs(1);
/// Connections a publish may end, each right after it was sent, before it
/// is given up as refused.
const MAX_STRIKES: u32 = 3;
/// MQTT 5 redirects followed in a row, without a connection that lasted,
/// before the next one is taken for a loop and the servers option goes on.
const MAX_REDIRECTS: u32 = 5;

impl Connection {
    pub(super) async fn run(self: Arc<Self>, mut eventloop: EventLoop) {
        let reconnect = &self.config.reconnect;
        let mut backoff = Backoff::new(reconnect.initial_delay, reconnect.max_delay);
        // Only this task changes the state between connected and not.
        let mut connected_at: Option<Instant> = None;
        // Counted from 1 at the start and after a connection that lasted.
        let mut attempt: u32 = 1;
        // Failed attempts in this round through the servers.
        let mut tried: usize = 0;
        // Redirects followed since the last connection that lasted.
        let mut redirects: u32 = 0;
        let close_requested = self.close_requested.notified();
        tokio::pin!(close_requested);
        loop {
            let connecting = connected_at
                .is_none()
                .then_some(self.config.connect_timeout);
            let polled = tokio::select! {
                biased;
                _ = &mut close_requested => {
                    #[cfg(test)]
                    supervision::tests::crash_if_asked(&self.name);
                    break;
                }
                polled = eventloop.poll(connecting) => polled,
            };
            match polled {
                Ok(Event::Connected(accepted)) => {
                    connected_at = Some(Instant::now());
                    self.connected(&mut eventloop, accepted, attempt);
                }
                Ok(event) => {
                    // The rest of what one read or one batch of writes produced,
                    // under one lock.
                    let mut events = vec![event];
                    events.extend(eventloop.take_events());
                    deliver(self.handle(events)).await;
                }
                Err(failure) => {
                    let lasted = connected_at.take().map(|at| at.elapsed());
                    let redirect = failure.redirect.clone();
                    let was_redirected = {
                        let mut link = self.link.lock();
                        let server = link.server;
                        link.server_errors[server] = Some(failure.reason.clone());
                        link.redirected.take().is_some()
                    };
                    if was_redirected {
                        // Back to the servers option, unless sent on again.
                        self.use_server(&mut eventloop);
                    }
                    let short_lived = lasted.is_some_and(|lasted| lasted < STABLE_AFTER);
                    if lasted.is_some() && !short_lived {
                        backoff.reset();
                        redirects = 0;
                    }
                    let attempts = backoff.attempts();
                    let retries = reconnect.max_retries;
                    let gave_up = retries != 0 && attempts >= retries;
                    let ended = attempt;
                    attempt = if lasted.is_some() && !short_lived {
                        1
                    } else {
                        attempt + 1
                    };
                    let attempts = (ended, attempt);
                    let deliveries =
                        self.lost(&mut eventloop, failure, gave_up, short_lived, attempts);
                    deliver(deliveries).await;
                    if gave_up {
                        break;
                    }
                    if let Some(reference) = redirect {
                        redirects += 1;
                        if self.redirect(&mut eventloop, &reference, redirects) {
                            continue;
                        }
                    }
                    // A lost connection is tried again on its server first. A
                    // failed attempt moves on to the next server at once; the
                    // backoff comes after a round through all of them.
                    if lasted.is_some() || self.servers.len() == 1 {
                        tried = 0;
                    } else {
                        tried += 1;
                        self.next_server(&mut eventloop);
                        if tried < self.servers.len() {
                            continue;
                        }
                        tried = 0;
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
        link.direct = None;
        link.task_done = true;
        self.changed.notify_all();
    }

    /// The next connection attempt goes to the next server.
    fn next_server(&self, eventloop: &mut EventLoop) {
        {
            let mut link = self.link.lock();
            link.server = (link.server + 1) % self.servers.len();
        }
        self.use_server(eventloop);
    }

    /// The next connection attempt goes to the server of the option in use.
    fn use_server(&self, eventloop: &mut EventLoop) {
        let link = self.link.lock();
        eventloop.set_server(&self.config, &self.servers[link.server], self.tls.as_ref());
    }

    /// An MQTT 5 broker named another server (CONNACK or DISCONNECT with a
    /// Server Reference): the next attempt goes there at once, reached as the
    /// server that sent it. False when the reference names no usable server,
    /// or after `MAX_REDIRECTS` in a row (a loop): `last_error` says so, and
    /// the servers option goes on as after any failure.
    fn redirect(&self, eventloop: &mut EventLoop, reference: &str, redirects: u32) -> bool {
        let mut link = self.link.lock();
        let from = &self.servers[link.server];
        let refusal = match config::server_reference(reference, from) {
            _ if redirects > MAX_REDIRECTS => format!(
                "{} redirects in a row without a connection that lasted, the last to {reference:?}: taken for a loop, the next server is tried",
                redirects
            ),
            None => format!("the broker's server reference {reference:?} names no usable server"),
            Some(server) => {
                eventloop.set_server(&self.config, &server, self.tls.as_ref());
                link.redirected = Some(server);
                return true;
            }
        };
        let error = match link.last_error.take() {
            Some(error) => format!("{error}; {refusal}"),
            None => refusal,
        };
        link.last_error = Some(error);
        false
    }

    fn connected(&self, eventloop: &mut EventLoop, accepted: Accepted, attempt: u32) {
        let session_present = accepted.session_present;
        let mut link = self.link.lock();
        let window = accepted
            .receive_maximum
            .map_or(self.config.max_inflight, |most| {
                most.min(self.config.max_inflight)
            });
        link.outbox.set_window(usize::from(window));
        link.broker_max_packet_size = accepted.maximum_packet_size.map(|size| size as usize);
        if let Some(limit) = link.broker_max_packet_size {
            // Queued before the broker told its limit: never deliverable.
            let refused = link.outbox.refuse_queued(
                |m| {
                    self.packet_size(&m.topic, m.payload.len(), m.qos, m.properties.as_deref())
                        > limit
                },
                |m| self.too_large_error(&m.topic, limit),
            );
            if let Some(error) = refused {
                link.last_error = Some(error.to_string());
            }
        }
        link.direct = eventloop.direct();
        let subscribes = link.subscriptions.resume(session_present);
        eventloop.resume(&link.outbox.resume(session_present), &subscribes);
        for subscribe in subscribes {
            link.subscriptions.sent(subscribe.id);
        }
        link.session += 1;
        if link.state == ConnectionState::Reconnecting {
            link.reconnects += 1;
            self.meter.reconnected();
        }
        link.state = ConnectionState::Connected;
        link.refusal = None;
        link.refused_publish = None;
        link.connected_since = Some(SystemTime::now());
        link.session_present = Some(session_present);
        if accepted.assigned_client_id.is_some() {
            link.assigned_client_id = accepted.assigned_client_id;
        }
        let mut event = ConnectionEvent::new(EventKind::Connected, &self.broker, attempt);
        event.session_present = session_present;
        self.emit(&mut link, event);
        self.pump(&mut link);
        self.changed.notify_all();
    }

    /// Acknowledgements the PHP thread read itself (`Direct::await_puback`).
    pub(super) fn apply_read_here(&self, acknowledged: Vec<Event>) {
        let mut link = self.link.lock();
        self.apply_acknowledgements(&mut link, acknowledged);
    }

    /// Acknowledgements the PHP thread read while the event loop did not
    /// watch the socket (`Direct::catch_up`). False when it met the
    /// connection's end instead: the event loop is woken for it. With
    /// nothing in flight no read is made: none is due.
    pub(super) fn catch_up(&self, link: &mut MutexGuard<'_, Link>) -> bool {
        if link.outbox.in_flight_len() == 0 {
            return true;
        }
        let Some((acknowledged, open)) = link.direct.as_ref().map(Direct::catch_up) else {
            return true;
        };
        if !acknowledged.is_empty() {
            self.apply_acknowledgements(link, acknowledged);
        }
        open
    }

    fn apply_acknowledgements(&self, link: &mut MutexGuard<'_, Link>, acknowledged: Vec<Event>) {
        for event in acknowledged {
            // An acknowledgement delivers no message.
            let _ = self.apply(link, event);
        }
        self.pump(link);
        if link.outbox.is_empty() {
            self.changed.notify_all();
        }
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
        self.release_expired_unrouted(&mut link);
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
                let refused = link.outbox.incoming_refusal(pkid, |message| {
                    Refusal::Publish {
                        connection: self.name.clone(),
                        topic: self.unprefixed(&message.topic).to_owned(),
                        reason,
                    }
                    .into()
                });
                if let Some(error) = refused {
                    link.last_error = Some(error.to_string());
                    link.refused_publish = link.last_error.clone();
                }
            }
            Event::Subscribing(pkid) => link.subscriptions.outgoing_subscribe(pkid),
            Event::Subscribed { pkid, refusal } => {
                let kind = match refusal {
                    Some(_) => EventKind::SubscriptionRefused,
                    None => EventKind::Subscribed,
                };
                let reason = refusal.as_ref().map(ToString::to_string);
                if let Some(filter) = link.subscriptions.incoming_suback(pkid, refusal) {
                    let mut event = ConnectionEvent::new(kind, &self.broker, 0);
                    event.reason = reason;
                    event.filter = Some(self.unprefixed(&filter).to_owned());
                    self.emit(link, event);
                }
                self.changed.notify_all();
            }
            Event::Unsubscribing(pkid) => link.subscriptions.outgoing_unsubscribe(pkid),
            Event::Unsubscribed(pkid) => {
                if let Some(filter) = link.subscriptions.incoming_unsuback(pkid) {
                    let mut event = ConnectionEvent::new(EventKind::Unsubscribed, &self.broker, 0);
                    event.filter = Some(self.unprefixed(&filter).to_owned());
                    self.emit(link, event);
                }
            }
            Event::Message(incoming) => return self.route(link, incoming),
            Event::Connected { .. } | Event::Disconnecting | Event::Other => {}
        }
        Vec::new()
    }

    fn lost(
        &self,
        eventloop: &mut EventLoop,
        failure: Failure,
        gave_up: bool,
        short_lived: bool,
        (ended, next): (u32, u32),
    ) -> Vec<(Arc<Inbox>, Delivery)> {
        let mut link = self.link.lock();
        // Events rumqttc produced before the failure still tell what was
        // written, acknowledged and received.
        let mut deliveries = Vec::new();
        for event in eventloop.take_events() {
            deliveries.extend(self.apply(&mut link, event));
        }
        let given_up = if short_lived {
            self.blame_oldest_in_flight(&mut link)
        } else {
            link.suspect = None;
            None
        };
        eventloop.forget();
        link.direct = None;
        link.outbox.connection_lost();
        link.subscriptions.connection_lost();
        // Unacknowledged, so the broker sends them again on the next connection.
        link.unrouted.clear();
        link.unsent_acks.clear();
        let Failure {
            mut reason,
            refused,
            code,
            ..
        } = failure;
        if let Some(refusal) = link.refused_publish.take() {
            reason = format!("{refusal}; then the connection ended: {reason}");
        }
        if refused {
            let refused = self.refused_error(&link, &reason);
            link.outbox.fail_receipts(&refused);
        }
        link.refusal = refused.then(|| reason.clone());
        link.last_error = Some(match given_up {
            Some(refusal) => format!("{refusal}; the connection ended: {reason}"),
            None => reason,
        });
        link.connected_since = None;
        let reason = link.last_error.clone();
        if link.state == ConnectionState::Connected {
            let mut event = ConnectionEvent::new(EventKind::Disconnected, &self.broker, ended);
            event.reason = reason.clone();
            self.emit(&mut link, event);
        }
        let (kind, attempt) = if gave_up {
            (EventKind::Failed, ended)
        } else {
            (EventKind::Reconnecting, next)
        };
        let mut event = ConnectionEvent::new(kind, &self.broker, attempt);
        event.reason = reason;
        event.code = code;
        self.emit(&mut link, event);
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
        self.measure(&link);
        self.changed.notify_all();
        deliveries
    }

    /// MQTT 3.1.1 lets a broker refuse a publish only by closing the
    /// connection (one beyond its message size limit, say). Sent again after
    /// every reconnect, such a message would block everything behind it for
    /// good: after `MAX_STRIKES` short connections that each ended with it
    /// the oldest unacknowledged, it is given up as refused.
    fn blame_oldest_in_flight(&self, link: &mut Link) -> Option<Error> {
        let Some(oldest) = link.outbox.oldest_in_flight() else {
            link.suspect = None;
            return None;
        };
        let strikes = match link.suspect {
            Some((suspect, strikes)) if suspect == oldest => strikes + 1,
            _ => 1,
        };
        if strikes < MAX_STRIKES {
            link.suspect = Some((oldest, strikes));
            return None;
        }
        link.suspect = None;
        link.outbox.refuse_in_flight(oldest, |message| {
            Refusal::Disconnected {
                connection: self.name.clone(),
                topic: self.unprefixed(&message.topic).to_owned(),
                times: strikes,
            }
            .into()
        })
    }

    /// Says DISCONNECT, ends our half of the connection once it is written,
    /// then reads until the broker closes its half: closing the socket with
    /// unread data in it would reset the connection, and the broker could lose
    /// what we wrote just before. A broker that waits for the client to close
    /// (rmqtt, the built-in one) closes on our half-close at once.
    async fn disconnect(&self, eventloop: &mut EventLoop) {
        let farewell = {
            let link = self.link.lock();
            if link.state != ConnectionState::Connected {
                return;
            }
            link.farewell.clone()
        };
        if !self.requests.disconnect(&farewell) {
            return;
        }
        let closed_by_broker = async {
            while let Ok(event) = eventloop.poll(None).await {
                let written = matches!(event, Event::Disconnecting);
                deliver(self.handle(vec![event])).await;
                if written {
                    eventloop.close_write().await;
                }
            }
        };
        let _ = tokio::time::timeout(DISCONNECT_TIMEOUT, closed_by_broker).await;
    }
}

/// Outside the lock. Only QoS 0 can make the connection wait here, for a
/// subscriber whose inbox and overflow are full of it.
async fn deliver(deliveries: Vec<(Arc<Inbox>, Delivery)>) {
    for (inbox, delivery) in deliveries {
        inbox.deliver(delivery).await;
    }
}
