//! The subscriptions of one connection: which subscriber wants which filter,
//! what the broker confirmed, and where an incoming message goes. A state
//! machine that never does I/O.
//!
//! Like publishes, SUBSCRIBE packets get their packet id inside rumqttc, so
//! the ids are learnt from `Outgoing::Subscribe(pkid)` events, which come in
//! the order the requests were handed over.
//!
//! An MQTT 5 broker may send one copy of a message per matching subscription
//! of the connection. Each filter is subscribed with a subscription
//! identifier, which the copies carry, so that every subscriber here still
//! gets a message once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rumqttc::QoS;

use super::config::{describe, keyed_entries, unknown_entry, Config, Protocol, Value};
use super::error::{Argument, Error};
use super::inbox::Inbox;
use super::protocol::Reason;
use super::routes::{Pattern, Routes};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Not yet confirmed by the broker in this session.
    Pending,
    Confirmed,
    /// With the broker's reason.
    Refused(Reason),
}

#[derive(Debug)]
struct Entry {
    id: u64,
    inbox: Arc<Inbox>,
    /// As sent to the broker: prefix applied, `$share/{group}/` kept.
    filter: String,
    /// MQTT 5's subscription identifier of the filter.
    identifier: usize,
    qos: QoS,
    options: SubscribeOptions,
    state: SubscriptionState,
}

/// MQTT 5's subscription options: whether the broker sends the connection
/// its own publishes (`no_local`), keeps their retain flag
/// (`retain_as_published`), and when it sends retained messages
/// (`retain_handling`: 0 at every subscribe, 1 when the subscription is new,
/// 2 never).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubscribeOptions {
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: u8,
}

const OPTION_KEYS: &[&str] = &["no_local", "retain_as_published", "retain_handling"];

impl SubscribeOptions {
    /// Reads the `options` argument of a subscribe for `filter` (as given).
    pub fn from_value(value: &Value, filter: &str) -> Result<SubscribeOptions, Error> {
        let bad = |problem: String| Error::invalid(Argument::Options, problem);
        let entries = keyed_entries(value, "subscription option").map_err(bad)?;
        let mut options = SubscribeOptions::default();
        for (key, value) in entries {
            let entry =
                |rule: &str| bad(format!("entry \"{key}\" {rule}, got {}", describe(value)));
            match (key.as_str(), value) {
                ("no_local", Value::Bool(set)) => options.no_local = *set,
                ("retain_as_published", Value::Bool(set)) => options.retain_as_published = *set,
                ("no_local" | "retain_as_published", _) => return Err(entry("must be a bool")),
                ("retain_handling", Value::Int(rule @ 0..=2)) => options.retain_handling = *rule as u8,
                ("retain_handling", _) => {
                    return Err(entry(
                        "must be 0 (send retained messages at every subscribe), 1 (only when the subscription is new) or 2 (never)",
                    ))
                }
                (other, _) => {
                    return Err(bad(unknown_entry("subscription option", other, OPTION_KEYS)))
                }
            }
        }
        if options.no_local && filter.starts_with("$share/") {
            return Err(bad(
                "entry \"no_local\" cannot be set on a shared subscription ($share/...): MQTT 5 forbids it".to_owned(),
            ));
        }
        Ok(options)
    }

    /// Only MQTT 5 has subscription options.
    pub fn check_for(&self, config: &Config) -> Result<(), Error> {
        if *self == SubscribeOptions::default() || config.protocol == Protocol::V5 {
            return Ok(());
        }
        Err(Error::invalid(
            Argument::Options,
            format!(
                "needs a connection with option \"protocol\" => \"5\"; this one speaks MQTT {}",
                config.protocol.as_str()
            ),
        ))
    }
}

/// A SUBSCRIBE to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    /// The subscription it confirms.
    pub id: u64,
    pub filter: String,
    pub qos: QoS,
    /// MQTT 5's subscription identifier of the filter.
    pub identifier: usize,
    pub options: SubscribeOptions,
}

