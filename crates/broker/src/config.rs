//! Broker options: the PHP options array, typed and validated once.
//!
//! Everything the broker library would fail on later, or silently ignore, is
//! refused here with a message naming the option, before anything listens:
//! files are opened, the password file and the ACL filters are parsed. The
//! wording is the connection options' (`mqtt_broadcast_core::config`), and so is
//! the error type, so that the binding throws both the same way.
//!
//! Each group of options is one table of option name → reader: parsing and the
//! "did you mean" suggestions both come from it, so they cannot disagree.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use mqtt_broadcast_core::config::readers::{
    boolean, describe, dot_path, entries, invalid, paths, read_group, type_name, Reader,
};
pub use mqtt_broadcast_core::config::{ConfigError, Value};

use crate::acl::{Access, Acl, AclEntry};
use crate::passwords::Passwords;

/// The largest packet the MQTT remaining-length field can describe.
const MAX_PACKET_SIZE: u32 = 268_435_455;
/// Smaller than a CONNECT with a client id, a user name and a password.
const MIN_PACKET_SIZE: u32 = 128;
/// rmqtt counts connections per listener in an `isize`; far beyond what one host serves.
const MAX_CONNECTIONS: usize = 10_000_000;

/// `Debug` leaves the passwords out: see `Passwords`.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The plain MQTT listener; `None` when `listen` is false (TLS only).
    pub listen: Option<SocketAddr>,
    pub tls: Option<TlsListener>,
    pub passwords: Passwords,
    /// Clients without a user name may connect.
    pub allow_anonymous: bool,
    /// Empty: every client may publish and subscribe to everything.
    pub acl: Acl,
    /// Where sessions, their queued messages and retained messages are kept;
    /// `None`: in memory, gone when the broker stops.
    pub persistence: Option<PathBuf>,
    /// Per listener.
    pub max_connections: usize,
    /// In bytes, for packets in both directions.
    pub max_packet_size: u32,
    /// QoS 1 and 2 messages in flight at once, per client and direction
    /// (to it: sent and not yet acknowledged; from it: QoS 2 not yet released).
    pub max_inflight_messages: u16,
    /// QoS 1 and 2 messages waiting per client beyond those in flight (its
    /// persistent session's while it is away included); `None`: no limit.
    pub max_queued_messages: Option<usize>,
    /// A file the broker appends a line to for each client event (`crate::log`).
    pub log: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsListener {
    pub listen: SocketAddr,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Clients must present a certificate signed by one of these CAs.
    pub ca_file: Option<PathBuf>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 1883))),
            tls: None,
            passwords: Passwords::default(),
            allow_anonymous: true,
            acl: Acl::default(),
            persistence: None,
            max_connections: 10_000,
            max_packet_size: 1_048_576,
            // Mosquitto's defaults, which clients are used to: our client's
            // own max_inflight is 20.
            max_inflight_messages: 20,
            max_queued_messages: Some(1_000),
            log: None,
        }
    }
}

/// Options read before the checks that combine them.
#[derive(Default)]
struct Reading {
    config: BrokerConfig,
    users: Option<Passwords>,
    password_file: Option<Passwords>,
    allow_anonymous: Option<bool>,
}

