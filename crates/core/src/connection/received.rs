//! Received messages: which subscribers they go to, and those of a
//! persistent session that arrive before anybody subscribed.

use super::*;

/// How long a persistent session's message that nobody subscribed to yet
/// waits for a subscriber. Past that it belongs to a subscription the
/// application no longer makes, and holding it would block the broker's
/// in-flight window for this client.
///
/// All of them wait, however many: each holds a packet id the broker has
/// not had acknowledged, so the broker's in-flight window bounds them (and
/// the 65,535 packet ids do, should a broker miscount its window). One left
/// unacknowledged would never come again on this connection.
const UNROUTED_GRACE: Duration = Duration::from_secs(5);

impl Connection {
    /// A copy for every subscriber whose filter matches; the broker's
    /// acknowledgement waits until all of them handled it.
    pub(super) fn route(&self, link: &mut Link, publish: Incoming) -> Vec<(Arc<Inbox>, Delivery)> {
        self.meter.received(publish.payload.len());
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
    /// kept right after CONNACK, usually before the application subscribed
    /// (or before it made the second of its subscriptions): those wait,
    /// unacknowledged, for a subscriber. With a clean session it is a
    /// leftover of an earlier subscriber.
    fn unrouted(&self, link: &mut Link, publish: Incoming) {
        if publish.qos == QoS::AtMostOnce {
            return;
        }
        if self.config.clean_session {
            self.send_acknowledgement(link, publish.pkid, publish.qos);
        } else {
            link.unrouted.push((Instant::now(), publish));
        }
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
                connection: self.me.clone() as Weak<dyn Acknowledger>,
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
                    routes: Vec::new(),
                    ack: ack.clone(),
                };
                (inbox, delivery)
            })
            .collect()
    }

    /// Messages that nobody subscribed to within the grace period, and the
    /// surplus copies of a message that a subscriber has (one per matching
    /// subscription, MQTT 5): acknowledged, or they would hold the broker's
    /// window for this client for good. A message matching no subscription
    /// waits out its grace: the application may make that subscription next.
    pub(super) fn release_unrouted(&self, link: &mut Link) {
        let now = Instant::now();
        let subscriptions = &link.subscriptions;
        let (gone, wanted): (Vec<_>, Vec<_>) = std::mem::take(&mut link.unrouted)
            .into_iter()
            .partition(|(arrived, publish)| {
                let surplus = subscriptions
                    .route(&publish.topic, &publish.identifiers)
                    .is_some_and(|inboxes| inboxes.is_empty());
                surplus || now.duration_since(*arrived) >= UNROUTED_GRACE
            });
        link.unrouted = wanted;
        for (_, publish) in gone {
            self.send_acknowledgement(link, publish.pkid, publish.qos);
        }
    }

    /// After a batch of events and while a subscriber waits (so that the
    /// grace period ends even when the broker, its window full, sends
    /// nothing more). Cheap until the oldest waiting message's grace is
    /// over: surplus copies appear only when the subscriptions change, and
    /// those changes release them.
    pub(super) fn release_expired_unrouted(&self, link: &mut Link) {
        let expired = link
            .unrouted
            .first()
            .is_some_and(|(arrived, _)| arrived.elapsed() >= UNROUTED_GRACE);
        if expired {
            self.release_unrouted(link);
        }
    }

    /// The same, for a subscriber that waits.
    pub fn release_stale_unrouted(&self) {
        self.release_expired_unrouted(&mut self.link.lock());
    }

    /// Hands the session's waiting messages to a subscriber that now wants
    /// them, and lets go of the copies that subscribers have one of already.
    pub(super) fn deliver_unrouted(&self, link: &mut Link, inbox: &Arc<Inbox>) {
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
                // QoS 1/2, as every message a session keeps: the inbox takes it.
                let _ = inbox.try_deliver(delivery);
            }
        }
        self.release_unrouted(link);
    }
}
