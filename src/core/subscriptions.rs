//! The subscriptions of one connection: which subscriber wants which filter,
//! what the broker confirmed, and where an incoming message goes. A state
//! machine that never does I/O.
//!
//! Like publishes, SUBSCRIBE packets get their packet id inside rumqttc, so
//! the ids are learnt from `Outgoing::Subscribe(pkid)` events, which come in
//! the order the requests were handed over.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rumqttc::QoS;

use super::inbox::Inbox;
use super::topic::matches;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Not yet confirmed by the broker in this session.
    Pending,
    Confirmed,
    /// With the broker's reason.
    Refused(String),
}

#[derive(Debug)]
struct Entry {
    id: u64,
    inbox: Arc<Inbox>,
    /// As sent to the broker: prefix applied, `$share/{group}/` kept.
    filter: String,
    qos: QoS,
    state: SubscriptionState,
}

/// A SUBSCRIBE to send: the entry it confirms, its filter and QoS.
pub type Subscribe = (u64, String, QoS);

#[derive(Debug, Default)]
pub struct Subscriptions {
    entries: Vec<Entry>,
    next_id: u64,
    unseen: VecDeque<u64>,
    by_pkid: HashMap<u16, u64>,
}

impl Subscriptions {
    /// Adds (or, for the same inbox and filter, replaces) a subscription and
    /// returns the SUBSCRIBE that makes it: with the highest QoS any
    /// subscriber asked for on that filter, as the broker keeps one
    /// subscription per filter and connection.
    pub fn add(&mut self, inbox: &Arc<Inbox>, filter: String, qos: QoS) -> Subscribe {
        self.entries
            .retain(|e| !(e.inbox.id == inbox.id && e.filter == filter));
        self.next_id += 1;
        let id = self.next_id;
        self.entries.push(Entry {
            id,
            inbox: inbox.clone(),
            filter: filter.clone(),
            qos,
            state: SubscriptionState::Pending,
        });
        let qos = self.highest_qos(&filter).unwrap_or(qos);
        (id, filter, qos)
    }

    /// Removes the inbox's subscription to `filter`; returns the filter to
    /// UNSUBSCRIBE when no other subscriber holds it.
    pub fn remove(&mut self, inbox_id: u64, filter: &str) -> Option<String> {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.inbox.id == inbox_id && e.filter == filter));
        let removed = self.entries.len() != before;
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

    /// SUBACK; `refusal` is the broker's reason when it refused.
    pub fn incoming_suback(&mut self, pkid: u16, refusal: Option<String>) {
        let Some(id) = self.by_pkid.remove(&pkid) else {
            return;
        };
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
            return;
        };
        // One SUBACK answers for every subscriber of that filter.
        for entry in &mut self.entries {
            if entry.filter == filter
                && (entry.id == id || entry.state == SubscriptionState::Pending)
            {
                entry.state = state.clone();
            }
        }
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
    }

    /// The SUBSCRIBEs a new connection needs: all of them when the broker
    /// kept no session, else only those it never confirmed (subscribing again
    /// would make it send retained messages twice).
    pub fn resume(&mut self, session_present: bool) -> Vec<Subscribe> {
        let mut subscribes: Vec<Subscribe> = Vec::new();
        for entry in &mut self.entries {
            if !session_present && entry.state == SubscriptionState::Confirmed {
                entry.state = SubscriptionState::Pending;
            }
        }
        for entry in &self.entries {
            let wanted = entry.state == SubscriptionState::Pending;
            let already = subscribes.iter().any(|(_, f, _)| *f == entry.filter);
            if wanted && !already {
                let qos = self.highest_qos(&entry.filter).unwrap_or(entry.qos);
                subscribes.push((entry.id, entry.filter.clone(), qos));
            }
        }
        subscribes
    }

    /// The inboxes a message on `topic` goes to, each once.
    pub fn route(&self, topic: &str) -> Vec<Arc<Inbox>> {
        let mut inboxes: Vec<Arc<Inbox>> = Vec::new();
        for entry in &self.entries {
            let refused = matches!(entry.state, SubscriptionState::Refused(_));
            let wanted = !refused && matches(&entry.filter, topic);
            if wanted && !inboxes.iter().any(|i| i.id == entry.inbox.id) {
                inboxes.push(entry.inbox.clone());
            }
        }
        inboxes
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn highest_qos(&self, filter: &str) -> Option<QoS> {
        self.entries
            .iter()
            .filter(|e| e.filter == filter)
            .map(|e| e.qos)
            .max_by_key(|q| *q as u8)
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

    #[test]
    fn suback_confirms_the_subscription_with_that_packet_id() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let (a, _, _) = subs.add(&inbox, "a/#".into(), QoS::AtLeastOnce);
        let (b, _, _) = subs.add(&inbox, "b/#".into(), QoS::AtLeastOnce);
        subs.sent(a);
        subs.sent(b);
        subs.outgoing_subscribe(3);
        subs.outgoing_subscribe(4);
        subs.incoming_suback(4, Some("not authorized".into()));
        subs.incoming_suback(3, None);
        assert_eq!(subs.state(a), Some(SubscriptionState::Confirmed));
        assert_eq!(
            subs.state(b),
            Some(SubscriptionState::Refused("not authorized".into()))
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
            .route("sensors/kitchen/temp")
            .iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids, [first.id, second.id]);
        assert!(subs.route("other").is_empty());
    }

    #[test]
    fn shared_subscriptions_route_by_their_inner_filter() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        subs.add(&inbox, "$share/workers/jobs/#".into(), QoS::AtLeastOnce);
        assert_eq!(subs.route("jobs/1").len(), 1);
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
        let (_, _, qos) = subs.add(&Inbox::new(8), "a".into(), QoS::AtMostOnce);
        assert_eq!(qos, QoS::ExactlyOnce);
    }

    #[test]
    fn resume_without_session_subscribes_everything_again_once_per_filter() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        let (a, _, _) = subs.add(&first, "a".into(), QoS::AtLeastOnce);
        subs.add(&Inbox::new(8), "a".into(), QoS::AtMostOnce);
        confirm(&mut subs, a, 1);
        subs.connection_lost();
        let resent = subs.resume(false);
        let filters: Vec<&str> = resent.iter().map(|(_, f, _)| f.as_str()).collect();
        assert_eq!(filters, ["a"]);
        confirm(&mut subs, resent[0].0, 2);
        assert!(
            subs.resume(true).is_empty(),
            "one SUBACK confirms every subscriber of the filter"
        );
    }

    #[test]
    fn resume_with_session_subscribes_only_what_was_never_confirmed() {
        let mut subs = Subscriptions::default();
        let inbox = Inbox::new(8);
        let (a, _, _) = subs.add(&inbox, "a".into(), QoS::AtLeastOnce);
        subs.add(&inbox, "b".into(), QoS::AtLeastOnce);
        confirm(&mut subs, a, 1);
        subs.connection_lost();
        let filters: Vec<String> = subs.resume(true).into_iter().map(|(_, f, _)| f).collect();
        assert_eq!(filters, ["b"]);
    }

    #[test]
    fn removing_an_inbox_releases_the_filters_only_it_held() {
        let mut subs = Subscriptions::default();
        let first = Inbox::new(8);
        subs.add(&first, "a".into(), QoS::AtMostOnce);
        subs.add(&first, "b".into(), QoS::AtMostOnce);
        subs.add(&Inbox::new(8), "b".into(), QoS::AtMostOnce);
        assert_eq!(subs.remove_inbox(first.id), ["a"]);
        assert!(subs.route("a").is_empty());
    }
}