const OPTIONS: &[(&str, Reader<Reading>)] = &[
    ("listen", |r, path, value| {
        r.config.listen = match value {
            Value::Bool(false) => None,
            _ => Some(address(path, value)?),
        };
        Ok(())
    }),
    ("tls", |r, path, value| {
        r.config.tls = Some(tls(path, value)?);
        Ok(())
    }),
    ("users", |r, path, value| {
        r.users = Some(users(path, value)?);
        Ok(())
    }),
    ("password_file", |r, path, value| {
        let file = readable_file(path, value, "a mosquitto_passwd file")?;
        r.password_file =
            Some(
                Passwords::from_file(&file).map_err(|problem| ConfigError::Unusable {
                    path: path.to_owned(),
                    problem: format!("cannot be used: {problem}"),
                })?,
            );
        Ok(())
    }),
    ("allow_anonymous", |r, path, value| {
        r.allow_anonymous = Some(boolean(path, value)?);
        Ok(())
    }),
    ("acl", |r, path, value| {
        r.config.acl = acl(path, value)?;
        Ok(())
    }),
    ("persistence", |r, path, value| {
        r.config.persistence = Some(directory(path, value)?);
        Ok(())
    }),
    ("max_connections", |r, path, value| {
        r.config.max_connections = integer(
            path,
            value,
            1,
            MAX_CONNECTIONS as i64,
            &format!("must be an integer between 1 and {MAX_CONNECTIONS}"),
        )? as usize;
        Ok(())
    }),
    ("max_packet_size", |r, path, value| {
        r.config.max_packet_size = integer(
            path,
            value,
            i64::from(MIN_PACKET_SIZE),
            i64::from(MAX_PACKET_SIZE),
            &format!("must be a number of bytes between {MIN_PACKET_SIZE} and {MAX_PACKET_SIZE}"),
        )? as u32;
        Ok(())
    }),
    ("max_inflight_messages", |r, path, value| {
        r.config.max_inflight_messages = integer(
            path,
            value,
            1,
            i64::from(u16::MAX),
            "must be an integer between 1 and 65535",
        )? as u16;
        Ok(())
    }),
    ("max_queued_messages", |r, path, value| {
        let limit = integer(
            path,
            value,
            0,
            i64::from(u32::MAX),
            "must be an integer between 0 (no limit) and 4294967295",
        )?;
        r.config.max_queued_messages = (limit > 0).then_some(limit as usize);
        Ok(())
    }),
    ("log", |r, path, value| {
        r.config.log = Some(log_file(path, value)?);
        Ok(())
    }),
    ("ws", |_, path, _| {
        Err(ConfigError::Unusable {
            path: path.to_owned(),
            problem: "is not supported: the built-in broker is built without WebSocket listeners"
                .to_owned(),
        })
    }),
];

const TLS_OPTIONS: &[(&str, Reader<TlsReading>)] = &[
    ("listen", |t, path, value| {
        t.listen = Some(address(path, value)?);
        Ok(())
    }),
    ("cert_file", |t, path, value| {
        t.cert_file = Some(readable_file(path, value, "a PEM file")?);
        Ok(())
    }),
    ("key_file", |t, path, value| {
        t.key_file = Some(readable_file(path, value, "a PEM file")?);
        Ok(())
    }),
    ("ca_file", |t, path, value| {
        t.ca_file = Some(readable_file(path, value, "a PEM file")?);
        Ok(())
    }),
];

#[derive(Default)]
struct TlsReading {
    listen: Option<SocketAddr>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

const ACL_OPTIONS: &[(&str, Reader<AclReading>)] = &[
    ("user", |a, path, value| {
        a.user = Some(text(path, value, "must be a user name")?.to_owned());
        Ok(())
    }),
    ("topic", |a, path, value| {
        a.topic = Some(text(path, value, "must be a topic filter")?.to_owned());
        Ok(())
    }),
    ("access", |a, path, value| {
        a.access = Some(
            match value {
                Value::Str(access) => Access::parse(access),
                _ => None,
            }
            .ok_or_else(|| {
                invalid(
                    path,
                    "must be \"read\", \"write\", \"readwrite\" or \"deny\"",
                    value,
                )
            })?,
        );
        Ok(())
    }),
];

#[derive(Default)]
struct AclReading {
    user: Option<String>,
    topic: Option<String>,
    access: Option<Access>,
}

impl BrokerConfig {
    pub fn from_value(options: &Value) -> Result<BrokerConfig, ConfigError> {
        let entries = entries(options).ok_or_else(|| ConfigError::NotOptions {
            got: describe(options),
        })?;
        let mut reading = Reading::default();
        read_group(&mut reading, "", OPTIONS, entries, paths("", OPTIONS))?;
        let Reading {
            mut config,
            users,
            password_file,
            allow_anonymous,
        } = reading;
        if config.listen.is_none() && config.tls.is_none() {
            return Err(ConfigError::Conflict {
                path: "listen",
                rule: "can be false only when \"tls\" gives a TLS listener",
            });
        }
        if let (Some(plain), Some(tls)) = (config.listen, &config.tls) {
            if plain == tls.listen && plain.port() != 0 {
                return Err(ConfigError::Conflict {
                    path: "tls.listen",
                    rule: "must differ from \"listen\"",
                });
            }
        }
        let has_users = users.is_some() || password_file.is_some();
        config.passwords = users
            .unwrap_or_default()
            .merged_with(password_file.unwrap_or_default());
        // As Mosquitto: anonymous clients are welcome until users are given.
        config.allow_anonymous = allow_anonymous.unwrap_or(!has_users);
        Ok(config)
    }
}

fn tls(path: &str, value: &Value) -> Result<TlsListener, ConfigError> {
    let entries = entries(value)
        .ok_or_else(|| invalid(path, "must be an array of TLS listener options", value))?;
    let mut reading = TlsReading::default();
    read_group(
        &mut reading,
        path,
        TLS_OPTIONS,
        entries,
        paths(path, TLS_OPTIONS),
    )?;
    let missing = |option: &'static str| ConfigError::Conflict {
        path: option,
        rule: "is required for a TLS listener",
    };
    Ok(TlsListener {
        listen: reading.listen.ok_or(missing("tls.listen"))?,
        cert_file: reading.cert_file.ok_or(missing("tls.cert_file"))?,
        key_file: reading.key_file.ok_or(missing("tls.key_file"))?,
        ca_file: reading.ca_file,
    })
}

