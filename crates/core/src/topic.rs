//! Topic names and subscription filters: validation and MQTT matching rules.
//!
//! Error messages complete a sentence that starts with the argument, as in
//! `argument #1 ($topic) must not be empty`.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TopicError {
    #[error("must not be empty")]
    Empty,
    #[error("must not be longer than 65535 bytes")]
    TooLong,
    #[error("must not contain NUL bytes")]
    Nul,
    #[error("must not contain wildcards '+' or '#'")]
    Wildcard,
    #[error("must use wildcards '+' and '#' only as whole topic levels")]
    WildcardInsideLevel,
    #[error("must use '#' only as the last topic level")]
    HashNotLast,
    #[error("must have the form '$share/{{group}}/{{filter}}' with a non-empty group without wildcards and a non-empty filter")]
    SharedSubscription,
}

/// MQTT strings carry a two-byte length.
const MAX_LENGTH: usize = 65_535;
const SHARE_PREFIX: &str = "$share/";

/// Checks a topic name for PUBLISH.
pub fn validate_topic(topic: &str) -> Result<(), TopicError> {
    validate_string(topic)?;
    if topic.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// Checks a subscription filter, including the `$share/{group}/{filter}` form.
pub fn validate_filter(filter: &str) -> Result<(), TopicError> {
    validate_string(filter)?;
    let Some(shared) = filter.strip_prefix(SHARE_PREFIX) else {
        return validate_levels(filter);
    };
    match shared.split_once('/') {
        Some((group, filter))
            if !group.is_empty() && !group.contains(['+', '#']) && !filter.is_empty() =>
        {
            validate_levels(filter)
        }
        _ => Err(TopicError::SharedSubscription),
    }
}

/// Whether `topic` is delivered to a subscription on `filter`. Both are
/// expected to be valid; a malformed shared subscription matches nothing.
pub fn matches(filter: &str, topic: &str) -> bool {
    let filter = match filter.strip_prefix(SHARE_PREFIX) {
        Some(shared) => match shared.split_once('/') {
            Some((_, filter)) => filter,
            None => return false,
        },
        None => filter,
    };
    // Server topics like `$SYS/...` are only for subscribers that ask for them by name.
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match (level, topic_levels.next()) {
            // `#` also covers the parent level itself: `sport/#` matches `sport`.
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (level, Some(topic_level)) if level == topic_level => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

/// A topic of `prefix` + `topic`, both valid on their own, fits MQTT's limit.
pub fn validate_length(prefix: &str, topic: &str) -> Result<(), TopicError> {
    if prefix.len() + topic.len() > MAX_LENGTH {
        return Err(TopicError::TooLong);
    }
    Ok(())
}

fn validate_string(text: &str) -> Result<(), TopicError> {
    if text.is_empty() {
        Err(TopicError::Empty)
    } else if text.len() > MAX_LENGTH {
        Err(TopicError::TooLong)
    } else if text.contains('\0') {
        Err(TopicError::Nul)
    } else {
        Ok(())
    }
}

fn validate_levels(filter: &str) -> Result<(), TopicError> {
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains(['+', '#']) && level != "+" && level != "#" {
            return Err(TopicError::WildcardInsideLevel);
        }
        if level == "#" && levels.peek().is_some() {
            return Err(TopicError::HashNotLast);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_topics_are_valid() {
        for topic in [
            "a",
            "sensors/kitchen/temp",
            "/leading",
            "trailing/",
            "a//b",
            "$SYS/x",
            " ",
            "ünïcode/✓",
        ] {
            assert_eq!(validate_topic(topic), Ok(()), "{topic:?}");
        }
    }

    #[test]
    fn empty_topic_is_rejected() {
        assert_eq!(validate_topic(""), Err(TopicError::Empty));
    }

    #[test]
    fn topic_with_wildcards_is_rejected() {
        for topic in ["a/+", "a/#", "+", "#", "a+b", "a#b"] {
            assert_eq!(
                validate_topic(topic),
                Err(TopicError::Wildcard),
                "{topic:?}"
            );
        }
    }

    #[test]
    fn topic_with_nul_is_rejected() {
        assert_eq!(validate_topic("a\0b"), Err(TopicError::Nul));
    }

    #[test]
    fn topic_longer_than_65535_bytes_is_rejected() {
        assert_eq!(validate_topic(&"a".repeat(65_535)), Ok(()));
        assert_eq!(
            validate_topic(&"a".repeat(65_536)),
            Err(TopicError::TooLong)
        );
        // Bytes, not characters: 21846 three-byte characters are 65538 bytes.
        assert_eq!(
            validate_topic(&"✓".repeat(21_846)),
            Err(TopicError::TooLong)
        );
    }

    #[test]
    fn messages_read_as_the_end_of_an_argument_sentence() {
        let sentence = |error: TopicError| format!("argument #1 ($topic) {error}");
        assert_eq!(
            sentence(TopicError::Empty),
            "argument #1 ($topic) must not be empty"
        );
        assert_eq!(
            sentence(TopicError::Wildcard),
            "argument #1 ($topic) must not contain wildcards '+' or '#'"
        );
        assert_eq!(
            sentence(TopicError::Nul),
            "argument #1 ($topic) must not contain NUL bytes"
        );
        assert_eq!(
            sentence(TopicError::TooLong),
            "argument #1 ($topic) must not be longer than 65535 bytes"
        );
        assert_eq!(
            TopicError::SharedSubscription.to_string(),
            "must have the form '$share/{group}/{filter}' with a non-empty group without wildcards and a non-empty filter"
        );
    }

    #[test]
    fn filters_with_whole_level_wildcards_are_valid() {
        for filter in [
            "#", "+", "a/+/c", "a/#", "+/+", "/+", "+/", "a/+/#", "$SYS/#", "sport",
        ] {
            assert_eq!(validate_filter(filter), Ok(()), "{filter:?}");
        }
    }

    #[test]
    fn filter_wildcards_must_be_whole_levels() {
        for filter in ["a+", "a/b+/c", "+a", "a/#b", "##", "++", "a/+#"] {
            assert_eq!(
                validate_filter(filter),
                Err(TopicError::WildcardInsideLevel),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn hash_must_be_the_last_level() {
        for filter in ["#/a", "a/#/b", "#/"] {
            assert_eq!(
                validate_filter(filter),
                Err(TopicError::HashNotLast),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn filters_share_the_topic_string_rules() {
        assert_eq!(validate_filter(""), Err(TopicError::Empty));
        assert_eq!(validate_filter("a\0"), Err(TopicError::Nul));
        assert_eq!(
            validate_filter(&"a".repeat(65_536)),
            Err(TopicError::TooLong)
        );
    }

    #[test]
    fn shared_subscriptions_need_a_group_and_a_filter() {
        for filter in ["$share/workers/jobs/#", "$share/g/+", "$share/g/a/b"] {
            assert_eq!(validate_filter(filter), Ok(()), "{filter:?}");
        }
        for filter in [
            "$share/",
            "$share/workers",
            "$share//jobs",
            "$share/workers/",
            "$share/g+/a",
            "$share/#/a",
        ] {
            assert_eq!(
                validate_filter(filter),
                Err(TopicError::SharedSubscription),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn filter_inside_a_shared_subscription_is_checked() {
        assert_eq!(
            validate_filter("$share/g/a+"),
            Err(TopicError::WildcardInsideLevel)
        );
        assert_eq!(
            validate_filter("$share/g/#/a"),
            Err(TopicError::HashNotLast)
        );
    }

    #[test]
    fn share_without_a_slash_is_an_ordinary_filter() {
        assert_eq!(validate_filter("$share"), Ok(()));
        assert!(matches("$share", "$share"));
    }

    #[test]
    fn exact_filters_match_only_the_same_topic() {
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(!matches("a/b/c", "a/b"));
        assert!(!matches("a/b", "a/B"));
        assert!(!matches("a/b", "a/b/"));
    }

    #[test]
    fn plus_matches_exactly_one_level() {
        assert!(matches("sport/+", "sport/tennis"));
        assert!(matches("sport/+/player", "sport/tennis/player"));
        assert!(!matches("sport/+", "sport/tennis/player"));
        assert!(!matches("sport/tennis/+", "sport/tennis"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
    }

    #[test]
    fn hash_matches_any_number_of_levels() {
        assert!(matches("#", "a"));
        assert!(matches("#", "a/b/c"));
        assert!(matches("#", "/"));
        assert!(matches("sport/#", "sport/tennis/player/ranking"));
        assert!(matches("sport/+/#", "sport/tennis"));
        assert!(!matches("sport/#", "sports"));
    }

    #[test]
    fn hash_matches_the_parent_level_too() {
        assert!(matches("sport/#", "sport"));
        assert!(matches("sport/tennis/#", "sport/tennis"));
        assert!(!matches("sport/tennis/#", "sport"));
    }

    #[test]
    fn dollar_topics_are_not_matched_by_leading_wildcards() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/broker/uptime", "$SYS/broker/uptime"));
        assert!(matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(matches("$SYS/+/uptime", "$SYS/broker/uptime"));
        assert!(matches("a/#", "a/$b"));
    }

    #[test]
    fn shared_subscriptions_match_like_their_filter() {
        assert!(matches("$share/workers/jobs/#", "jobs/1"));
        assert!(matches("$share/workers/+", "jobs"));
        assert!(!matches("$share/workers/jobs", "workers/jobs"));
        assert!(!matches("$share/workers/#", "$SYS/x"));
        assert!(!matches("$share/workers", "workers"));
    }
}