/// The subscription identifier of a filter: the same in every process, so
/// that the copies a persistent session kept still tell which filter they
/// were for after a restart.
pub fn identifier(filter: &str) -> usize {
    // FNV-1a, folded into MQTT's 1..=268,435,455.
    let hash = filter
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % 268_435_455) as usize + 1
}

#[derive(Debug, Default)]
pub struct Subscriptions {
    entries: Vec<Entry>,
    next_id: u64,
    unseen: VecDeque<u64>,
    by_pkid: HashMap<u16, u64>,
    /// The entries' filters in a tree of levels, so that routing a message
    /// does not test every subscription; rebuilt when the entries change.
    index: Routes,
    /// Positions in `entries`, by the filter's number in `index`.
    by_filter: Vec<Vec<usize>>,
    identifiers: HashSet<usize>,
    /// UNSUBSCRIBEs handed over and not yet written, in order, then by the
    /// packet id they were written under: to tell which filter an UNSUBACK
    /// answers for.
    unsubscribes_unseen: VecDeque<String>,
    unsubscribing: HashMap<u16, String>,
}

impl Subscriptions {
    /// Adds (or, for the same inbox and filter, replaces) a subscription and
    /// returns the SUBSCRIBE that makes it: with the highest QoS any
    /// subscriber asked for on that filter, as the broker keeps one
    /// subscription per filter and connection.
    pub fn add(&mut self, inbox: &Arc<Inbox>, filter: String, qos: QoS) -> Subscribe {
        self.add_with(inbox, filter, qos, SubscribeOptions::default())
    }

    /// `add` with MQTT 5's subscription options: the broker keeps one set
    /// per filter, so the latest subscriber's apply.
    pub fn add_with(
        &mut self,
        inbox: &Arc<Inbox>,
        filter: String,
        qos: QoS,
        options: SubscribeOptions,
    ) -> Subscribe {
        self.entries
            .retain(|e| !(e.inbox.id == inbox.id && e.filter == filter));
        self.next_id += 1;
        let id = self.next_id;
        let identifier = identifier(&filter);
        self.entries.push(Entry {
            id,
            inbox: inbox.clone(),
            filter: filter.clone(),
            identifier,
            qos,
            options,
            state: SubscriptionState::Pending,
        });
        self.reindex();
        let qos = self.highest_qos(&filter).unwrap_or(qos);
        Subscribe {
            id,
            identifier,
            filter,
            qos,
            options,
        }
    }