fn users(path: &str, value: &Value) -> Result<Passwords, ConfigError> {
    let entries = match value {
        Value::Map(entries) => entries.as_slice(),
        Value::List(items) if items.is_empty() => &[],
        _ => {
            return Err(invalid(
                path,
                "must be an array of user name => password",
                value,
            ))
        }
    };
    let mut passwords = Passwords::default();
    for (user, password) in entries {
        if user.is_empty() {
            return Err(ConfigError::Unusable {
                path: path.to_owned(),
                problem: "has an empty user name".to_owned(),
            });
        }
        let Value::Str(password) = password else {
            // The password is described by its type only: see describe_secret in the core.
            return Err(ConfigError::Unusable {
                path: dot_path(path, user),
                problem: format!("must be a password string, got {}", type_name(password)),
            });
        };
        passwords.insert_plain(user, password);
    }
    Ok(passwords)
}

fn acl(path: &str, value: &Value) -> Result<Acl, ConfigError> {
    let items: Vec<&Value> = match value {
        Value::List(items) => items.iter().collect(),
        // A PHP list that lost an element keeps integer keys.
        Value::Map(entries) => entries.iter().map(|(_, entry)| entry).collect(),
        _ => return Err(invalid(path, "must be a list of ACL entries", value)),
    };
    let mut acl = Acl::default();
    for (index, item) in items.into_iter().enumerate() {
        let entry_path = format!("{path}.{index}");
        let entries = match item {
            Value::Map(entries) => entries.as_slice(),
            _ => {
                return Err(invalid(
                    &entry_path,
                    "must be an array with \"topic\" and \"access\" (and optionally \"user\")",
                    item,
                ))
            }
        };
        let mut reading = AclReading::default();
        read_group(
            &mut reading,
            &entry_path,
            ACL_OPTIONS,
            entries,
            paths(&entry_path, ACL_OPTIONS),
        )?;
        let (Some(topic), Some(access)) = (reading.topic, reading.access) else {
            return Err(ConfigError::Unusable {
                path: entry_path,
                problem: "must give \"topic\" and \"access\"".to_owned(),
            });
        };
        let entry = AclEntry::new(reading.user, &topic, access).map_err(|problem| {
            ConfigError::Invalid {
                path: format!("{entry_path}.topic"),
                rule: format!("must be a valid topic filter ({problem})"),
                got: format!("{topic:?}"),
            }
        })?;
        acl.push(entry);
    }
    Ok(acl)
}

/// `host:port`; port 0 picks a free port (see `Broker::port`).
fn address(path: &str, value: &Value) -> Result<SocketAddr, ConfigError> {
    let rule = "must be an address as \"host:port\" (port 0 picks a free one)";
    let Value::Str(text) = value else {
        return Err(invalid(path, rule, value));
    };
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    // A host name such as localhost: resolved once, now.
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| invalid(path, rule, value))?;
    let port: u16 = port.parse().map_err(|_| invalid(path, rule, value))?;
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .ok_or_else(|| invalid(path, format!("{rule}; \"{host}\" does not resolve"), value))
}

