//! What `close()` tells the broker in its DISCONNECT (MQTT 5): why the
//! connection ends, and how long the broker keeps its session from now on.

use crate::config::{describe, keyed_entries, unknown_entry, Config, Protocol, Value};
use crate::error::{Argument, Error};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloseOptions {
    /// The DISCONNECT's reason code: 0 (normal) unless given.
    pub reason_code: u8,
    /// Replaces the session expiry interval of CONNECT; `None` keeps it.
    pub session_expiry_interval: Option<u32>,
    pub reason_string: Option<String>,
}

/// The reason codes MQTT 5 lets a client send in a DISCONNECT (3.14.2.1).
const CLIENT_REASON_CODES: &[(u8, &str)] = &[
    (0x00, "normal disconnection"),
    (0x04, "disconnect with will message"),
    (0x80, "unspecified error"),
    (0x81, "malformed packet"),
    (0x82, "protocol error"),
    (0x83, "implementation specific error"),
    (0x90, "topic name invalid"),
    (0x93, "receive maximum exceeded"),
    (0x94, "topic alias invalid"),
    (0x95, "packet too large"),
    (0x96, "message rate too high"),
    (0x97, "quota exceeded"),
    (0x98, "administrative action"),
    (0x99, "payload format invalid"),
];

const OPTION_KEYS: &[&str] = &["reason_code", "session_expiry_interval", "reason_string"];

impl CloseOptions {
    /// Reads the `options` argument of `close()`.
    pub fn from_value(value: &Value) -> Result<CloseOptions, Error> {
        let bad = |problem: String| Error::invalid(Argument::Options, problem);
        let entries = keyed_entries(value, "close option").map_err(bad)?;
        let mut options = CloseOptions::default();
        for (key, value) in entries {
            let entry =
                |rule: String| bad(format!("entry \"{key}\" {rule}, got {}", describe(value)));
            match (key.as_str(), value) {
                ("reason_code", Value::Int(code))
                    if CLIENT_REASON_CODES
                        .iter()
                        .any(|(c, _)| i64::from(*c) == *code) =>
                {
                    options.reason_code = *code as u8
                }
                ("reason_code", _) => {
                    let codes: Vec<String> = CLIENT_REASON_CODES
                        .iter()
                        .map(|(code, meaning)| format!("0x{code:02X} ({meaning})"))
                        .collect();
                    return Err(entry(format!(
                        "must be a reason code a client may send: {}",
                        codes.join(", ")
                    )));
                }
                ("session_expiry_interval", Value::Int(seconds @ 0..=0xFFFF_FFFF)) => {
                    options.session_expiry_interval = Some(*seconds as u32)
                }
                ("session_expiry_interval", _) => {
                    return Err(entry(
                        "must be an int of seconds from 0 to 4294967295".into(),
                    ))
                }
                ("reason_string", Value::Str(text)) => options.reason_string = Some(text.clone()),
                ("reason_string", _) => return Err(entry("must be a UTF-8 string".into())),
                (other, _) => return Err(bad(unknown_entry("close option", other, OPTION_KEYS))),
            }
        }
        Ok(options)
    }

    /// Only MQTT 5 has a DISCONNECT with content, and a session that ended
    /// with its connection (expiry 0 at CONNECT) cannot be revived by it.
    pub fn check_for(&self, config: &Config) -> Result<(), Error> {
        if *self == CloseOptions::default() {
            return Ok(());
        }
        if config.protocol != Protocol::V5 {
            return Err(Error::invalid(
                Argument::Options,
                format!(
                    "needs a connection with option \"protocol\" => \"5\"; this one speaks MQTT {}",
                    config.protocol.as_str()
                ),
            ));
        }
        if self.session_expiry_interval.is_some_and(|s| s > 0) && config.session_expiry() == 0 {
            return Err(Error::invalid(
                Argument::Options,
                "entry \"session_expiry_interval\" cannot be above 0 for a connection that \
                 asked for no session at CONNECT (MQTT 5 forbids it); give the connection a \
                 session_expiry_interval, or clean_session => false"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn error(value: Value) -> String {
        match CloseOptions::from_value(&value) {
            Err(Error::InvalidArgument { problem, .. }) => problem,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_option() {
        let options = CloseOptions::from_value(&map(&[
            ("reason_code", Value::Int(4)),
            ("session_expiry_interval", Value::Int(0)),
            ("reason_string", Value::Str("deploy".into())),
        ]))
        .unwrap();
        assert_eq!(
            options,
            CloseOptions {
                reason_code: 4,
                session_expiry_interval: Some(0),
                reason_string: Some("deploy".into()),
            }
        );
        assert_eq!(
            CloseOptions::from_value(&Value::List(vec![])).unwrap(),
            CloseOptions::default()
        );
    }

    #[test]
    fn refuses_what_a_client_may_not_send() {
        assert!(error(map(&[("reason_code", Value::Int(0x8E))]))
            .starts_with("entry \"reason_code\" must be a reason code a client may send: 0x00 (normal disconnection), 0x04"));
        assert!(error(map(&[("reason_code", Value::Str("4".into()))])).ends_with("got \"4\""));
        assert!(error(map(&[("session_expiry_interval", Value::Int(-1))]))
            .starts_with("entry \"session_expiry_interval\" must be an int of seconds"));
        assert!(
            error(map(&[("session_expiry_interval", Value::Int(1 << 32))]))
                .starts_with("entry \"session_expiry_interval\"")
        );
        assert!(error(map(&[("reason_string", Value::Bytes(vec![0xff]))]))
            .starts_with("entry \"reason_string\" must be a UTF-8 string"));
        assert_eq!(
            error(map(&[("reason_cod", Value::Int(0))])),
            "has an unknown close option \"reason_cod\" (did you mean \"reason_code\"?); known: reason_code, session_expiry_interval, reason_string"
        );
        assert!(error(Value::Int(1)).starts_with("must be an array keyed by close option"));
    }

    #[test]
    fn needs_mqtt_5_and_a_session_to_extend() {
        let wanted = CloseOptions {
            session_expiry_interval: Some(60),
            ..CloseOptions::default()
        };
        let v311 = Config::default();
        assert!(CloseOptions::default().check_for(&v311).is_ok());
        assert!(matches!(
            wanted.check_for(&v311),
            Err(Error::InvalidArgument { problem, .. }) if problem.contains("\"protocol\" => \"5\"")
        ));
        let v5 = Config {
            protocol: Protocol::V5,
            ..Config::default()
        };
        assert!(matches!(
            wanted.check_for(&v5),
            Err(Error::InvalidArgument { problem, .. }) if problem.contains("asked for no session")
        ));
        let persistent = Config {
            protocol: Protocol::V5,
            session_expiry_interval: Some(300),
            ..Config::default()
        };
        assert!(wanted.check_for(&persistent).is_ok());
    }
}