    /// Removes the inbox's subscription to `filter`; returns the filter to
    /// UNSUBSCRIBE when no other subscriber holds it.
    pub fn remove(&mut self, inbox_id: u64, filter: &str) -> Option<String> {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.inbox.id == inbox_id && e.filter == filter));
        let removed = self.entries.len() != before;
        if removed {
            self.reindex();
        }
        (removed && self.highest_qos(filter).is_none()).then(|| filter.to_string())
    }

    /// Removes every subscription of the inbox; returns the filters nobody holds any more.
    pub fn remove_inbox(&mut self, inbox_id: u64) -> Vec<String> {
        let filters: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.inbox.id == inbox_id)
            .map(|e| e.filter.clone())
            .collect();
        let mut released: Vec<String> = filters
            .iter()
            .filter_map(|f| self.remove(inbox_id, f))
            .collect();
        released.dedup();
        released
    }

    /// The SUBSCRIBE for `id` was handed to the event loop.
    pub fn sent(&mut self, id: u64) {
        self.unseen.push_back(id);
    }

    pub fn outgoing_subscribe(&mut self, pkid: u16) {
        if let Some(id) = self.unseen.pop_front() {
            self.by_pkid.insert(pkid, id);
        }
    }

    /// SUBACK; `refusal` is the broker's reason when it refused. Returns
    /// the filter it answers for.
    pub fn incoming_suback(&mut self, pkid: u16, refusal: Option<Reason>) -> Option<String> {
        let id = self.by_pkid.remove(&pkid)?;
        let state = match refusal {
            Some(reason) => SubscriptionState::Refused(reason),
            None => SubscriptionState::Confirmed,
        };
        let Some(filter) = self
            .entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.filter.clone())
        else {
            return None;
        };
        // One SUBACK answers for every subscriber of that filter.
        for entry in &mut self.entries {
            if entry.filter == filter
                && (entry.id == id || entry.state == SubscriptionState::Pending)
            {
                entry.state = state.clone();
            }
        }
        Some(filter)
    }

    pub fn state(&self, id: u64) -> Option<SubscriptionState> {
        self.entries
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.state.clone())
    }

    pub fn connection_lost(&mut self) {
        self.unseen.clear();
        self.by_pkid.clear();
        // Their UNSUBACK will not come. Those not yet written stay in order:
        // the request channel keeps them for the next connection.
        self.unsubscribing.clear();
    }

    /// An UNSUBSCRIBE of `filter` was handed to the event loop.
    pub fn unsubscribe_handed_over(&mut self, filter: String) {
        self.unsubscribes_unseen.push_back(filter);
    }

    /// The next UNSUBSCRIBE handed over was written under `pkid`.
    pub fn outgoing_unsubscribe(&mut self, pkid: u16) {
        if let Some(filter) = self.unsubscribes_unseen.pop_front() {
            self.unsubscribing.insert(pkid, filter);
        }
    }

    /// UNSUBACK: the filter it answers for.
    pub fn incoming_unsuback(&mut self, pkid: u16) -> Option<String> {
        self.unsubscribing.remove(&pkid)
    }

    /// The SUBSCRIBEs a new connection needs: all of them when the broker
    /// kept no session, else only those it never confirmed (subscribing again
    /// would make it send retained messages twice).
    ///
    /// Shared subscriptions are made again whatever the broker says: Mosquitto
    /// 2.0 restores a persistent session from its persistence file without
    /// them, and with its session present says nothing of it. Subscribing to
    /// a shared subscription again is harmless: it gets no retained messages.
    pub fn resume(&mut self, session_present: bool) -> Vec<Subscribe> {
        let mut subscribes: Vec<Subscribe> = Vec::new();
        for entry in &mut self.entries {
            let forgettable = !session_present || entry.filter.starts_with("$share/");
            if forgettable && entry.state == SubscriptionState::Confirmed {
                entry.state = SubscriptionState::Pending;
            }
        }
        for entry in &self.entries {
            let wanted = entry.state == SubscriptionState::Pending;
            let already = subscribes.iter().any(|s| s.filter == entry.filter);
            if wanted && !already {
                subscribes.push(Subscribe {
                    id: entry.id,
                    filter: entry.filter.clone(),
                    qos: self.highest_qos(&entry.filter).unwrap_or(entry.qos),
                    identifier: entry.identifier,
                    options: self.latest_options(&entry.filter),
                });
            }
        }
        subscribes
    }

    /// The inboxes a message on `topic` goes to, each once; `None` when no
    /// subscription here matches it.
    ///
    /// `identifiers`: the subscription identifiers the copy carries (MQTT 5).
    /// Then an inbox takes only the copy of its matching filter with the
    /// lowest identifier among those the broker holds (confirmed, or named
    /// by this copy): one copy each, whether the broker sends one copy per
    /// subscription or one for all. An empty list means no identifiers
    /// (MQTT 3.1.1): every matching inbox.
    pub fn route(&self, topic: &str, identifiers: &[usize]) -> Option<Vec<Arc<Inbox>>> {
        // Identifiers of none of our subscriptions (a broker's mistake) say
        // nothing: the topic alone decides, rather than losing the message.
        let known = identifiers.iter().any(|id| self.identifiers.contains(id));
        let identifiers = if known { identifiers } else { &[] };
        let mut positions: Vec<usize> = self
            .index
            .numbers(topic)
            .into_iter()
            .flat_map(|filter| self.by_filter[filter].iter().copied())
            .collect();
        positions.sort_unstable();
        // Each matching inbox with the lowest identifier it takes a copy for.
        let mut matched: Vec<(Arc<Inbox>, Option<usize>)> = Vec::new();
        for entry in positions.into_iter().map(|at| &self.entries[at]) {
            if matches!(entry.state, SubscriptionState::Refused(_)) {
                continue;
            }
            let id = entry.identifier;
            let held = entry.state == SubscriptionState::Confirmed || identifiers.contains(&id);
            let id = held.then_some(id);
            match matched
                .iter_mut()
                .find(|(inbox, _)| inbox.id == entry.inbox.id)
            {
                Some((_, lowest)) => *lowest = lower(*lowest, id),
                None => matched.push((entry.inbox.clone(), id)),
            }
        }
        if matched.is_empty() {
            return None;
        }
        Some(
            matched
                .into_iter()
                .filter(|(_, lowest)| {
                    identifiers.is_empty() || lowest.is_some_and(|id| identifiers.contains(&id))
                })
                .map(|(inbox, _)| inbox)
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn reindex(&mut self) {
        self.index = Routes::default();
        self.by_filter.clear();
        let mut numbers: HashMap<&str, usize> = HashMap::new();
        for (at, entry) in self.entries.iter().enumerate() {
            let number = *numbers.entry(entry.filter.as_str()).or_insert_with(|| {
                self.by_filter.push(Vec::new());
                self.index.add(Pattern::of_filter(&entry.filter))
            });
            self.by_filter[number].push(at);
        }
        self.identifiers = self.entries.iter().map(|e| e.identifier).collect();
    }

    fn latest_options(&self, filter: &str) -> SubscribeOptions {
        self.entries
            .iter()
            .rev()
            .find(|e| e.filter == filter)
            .map(|e| e.options)
            .unwrap_or_default()
    }

    fn highest_qos(&self, filter: &str) -> Option<QoS> {
        self.entries
            .iter()
            .filter(|e| e.filter == filter)
            .map(|e| e.qos)
            .max_by_key(|q| *q as u8)
    }
}

fn lower(a: Option<usize>, b: Option<usize>) -> Option<usize> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confirm(subs: &mut Subscriptions, id: u64, pkid: u16) {
        subs.sent(id);
        subs.outgoing_subscribe(pkid);
        subs.incoming_suback(pkid, None);
    }

    fn options(entries: &[(&str, Value)], filter: &str) -> Result<SubscribeOptions, String> {
        let value = Value::Map(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        );
        SubscribeOptions::from_value(&value, filter).map_err(|e| e.to_string())
    }

    #[test]
    fn subscription_options_are_read_and_checked() {
        assert_eq!(
            options(
                &[
                    ("no_local", Value::Bool(true)),
                    ("retain_as_published", Value::Bool(true)),
                    ("retain_handling", Value::Int(2)),
                ],
                "a/#"
            ),
            Ok(SubscribeOptions {
                no_local: true,
                retain_as_published: true,
                retain_handling: 2
            })
        );
        assert!(options(&[("retain_handling", Value::Int(3))], "a")
            .unwrap_err()
            .contains("must be 0"));
        assert!(options(&[("no_local", Value::Bool(true))], "$share/g/a")
            .unwrap_err()
            .contains("shared subscription"));
        assert_eq!(
            options(&[("retain", Value::Bool(true))], "a").unwrap_err(),
            "$options has an unknown subscription option \"retain\"; known: no_local, retain_as_published, retain_handling"
        );
    }

    #[test]
    fn resubscribing_uses_the_latest_options_of_a_filter() {
        let mut subs = Subscriptions::default();
        let (one, two) = (Inbox::new(1), Inbox::new(1));
        let no_local = SubscribeOptions {
            no_local: true,
            ..SubscribeOptions::default()
        };
        subs.add(&one, "a".into(), QoS::AtLeastOnce);
        let second = subs.add_with(&two, "a".into(), QoS::AtLeastOnce, no_local);
        assert_eq!(second.options, no_local);
        assert_eq!(subs.resume(false)[0].options, no_local);
    }

    #[test]
    fn suback_confirms_the_subscription_with_that_packet_id() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let a = subs.add(&inbox, "a/#".into(), QoS::AtLeastOnce).id;
        let b = subs.add(&inbox, "b/#".into(), QoS::AtLeastOnce).id;
        subs.sent(a);
        subs.sent(b);
        subs.outgoing_subscribe(3);
        subs.outgoing_subscribe(4);
        let not_authorized = Reason::new(0x87, "not authorized");
        subs.incoming_suback(4, Some(not_authorized.clone()));
        subs.incoming_suback(3, None);
        assert_eq!(subs.state(a), Some(SubscriptionState::Confirmed));
        assert_eq!(
            subs.state(b),
            Some(SubscriptionState::Refused(not_authorized))
        );
    }

    #[test]
    fn messages_go_to_every_matching_subscriber_once() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        let second = Inbox::new(8);
        subs.add(&first, "sensors/+/temp".into(), QoS::AtMostOnce);
        subs.add(&first, "sensors/#".into(), QoS::AtMostOnce);
        subs.add(&second, "sensors/kitchen/temp".into(), QoS::AtMostOnce);
        let ids: Vec<u64> = subs
            .route("sensors/kitchen/temp", &[])
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [first.id, second.id]);
        assert!(subs.route("other", &[]).is_none());
    }

    #[test]
    fn shared_subscriptions_route_by_their_inner_filter() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        subs.add(&inbox, "$share/workers/jobs/#".into(), QoS::AtLeastOnce);
        assert_eq!(subs.route("jobs/1", &[]).unwrap().len(), 1);
    }

    #[test]
    fn unsubscribe_is_sent_only_when_nobody_holds_the_filter() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        let second = Inbox::new(8);
        subs.add(&first, "a".into(), QoS::AtMostOnce);
        subs.add(&second, "a".into(), QoS::AtMostOnce);
        assert_eq!(subs.remove(first.id, "a"), None);
        assert_eq!(subs.remove(second.id, "a"), Some("a".to_string()));
        assert_eq!(subs.remove(second.id, "a"), None);
    }

    #[test]
    fn subscribe_asks_for_the_highest_qos_on_a_shared_filter() {
        let mut subs = Subscriptions::default();
        subs.add(&Inbox::new(8), "a".into(), QoS::ExactlyOnce);
        let subscribe = subs.add(&Inbox::new(8), "a".into(), QoS::AtMostOnce);
        assert_eq!(subscribe.qos, QoS::ExactlyOnce);
    }

    #[test]
    fn resume_without_session_subscribes_everything_again_once_per_filter() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        let a = subs.add(&first, "a".into(), QoS::AtLeastOnce).id;
        subs.add(&Inbox::new(8), "a".into(), QoS::AtMostOnce);
        confirm(&mut subs, a, 1);
        subs.connection_lost();
        let resent = subs.resume(false);
        let filters: Vec<&str> = resent.iter().map(|s| s.filter.as_str()).collect();
        assert_eq!(filters, ["a"]);
        confirm(&mut subs, resent[0].id, 2);
        assert!(
            subs.resume(true).is_empty(),
            "one SUBACK confirms every subscriber of the filter"
        );
    }

    #[test]
    fn resume_with_session_subscribes_only_what_was_never_confirmed() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let a = subs.add(&inbox, "a".into(), QoS::AtLeastOnce).id;
        subs.add(&inbox, "b".into(), QoS::AtLeastOnce);
        confirm(&mut subs, a, 1);
        subs.connection_lost();
        let filters: Vec<String> = subs.resume(true).into_iter().map(|s| s.filter).collect();
        assert_eq!(filters, ["b"]);
    }

    #[test]
    fn resume_with_session_subscribes_shared_subscriptions_again() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let a = subs.add(&inbox, "a".into(), QoS::AtLeastOnce).id;
        let shared = subs
            .add(&inbox, "$share/g/jobs".into(), QoS::AtLeastOnce)
            .id;
        confirm(&mut subs, a, 1);
        confirm(&mut subs, shared, 2);
        subs.connection_lost();
        let filters: Vec<String> = subs.resume(true).into_iter().map(|s| s.filter).collect();
        assert_eq!(filters, ["$share/g/jobs"], "a restored session may lack it");
    }

    #[test]
    fn removing_an_inbox_releases_the_filters_only_it_held() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        subs.add(&first, "a".into(), QoS::AtMostOnce);
        subs.add(&first, "b".into(), QoS::AtMostOnce);
        subs.add(&Inbox::new(8), "b".into(), QoS::AtMostOnce);
        assert_eq!(subs.remove_inbox(first.id), ["a"]);
        assert!(subs.route("a", &[]).is_none());
    }

    #[test]
    fn each_inbox_takes_one_of_the_copies_sent_per_matching_subscription() {
        let mut subs = Subscriptions::default();
        let both = Inbox::new(8);
        let hash_only = Inbox::new(8);
        let a = subs.add(&both, "s/#".into(), QoS::AtLeastOnce).id;
        let b = subs.add(&both, "s/+/t".into(), QoS::AtLeastOnce).id;
        subs.add(&hash_only, "s/#".into(), QoS::AtLeastOnce);
        confirm(&mut subs, a, 1);
        confirm(&mut subs, b, 2);
        let (hash, plus) = (identifier("s/#"), identifier("s/+/t"));
        let receivers = |ids: &[usize]| -> Vec<u64> {
            subs.route("s/x/t", ids)
                .unwrap()
                .iter()
                .map(|i| i.id)
                .collect()
        };
        let mut copies = receivers(&[hash]);
        copies.extend(receivers(&[plus]));
        copies.sort_unstable();
        assert_eq!(copies, [both.id, hash_only.id], "one copy each");
        let mut single = receivers(&[hash, plus]);
        single.sort_unstable();
        assert_eq!(
            single,
            [both.id, hash_only.id],
            "one copy for all subscriptions"
        );
    }

    #[test]
    fn a_filter_the_broker_does_not_hold_yet_does_not_take_the_copy() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let a = subs.add(&inbox, "s/#".into(), QoS::AtLeastOnce).id;
        confirm(&mut subs, a, 1);
        subs.add(&inbox, "s/+/t".into(), QoS::AtLeastOnce);
        let ids: Vec<u64> = subs
            .route("s/x/t", &[identifier("s/#")])
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [inbox.id]);
    }

    #[test]
    fn identifiers_of_none_of_our_subscriptions_fall_back_to_the_topic() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let a = subs.add(&inbox, "s/#".into(), QoS::AtLeastOnce).id;
        confirm(&mut subs, a, 1);
        let ids: Vec<u64> = subs
            .route("s/x", &[identifier("s/#") + 1])
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [inbox.id], "a QoS 1 message is not lost");
    }

    #[test]
    fn subscription_identifiers_are_stable_and_in_mqtt_range() {
        assert_eq!(identifier("a/b"), identifier("a/b"));
        assert_ne!(identifier("a/b"), identifier("a/c"));
        for filter in ["", "#", "a/+/b", "$share/g/x"] {
            assert!((1..=268_435_455).contains(&identifier(filter)));
        }
    }

    #[test]
    fn an_unsuback_names_its_filter_by_the_order_unsubscribes_were_written() {
        let mut subs = Subscriptions::default();
        subs.unsubscribe_handed_over("a/#".into());
        subs.unsubscribe_handed_over("b".into());
        subs.outgoing_unsubscribe(7);
        subs.outgoing_unsubscribe(8);
        assert_eq!(subs.incoming_unsuback(8).as_deref(), Some("b"));
        assert_eq!(subs.incoming_unsuback(8), None, "answered once");

        // A lost connection ends what was written; what was not yet keeps its turn.
        subs.unsubscribe_handed_over("c".into());
        subs.connection_lost();
        assert_eq!(subs.incoming_unsuback(7), None);
        subs.outgoing_unsubscribe(1);
        assert_eq!(subs.incoming_unsuback(1).as_deref(), Some("c"));
    }
}
