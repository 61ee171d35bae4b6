//! Who may publish and subscribe to what, as Mosquitto's ACL file says it:
//! each entry grants a user (or everyone) read, write or both on a topic
//! filter, or denies it. Without entries everything is allowed; with entries,
//! only what an entry grants, and a matching `deny` wins over any grant.

use mqtt_broadcast_core::topic::{matches, validate_filter, TopicError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    ReadWrite,
    Deny,
}

impl Access {
    pub fn parse(text: &str) -> Option<Access> {
        match text {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "readwrite" => Some(Access::ReadWrite),
            "deny" => Some(Access::Deny),
            _ => None,
        }
    }

    fn grants(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Access::ReadWrite, _)
                | (Access::Read, Action::Subscribe)
                | (Access::Write, Action::Publish)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Publish,
    Subscribe,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AclEntry {
    /// `None`: every client, anonymous ones included.
    user: Option<String>,
    filter: String,
    access: Access,
}

impl AclEntry {
    pub fn new(user: Option<String>, filter: &str, access: Access) -> Result<AclEntry, TopicError> {
        validate_filter(filter)?;
        if filter.starts_with("$share/") {
            // An ACL is about topics; which group reads them does not change who may.
            return Err(TopicError::SharedSubscription);
        }
        Ok(AclEntry {
            user,
            filter: filter.to_owned(),
            access,
        })
    }

    fn applies_to(&self, user: Option<&str>) -> bool {
        self.user.is_none() || self.user.as_deref() == user
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acl {
    entries: Vec<AclEntry>,
}

impl Acl {
    pub fn push(&mut self, entry: AclEntry) {
        self.entries.push(entry);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn may_publish(&self, user: Option<&str>, topic: &str) -> bool {
        self.decide(user, Action::Publish, |filter| matches(filter, topic))
    }

    /// `filter` without a `$share/{group}/` prefix. A grant must cover all of
    /// it; a deny refuses it as soon as one topic could match both, since the
    /// broker does not check each delivered message again.
    pub fn may_subscribe(&self, user: Option<&str>, filter: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let applicable = || self.entries.iter().filter(|entry| entry.applies_to(user));
        if applicable().any(|entry| entry.access == Access::Deny && overlap(&entry.filter, filter))
        {
            return false;
        }
        applicable()
            .any(|entry| entry.access.grants(Action::Subscribe) && covers(&entry.filter, filter))
    }

    fn decide(&self, user: Option<&str>, action: Action, hit: impl Fn(&str) -> bool) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let applicable = || self.entries.iter().filter(|entry| entry.applies_to(user));
        if applicable().any(|entry| entry.access == Access::Deny && hit(&entry.filter)) {
            return false;
        }
        applicable().any(|entry| entry.access.grants(action) && hit(&entry.filter))
    }
}

/// Whether every topic `inner` matches is matched by `outer` too.
fn covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') && outer.starts_with(['+', '#']) {
        return false;
    }
    let mut inner_levels = inner.split('/');
    for level in outer.split('/') {
        match (level, inner_levels.next()) {
            ("#", _) => return true,
            ("+", Some(inner_level)) if inner_level != "#" => {}
            (level, Some(inner_level))
                if level == inner_level && inner_level != "+" && inner_level != "#" => {}
            _ => return false,
        }
    }
    inner_levels.next().is_none()
}

/// Whether some topic is matched by both filters.
fn overlap(a: &str, b: &str) -> bool {
    let mut a_levels = a.split('/');
    let mut b_levels = b.split('/');
    loop {
        match (a_levels.next(), b_levels.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some(x), Some(y)) if x == "+" || y == "+" || x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(entries: &[(Option<&str>, &str, Access)]) -> Acl {
        let mut acl = Acl::default();
        for (user, filter, access) in entries {
            acl.push(AclEntry::new(user.map(str::to_owned), filter, *access).unwrap());
        }
        acl
    }

    #[test]
    fn without_entries_everything_is_allowed() {
        let acl = Acl::default();
        assert!(acl.may_publish(None, "a/b"));
        assert!(acl.may_subscribe(Some("x"), "#"));
    }

    #[test]
    fn a_read_entry_allows_subscribing_within_it_but_not_publishing() {
        let acl = acl(&[(Some("app"), "metrics/#", Access::Read)]);
        assert!(acl.may_subscribe(Some("app"), "metrics/cpu"));
        assert!(acl.may_subscribe(Some("app"), "metrics/+/load"));
        assert!(acl.may_subscribe(Some("app"), "metrics/#"));
        assert!(!acl.may_subscribe(Some("app"), "#"));
        assert!(!acl.may_subscribe(Some("app"), "other"));
        assert!(!acl.may_publish(Some("app"), "metrics/cpu"));
        assert!(!acl.may_subscribe(Some("someone"), "metrics/cpu"));
        assert!(!acl.may_subscribe(None, "metrics/cpu"));
    }

    #[test]
    fn a_plus_grant_does_not_cover_a_hash_subscription() {
        let acl = acl(&[(None, "a/+", Access::ReadWrite)]);
        assert!(acl.may_subscribe(None, "a/+"));
        assert!(acl.may_subscribe(None, "a/b"));
        assert!(!acl.may_subscribe(None, "a/#"));
        assert!(acl.may_publish(None, "a/b"));
        assert!(!acl.may_publish(None, "a/b/c"));
    }

    #[test]
    fn a_deny_wins_over_a_grant_even_for_a_wider_subscription() {
        let acl = acl(&[
            (None, "#", Access::ReadWrite),
            (None, "secret/#", Access::Deny),
        ]);
        assert!(acl.may_publish(None, "public"));
        assert!(!acl.may_publish(None, "secret/x"));
        assert!(!acl.may_subscribe(None, "secret/x"));
        assert!(!acl.may_subscribe(None, "#"));
        assert!(!acl.may_subscribe(None, "+/x"));
        assert!(acl.may_subscribe(None, "public/#"));
    }

    #[test]
    fn wildcards_do_not_reach_dollar_topics() {
        let acl = acl(&[(None, "#", Access::ReadWrite)]);
        assert!(!acl.may_publish(None, "$SYS/x"));
        assert!(!acl.may_subscribe(None, "$SYS/#"));
    }

    #[test]
    fn invalid_and_shared_filters_are_refused() {
        assert_eq!(
            AclEntry::new(None, "a/#/b", Access::Read).unwrap_err(),
            TopicError::HashNotLast
        );
        assert!(AclEntry::new(None, "$share/g/a", Access::Read).is_err());
        assert!(AclEntry::new(None, "", Access::Read).is_err());
    }
}
