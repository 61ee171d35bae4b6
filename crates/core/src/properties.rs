//! MQTT 5 publish properties: what `publish()` accepts and a received
//! message carries. The argument is validated here, once, so the protocol
//! layer can put the values on the wire without checking them again.

use bytes::Bytes;

use super::config::{describe, keyed_entries, unknown_entry, Config, Protocol, Value};
use super::error::{Argument, Error};
use super::topic::{validate_length, validate_topic};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    /// In order; a name may come more than once.
    pub user_properties: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// Seconds.
    pub message_expiry_interval: Option<u32>,
    /// As on the wire: with the connection's prefix.
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    /// 0: unspecified bytes, 1: UTF-8 text.
    pub payload_format_indicator: Option<u8>,
}

const KEYS: &[&str] = &[
    "user_properties",
    "content_type",
    "message_expiry_interval",
    "response_topic",
    "correlation_data",
    "payload_format_indicator",
];

/// MQTT strings and binary data carry a two-byte length.
const MAX_STRING_BYTES: usize = 65_535;

impl Properties {
    /// Reads a publish's `properties` argument; `None` when it sets nothing.
    /// `prefix` goes in front of the response topic, as in front of topics.
    pub fn from_value(value: &Value, prefix: &str) -> Result<Option<Properties>, Error> {
        let bad = |problem: String| Error::invalid(Argument::Properties, problem);
        let entries = keyed_entries(value, "property name").map_err(bad)?;
        let mut properties = Properties::default();
        for (key, value) in entries {
            let entry =
                |rule: &str| bad(format!("entry \"{key}\" {rule}, got {}", describe(value)));
            match key.as_str() {
                "user_properties" => {
                    properties.user_properties = user_properties(value)
                        .map_err(|rule| bad(format!("entry \"user_properties\" {rule}")))?;
                }
                "content_type" => {
                    properties.content_type =
                        Some(text(value).ok_or_else(|| {
                            entry("must be a UTF-8 string of at most 65535 bytes")
                        })?);
                }
                "message_expiry_interval" => match value {
                    Value::Int(seconds) => {
                        let seconds = u32::try_from(*seconds).map_err(|_| {
                            entry("must be a whole number of seconds between 0 and 4294967295")
                        })?;
                        properties.message_expiry_interval = Some(seconds);
                    }
                    _ => {
                        return Err(entry(
                            "must be a whole number of seconds between 0 and 4294967295",
                        ))
                    }
                },
                "response_topic" => {
                    let topic = match value {
                        Value::Str(topic) => topic,
                        Value::Bytes(_) => {
                            return Err(entry("must be valid UTF-8 (MQTT topics are UTF-8 text)"))
                        }
                        _ => return Err(entry("must be a topic name")),
                    };
                    validate_topic(topic)
                        .and_then(|()| validate_length(prefix, topic))
                        .map_err(|e| bad(format!("entry \"response_topic\" {e}")))?;
                    properties.response_topic = Some(format!("{prefix}{topic}"));
                }
                "correlation_data" => {
                    let data = match value {
                        Value::Str(text) => text.as_bytes(),
                        Value::Bytes(bytes) => bytes.as_slice(),
                        _ => return Err(entry("must be a string")),
                    };
                    if data.len() > MAX_STRING_BYTES {
                        return Err(entry("must be at most 65535 bytes"));
                    }
                    properties.correlation_data = Some(Bytes::copy_from_slice(data));
                }
                "payload_format_indicator" => match value {
                    Value::Int(indicator @ 0..=1) => {
                        properties.payload_format_indicator = Some(*indicator as u8)
                    }
                    _ => {
                        return Err(entry(
                            "must be 0 (the payload is unspecified bytes) or 1 (UTF-8 text)",
                        ))
                    }
                },
                other => return Err(bad(unknown_entry("property", other, KEYS))),
            }
        }
        Ok((properties != Properties::default()).then_some(properties))
    }

    /// Reads the argument for a publish on a connection with `config`:
    /// only MQTT 5 carries properties.
    pub fn for_publish(value: &Value, config: &Config) -> Result<Option<Properties>, Error> {
        let properties = Properties::from_value(value, &config.prefix)?;
        if properties.is_some() && config.protocol != Protocol::V5 {
            return Err(Error::invalid(
                Argument::Properties,
                format!(
                    "needs a connection with option \"protocol\" => \"5\"; this one speaks MQTT {}",
                    config.protocol.as_str()
                ),
            ));
        }
        Ok(properties)
    }

    /// The response topic as the application named it.
    pub fn without_prefix(mut self, prefix: &str) -> Self {
        if let Some(topic) = &mut self.response_topic {
            if let Some(rest) = topic.strip_prefix(prefix) {
                *topic = rest.to_owned();
            }
        }
        self
    }