fn readable_file(path: &str, value: &Value, what: &str) -> Result<PathBuf, ConfigError> {
    let Value::Str(file) = value else {
        return Err(invalid(path, format!("must be the path of {what}"), value));
    };
    match std::fs::File::open(file) {
        Ok(_) if Path::new(file).is_file() => Ok(PathBuf::from(file)),
        Ok(_) => Err(invalid(
            path,
            format!("must be the path of {what}, not a directory"),
            value,
        )),
        Err(e) => Err(invalid(
            path,
            format!("must be a readable file ({e})"),
            value,
        )),
    }
}

/// Created when missing; must be writable, since the broker writes there.
fn directory(path: &str, value: &Value) -> Result<PathBuf, ConfigError> {
    let rule = "must be the path of a writable directory";
    let Value::Str(dir) = value else {
        return Err(invalid(path, rule, value));
    };
    if dir.trim().is_empty() || dir.chars().any(char::is_control) {
        return Err(invalid(path, rule, value));
    }
    let dir = PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return Err(invalid(path, format!("{rule} ({e})"), value));
    }
    let probe = dir.join(".mqtt-broadcast-write-test");
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(dir)
        }
        Err(e) => Err(invalid(path, format!("{rule} ({e})"), value)),
    }
}

/// Created when missing, appended to otherwise.
fn log_file(path: &str, value: &Value) -> Result<PathBuf, ConfigError> {
    let rule = "must be the path of a file the broker can append to";
    let Value::Str(file) = value else {
        return Err(invalid(path, rule, value));
    };
    if file.trim().is_empty() || file.chars().any(char::is_control) {
        return Err(invalid(path, rule, value));
    }
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        Ok(_) => Ok(PathBuf::from(file)),
        Err(e) => Err(invalid(path, format!("{rule} ({e})"), value)),
    }
}

/// A whole number in `min..=max`, given as an int, an integral float or a numeric string.
fn integer(path: &str, value: &Value, min: i64, max: i64, rule: &str) -> Result<i64, ConfigError> {
    let whole = match value {
        Value::Int(n) => Some(*n),
        // `as` saturates, so floats beyond i64 must not reach it.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) => Some(*f as i64),
        Value::Str(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    };
    whole
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(path, rule, value))
}

fn text<'a>(path: &str, value: &'a Value, rule: &str) -> Result<&'a str, ConfigError> {
    match value {
        Value::Str(text) if !text.is_empty() => Ok(text),
        Value::Bytes(_) => Err(invalid(
            path,
            "must be valid UTF-8 (MQTT strings are UTF-8 text)",
            value,
        )),
        _ => Err(invalid(path, rule, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn str(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn parse(pairs: &[(&str, Value)]) -> Result<BrokerConfig, ConfigError> {
        let entries = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect();
        BrokerConfig::from_value(&Value::Map(entries))
    }

    fn error(pairs: &[(&str, Value)]) -> String {
        parse(pairs).unwrap_err().to_string()
    }

    #[test]
    fn no_options_listen_on_loopback_1883_for_anyone() {
        let config = parse(&[]).unwrap();
        assert_eq!(
            config.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 1883)))
        );
        assert!(config.allow_anonymous);
        assert!(config.persistence.is_none());
    }

    #[test]
    fn unknown_options_are_named_with_a_suggestion() {
        assert_eq!(
            error(&[("lisen", str("127.0.0.1:0"))]),
            "unknown option \"lisen\" (did you mean \"listen\"?)"
        );
        let tls = Value::Map(vec![("cert_fil".to_owned(), str("x"))]);
        assert_eq!(
            error(&[("tls", tls)]),
            "unknown option \"tls.cert_fil\" (did you mean \"tls.cert_file\"?)"
        );
    }

    #[test]
    fn addresses_must_have_a_port() {
        assert_eq!(
            error(&[("listen", str("127.0.0.1"))]),
            "option \"listen\" must be an address as \"host:port\" (port 0 picks a free one), got \"127.0.0.1\""
        );
        assert_eq!(
            parse(&[("listen", str("127.0.0.1:0"))]).unwrap().listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 0)))
        );
    }

    #[test]
    fn users_turn_anonymous_access_off_unless_asked() {
        let users = Value::Map(vec![("app".to_owned(), str("secret"))]);
        assert!(!parse(&[("users", users.clone())]).unwrap().allow_anonymous);
        let both = parse(&[("users", users), ("allow_anonymous", Value::Bool(true))]).unwrap();
        assert!(both.allow_anonymous);
    }

    #[test]
    fn a_password_is_never_shown_in_a_message() {
        let users = Value::Map(vec![("app".to_owned(), Value::Int(123456))]);
        let message = error(&[("users", users)]);
        assert_eq!(
            message,
            "option \"users.app\" must be a password string, got int"
        );
    }

    #[test]
    fn an_acl_entry_with_an_invalid_filter_is_named() {
        let entry = Value::Map(vec![
            ("user".to_owned(), str("app")),
            ("topic".to_owned(), str("metrics/#/more")),
            ("access".to_owned(), str("read")),
        ]);
        assert_eq!(
            error(&[("acl", Value::List(vec![entry]))]),
            "option \"acl.0.topic\" must be a valid topic filter (must use '#' only as the last topic level), got \"metrics/#/more\""
        );
    }

    #[test]
    fn an_acl_entry_needs_a_known_access() {
        let entry = Value::Map(vec![
            ("topic".to_owned(), str("a")),
            ("access".to_owned(), str("all")),
        ]);
        assert_eq!(
            error(&[("acl", Value::List(vec![entry]))]),
            "option \"acl.0.access\" must be \"read\", \"write\", \"readwrite\" or \"deny\", got \"all\""
        );
    }

    #[test]
    fn unreadable_files_are_named() {
        let tls = Value::Map(vec![
            ("listen".to_owned(), str("127.0.0.1:0")),
            ("cert_file".to_owned(), str("/nonexistent/cert.pem")),
        ]);
        let message = error(&[("tls", tls)]);
        assert!(
            message.starts_with("option \"tls.cert_file\" must be a readable file ("),
            "{message}"
        );
        let message = error(&[("password_file", str("/nonexistent/passwd"))]);
        assert!(
            message.starts_with("option \"password_file\" must be a readable file ("),
            "{message}"
        );
    }

    #[test]
    fn a_tls_listener_needs_its_certificate_and_key() {
        let tls = Value::Map(vec![("listen".to_owned(), str("127.0.0.1:0"))]);
        assert_eq!(
            error(&[("tls", tls)]),
            "option \"tls.cert_file\" is required for a TLS listener"
        );
    }

    #[test]
    fn queues_and_windows_default_to_mosquittos_and_zero_queued_means_no_limit() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults.max_inflight_messages, 20);
        assert_eq!(defaults.max_queued_messages, Some(1_000));
        let unlimited = parse(&[("max_queued_messages", Value::Int(0))]).unwrap();
        assert_eq!(unlimited.max_queued_messages, None);
        assert_eq!(
            error(&[("max_inflight_messages", Value::Int(0))]),
            "option \"max_inflight_messages\" must be an integer between 1 and 65535, got 0"
        );
    }

    #[test]
    fn a_log_file_that_cannot_be_written_is_named() {
        let message = error(&[("log", str("/nonexistent/broker.log"))]);
        assert!(
            message.starts_with(
                "option \"log\" must be the path of a file the broker can append to ("
            ),
            "{message}"
        );
    }

    #[test]
    fn websocket_listeners_are_refused_by_name() {
        assert_eq!(
            error(&[("ws", str("127.0.0.1:8080"))]),
            "option \"ws\" is not supported: the built-in broker is built without WebSocket listeners"
        );
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        assert_eq!(
            error(&[("max_packet_size", Value::Int(10))]),
            "option \"max_packet_size\" must be a number of bytes between 128 and 268435455, got 10"
        );
        assert_eq!(
            error(&[("max_connections", Value::Float(1e300))]),
            "option \"max_connections\" must be an integer between 1 and 10000000, got 1.0E+300"
        );
    }
}