    /// Bytes these properties add to a PUBLISH, their length field included.
    pub fn encoded_len(&self) -> usize {
        let strings = |s: &str| 2 + s.len();
        let mut len = self
            .user_properties
            .iter()
            .map(|(name, value)| 1 + strings(name) + strings(value))
            .sum::<usize>();
        len += self.content_type.as_deref().map_or(0, |s| 1 + strings(s));
        len += self.message_expiry_interval.map_or(0, |_| 1 + 4);
        len += self.response_topic.as_deref().map_or(0, |s| 1 + strings(s));
        len += self
            .correlation_data
            .as_ref()
            .map_or(0, |d| 1 + 2 + d.len());
        len += self.payload_format_indicator.map_or(0, |_| 1 + 1);
        variable_int_len(len) + len
    }

    /// A payload said to be UTF-8 text must be: brokers refuse it otherwise
    /// (Mosquitto closes the connection).
    pub fn check_payload(&self, payload: &[u8]) -> Result<(), Error> {
        if self.payload_format_indicator == Some(1) && std::str::from_utf8(payload).is_err() {
            return Err(Error::invalid(
                Argument::Payload,
                "must be valid UTF-8 with property \"payload_format_indicator\" => 1",
            ));
        }
        Ok(())
    }
}

/// `name => value`, or a list of `[name, value]` pairs to repeat a name.
fn user_properties(value: &Value) -> Result<Vec<(String, String)>, String> {
    let pair = |name: &str, value: &Value| -> Result<(String, String), String> {
        let value = match value {
            Value::Int(n) => n.to_string(),
            Value::Float(f) if f.is_finite() => f.to_string(),
            other => text(other).ok_or_else(|| {
                format!(
                    "value of \"{name}\" must be a UTF-8 string of at most 65535 bytes, got {}",
                    describe(other)
                )
            })?,
        };
        if name.len() > MAX_STRING_BYTES || name.contains('\0') {
            return Err(
                "names must be UTF-8 strings of at most 65535 bytes without NUL".to_owned(),
            );
        }
        Ok((name.to_owned(), value))
    };
    match value {
        Value::Map(entries) => entries
            .iter()
            .map(|(name, value)| pair(name, value))
            .collect(),
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                Value::List(pair_items) if pair_items.len() == 2 => match &pair_items[0] {
                    Value::Str(name) => pair(name, &pair_items[1]),
                    other => Err(format!("names must be strings, got {}", describe(other))),
                },
                other => Err(format!(
                    "must be name => value, or a list of [name, value] pairs; got an item {}",
                    describe(other)
                )),
            })
            .collect(),
        other => Err(format!(
            "must be name => value, or a list of [name, value] pairs; got {}",
            describe(other)
        )),
    }
}

/// MQTT's UTF-8 strings: no NUL, a two-byte length.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Str(text) if text.len() <= MAX_STRING_BYTES && !text.contains('\0') => {
            Some(text.clone())
        }
        _ => None,
    }
}

/// Bytes of MQTT's variable byte integer for `n`.
pub fn variable_int_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{map, str};

    fn parse(pairs: &[(&str, Value)]) -> Result<Option<Properties>, Error> {
        Properties::from_value(&map(pairs), "app/")
    }

    fn error(pairs: &[(&str, Value)]) -> String {
        parse(pairs).unwrap_err().to_string()
    }

    #[test]
    fn every_property_is_read_and_the_response_topic_gets_the_prefix() {
        let properties = parse(&[
            (
                "user_properties",
                map(&[("trace", str("abc")), ("attempt", Value::Int(3))]),
            ),
            ("content_type", str("application/json")),
            ("message_expiry_interval", Value::Int(60)),
            ("response_topic", str("replies/1")),
            ("correlation_data", Value::Bytes(vec![0, 0xff])),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            properties.user_properties,
            vec![
                ("trace".into(), "abc".into()),
                ("attempt".into(), "3".into())
            ]
        );
        assert_eq!(properties.content_type.as_deref(), Some("application/json"));
        assert_eq!(properties.message_expiry_interval, Some(60));
        assert_eq!(properties.response_topic.as_deref(), Some("app/replies/1"));
        assert_eq!(
            properties.correlation_data,
            Some(Bytes::from_static(&[0, 0xff]))
        );
        assert_eq!(
            properties.without_prefix("app/").response_topic.as_deref(),
            Some("replies/1")
        );
    }

    #[test]
    fn pairs_repeat_a_user_property_name_in_order() {
        let pairs = Value::List(vec![
            Value::List(vec![str("tag"), str("a")]),
            Value::List(vec![str("tag"), str("b")]),
        ]);
        let properties = parse(&[("user_properties", pairs)]).unwrap().unwrap();
        assert_eq!(
            properties.user_properties,
            vec![("tag".into(), "a".into()), ("tag".into(), "b".into())]
        );
    }

    #[test]
    fn nothing_set_means_no_properties() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(Properties::from_value(&Value::List(vec![]), ""), Ok(None));
    }

    #[test]
    fn unknown_property_is_named_with_a_suggestion() {
        assert_eq!(
            error(&[("content-type", str("x"))]),
            "$properties has an unknown property \"content-type\" (did you mean \"content_type\"?); known: user_properties, content_type, message_expiry_interval, response_topic, correlation_data, payload_format_indicator"
        );
    }

    #[test]
    fn wrong_values_are_named_with_what_was_given() {
        assert_eq!(
            error(&[("content_type", Value::Int(5))]),
            "$properties entry \"content_type\" must be a UTF-8 string of at most 65535 bytes, got 5"
        );
        assert_eq!(
            error(&[("message_expiry_interval", Value::Int(-1))]),
            "$properties entry \"message_expiry_interval\" must be a whole number of seconds between 0 and 4294967295, got -1"
        );
        assert_eq!(
            error(&[("message_expiry_interval", Value::Int(1 << 32))]),
            "$properties entry \"message_expiry_interval\" must be a whole number of seconds between 0 and 4294967295, got 4294967296"
        );
        assert_eq!(
            error(&[("response_topic", str("replies/+"))]),
            "$properties entry \"response_topic\" must not contain wildcards '+' or '#'"
        );
        assert_eq!(
            error(&[("correlation_data", Value::List(vec![str("x")]))]),
            "$properties entry \"correlation_data\" must be a string, got list"
        );
        assert_eq!(
            error(&[("user_properties", map(&[("k", Value::List(vec![]))]))]),
            "$properties entry \"user_properties\" value of \"k\" must be a UTF-8 string of at most 65535 bytes, got list"
        );
        assert_eq!(
            error(&[("user_properties", str("k=v"))]),
            "$properties entry \"user_properties\" must be name => value, or a list of [name, value] pairs; got \"k=v\""
        );
        assert_eq!(
            Properties::from_value(&str("x"), "")
                .unwrap_err()
                .to_string(),
            "$properties must be an array keyed by property name, got \"x\""
        );
    }

    #[test]
    fn the_payload_format_indicator_is_0_or_1_and_1_needs_utf8() {
        let text = parse(&[("payload_format_indicator", Value::Int(1))])
            .unwrap()
            .unwrap();
        assert_eq!(text.payload_format_indicator, Some(1));
        assert_eq!(text.check_payload(b"ok \xc3\xbc"), Ok(()));
        assert_eq!(
            text.check_payload(b"\xff").unwrap_err().to_string(),
            "$payload must be valid UTF-8 with property \"payload_format_indicator\" => 1"
        );
        assert_eq!(
            error(&[("payload_format_indicator", Value::Int(2))]),
            "$properties entry \"payload_format_indicator\" must be 0 (the payload is unspecified bytes) or 1 (UTF-8 text), got 2"
        );
    }

    #[test]
    fn content_type_must_be_text() {
        let binary = Value::Bytes(vec![0xff]);
        assert!(error(&[("content_type", binary)]).contains("must be a UTF-8 string"));
        assert!(error(&[("content_type", str("a\0b"))]).contains("must be a UTF-8 string"));
    }

    #[test]
    fn properties_need_an_mqtt_5_connection() {
        let value = map(&[("content_type", str("text/plain"))]);
        let v311 = Config::default();
        assert_eq!(
            Properties::for_publish(&value, &v311).unwrap_err().to_string(),
            "$properties needs a connection with option \"protocol\" => \"5\"; this one speaks MQTT 3.1.1"
        );
        assert_eq!(Properties::for_publish(&map(&[]), &v311), Ok(None));
        let v5 = Config {
            protocol: Protocol::V5,
            ..Config::default()
        };
        assert!(Properties::for_publish(&value, &v5).unwrap().is_some());
    }

    #[test]
    fn encoded_len_counts_every_field_and_the_length_itself() {
        let properties = Properties {
            user_properties: vec![("a".into(), "bc".into())],
            content_type: Some("t".into()),
            message_expiry_interval: Some(1),
            response_topic: Some("r".into()),
            correlation_data: Some(Bytes::from_static(b"xy")),
            payload_format_indicator: Some(1),
        };
        // 8 + 4 + 5 + 4 + 5 + 2 = 28, plus one byte of length
        assert_eq!(properties.encoded_len(), 29);
        assert_eq!(Properties::default().encoded_len(), 1);
    }
}
