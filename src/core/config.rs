//! Connection options: the PHP options array, typed and validated once.
//!
//! Everything that would make rumqttc panic or a broker refuse us is rejected
//! here with a message that names the option, so later layers can trust a
//! `Config` without checking it again.

use std::cmp::Reverse;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// A PHP value as the binding layer hands it over: an array with any string
/// key becomes `Map`, a list becomes `List`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A PHP string that is not UTF-8 text.
    Bytes(Vec<u8>),
    Map(Vec<(String, Value)>),
    List(Vec<Value>),
}

/// `Debug` is written by hand so that logging a `Config` never shows the password.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `None`: the caller generates a unique id.
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Zero disables keep-alive.
    pub keep_alive: Duration,
    pub connect_timeout: Duration,
    pub clean_session: bool,
    /// Prepended verbatim to every topic.
    pub prefix: String,
    pub qos: u8,
    pub retain: bool,
    /// Outbox capacity, in messages.
    pub max_queue: usize,
    /// QoS 1/2 messages written and not yet acknowledged, at once: brokers
    /// disconnect clients that exceed their own limit.
    pub max_inflight: u16,
    /// In bytes, for incoming and outgoing packets.
    pub max_packet_size: usize,
    pub flush_timeout: Duration,
    pub reconnect: Reconnect,
    pub tls: Option<Tls>,
    pub will: Option<Will>,
    pub protocol: Protocol,
    /// MQTT 5: seconds the broker keeps the session after the connection
    /// ends. `None`: see `Config::session_expiry`.
    pub session_expiry_interval: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V311,
    V5,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5",
        }
    }
}

/// TLS settings; `tls => true` is the default: the system's trusted CAs.
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
    /// CA certificates to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub verify_peer: bool,
    /// Accept a certificate no trusted CA signed.
    pub allow_self_signed: bool,
    /// The name the broker's certificate must be valid for, instead of the host.
    pub server_name: Option<String>,
    pub alpn: Vec<String>,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_peer: true,
            allow_self_signed: false,
            server_name: None,
            alpn: Vec::new(),
        }
    }
}

/// The message the broker publishes when this client goes away without DISCONNECT.
#[derive(Debug, Clone, PartialEq)]
pub struct Will {
    /// Without the connection's prefix.
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Zero retries forever.
    pub max_retries: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".to_owned(),
            port: 1883,
            client_id: None,
            username: None,
            password: None,
            keep_alive: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            clean_session: true,
            prefix: String::new(),
            qos: 0,
            retain: false,
            max_queue: 10_000,
            max_inflight: 20,
            max_packet_size: 8 * 1024 * 1024,
            flush_timeout: Duration::from_secs(5),
            reconnect: Reconnect::default(),
            tls: None,
            will: None,
            protocol: Protocol::V311,
            session_expiry_interval: None,
        }
    }
}

impl Config {
    /// MQTT 5's session expiry: a persistent session lives on like one of
    /// MQTT 3.1.1 (never expires) unless told otherwise; a clean one ends
    /// with the connection.
    pub fn session_expiry(&self) -> u32 {
        self.session_expiry_interval
            .unwrap_or(if self.clean_session { 0 } else { u32::MAX })
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("keep_alive", &self.keep_alive)
            .field("connect_timeout", &self.connect_timeout)
            .field("clean_session", &self.clean_session)
            .field("prefix", &self.prefix)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("max_queue", &self.max_queue)
            .field("max_inflight", &self.max_inflight)
            .field("max_packet_size", &self.max_packet_size)
            .field("flush_timeout", &self.flush_timeout)
            .field("reconnect", &self.reconnect)
            .finish()
    }
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            max_retries: 0,
        }
    }
}

/// Each message names the option by its dot path, says what was expected and
/// what was given; credentials are described by type or length only.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("options must be an array keyed by option name, got {got}")]
    NotOptions { got: String },
    #[error("unknown option \"{path}\"{}", did_you_mean(.suggestion.as_deref()))]
    UnknownOption {
        path: String,
        suggestion: Option<String>,
    },
    #[error("option \"{path}\" {rule}, got {got}")]
    Invalid {
        path: String,
        rule: String,
        got: String,
    },
    /// A value of the right type that cannot be used, such as a certificate file without a certificate.
    #[error("option \"{path}\" {problem}")]
    Unusable { path: String, problem: String },
    #[error("option \"{path}\" {rule}")]
    Conflict {
        path: &'static str,
        rule: &'static str,
    },
}

pub(super) fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |name| format!(" (did you mean \"{name}\"?)"))
}

/// Keys accepted at the top level and inside `reconnect`, in the order
/// suggestions prefer them. `from_value` and `Reconnect::from_value` must
/// handle exactly these.
const OPTIONS: &[&str] = &[
    "host",
    "port",
    "client_id",
    "username",
    "password",
    "keep_alive",
    "connect_timeout",
    "clean_session",
    "prefix",
    "qos",
    "retain",
    "max_queue",
    "max_inflight",
    "max_packet_size",
    "flush_timeout",
    "reconnect",
    "tls",
    "will",
    "protocol",
    "session_expiry_interval",
];
const TLS_OPTIONS: &[&str] = &[
    "ca_file",
    "cert_file",
    "key_file",
    "verify_peer",
    "allow_self_signed",
    "server_name",
    "alpn",
];
const WILL_OPTIONS: &[&str] = &["topic", "payload", "qos", "retain"];
const RECONNECT_OPTIONS: &[&str] = &["initial_delay", "max_delay", "max_retries"];

/// MQTT strings carry a two-byte length.
const MAX_STRING_BYTES: usize = 65_535;
/// The largest packet the MQTT remaining-length field can describe.
const MAX_PACKET_SIZE: usize = 268_435_455;
/// Caps every timeout and delay: a day is longer than anyone means, and it keeps
/// `Instant + duration` arithmetic in the runtime far from overflowing.
const MAX_WAIT_SECS: u32 = 86_400;

impl Config {
    pub fn from_value(options: &Value) -> Result<Config, ConfigError> {
        let entries = entries(options).ok_or_else(|| ConfigError::NotOptions {
            got: describe(options),
        })?;
        let mut config = Config::default();
        for (key, value) in entries {
            let path = key.as_str();
            match path {
                "host" => config.host = host(value)?,
                "port" => {
                    config.port = integer(
                        path,
                        value,
                        1..=u16::MAX,
                        "must be an integer between 1 and 65535",
                    )?;
                }
                "client_id" => config.client_id = client_id(value)?,
                "username" => config.username = credential(path, value, false)?,
                "password" => config.password = credential(path, value, true)?,
                "keep_alive" => {
                    // Sent as whole seconds in CONNECT, so a fraction would be dropped silently.
                    let seconds = integer(
                        path,
                        value,
                        0..=u16::MAX,
                        "must be a whole number of seconds between 0 and 65535 (0 disables it)",
                    )?;
                    config.keep_alive = Duration::from_secs(u64::from(seconds));
                }
                "connect_timeout" => config.connect_timeout = positive_seconds(path, value)?,
                "clean_session" => config.clean_session = boolean(path, value)?,
                "prefix" => config.prefix = prefix(value)?,
                "qos" => config.qos = integer(path, value, 0..=2, "must be 0, 1 or 2")?,
                "retain" => config.retain = boolean(path, value)?,
                "max_queue" => {
                    config.max_queue = integer(
                        path,
                        value,
                        1..=usize::MAX,
                        "must be an integer of at least 1",
                    )?;
                }
                "max_inflight" => {
                    config.max_inflight = integer(
                        path,
                        value,
                        1..=u16::MAX,
                        "must be an integer between 1 and 65535",
                    )?;
                }
                "max_packet_size" => {
                    config.max_packet_size = integer(
                        path,
                        value,
                        1024..=MAX_PACKET_SIZE,
                        "must be an integer between 1024 and 268435455 (bytes)",
                    )?;
                }
                "flush_timeout" => config.flush_timeout = non_negative_seconds(path, value)?,
                "reconnect" => config.reconnect = Reconnect::from_value(value)?,
                "tls" => config.tls = tls(value)?,
                "will" => config.will = Some(will(value)?),
                "protocol" => config.protocol = protocol(value)?,
                "session_expiry_interval" => {
                    config.session_expiry_interval = Some(integer(
                        path,
                        value,
                        0..=u32::MAX,
                        "must be a whole number of seconds between 0 and 4294967295 (never expires)",
                    )?);
                }
                _ => return Err(unknown_option(path)),
            }
        }
        if config.password.is_some() && config.username.is_none() {
            return Err(ConfigError::Conflict {
                path: "password",
                rule: "requires option \"username\" (MQTT 3.1.1 does not allow a password without a user name)",
            });
        }
        if !config.clean_session && config.client_id.is_none() {
            return Err(ConfigError::Conflict {
                path: "clean_session",
                rule: "set to false requires option \"client_id\" (a persistent session needs a stable client id)",
            });
        }
        // rumqttc's MQTT 5 client cannot disable keep-alive and asserts at least 5 s.
        if config.protocol == Protocol::V5 && config.keep_alive < Duration::from_secs(5) {
            return Err(ConfigError::Conflict {
                path: "keep_alive",
                rule: "must be at least 5 seconds with option \"protocol\" => \"5\"",
            });
        }
        if config.session_expiry_interval.is_some() && config.protocol != Protocol::V5 {
            return Err(ConfigError::Conflict {
                path: "session_expiry_interval",
                rule: "requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no session expiry)",
            });
        }
        Ok(config)
    }
}

fn protocol(value: &Value) -> Result<Protocol, ConfigError> {
    match value {
        Value::Str(version) if version == "3.1.1" => Ok(Protocol::V311),
        Value::Str(version) if version == "5" || version == "5.0" => Ok(Protocol::V5),
        Value::Int(5) => Ok(Protocol::V5),
        _ => Err(invalid("protocol", "must be \"3.1.1\" or \"5\"", value)),
    }
}

impl Reconnect {
    fn from_value(options: &Value) -> Result<Reconnect, ConfigError> {
        let entries = entries(options).ok_or_else(|| {
            invalid(
                "reconnect",
                "must be an array keyed by option name",
                options,
            )
        })?;
        let mut reconnect = Reconnect::default();
        let mut max_delay_given = false;
        for (key, value) in entries {
            let path = format!("reconnect.{key}");
            match key.as_str() {
                "initial_delay" => reconnect.initial_delay = positive_seconds(&path, value)?,
                "max_delay" => {
                    reconnect.max_delay = positive_seconds(&path, value)?;
                    max_delay_given = true;
                }
                "max_retries" => {
                    reconnect.max_retries = integer(
                        &path,
                        value,
                        0..=u32::MAX,
                        "must be an integer between 0 and 4294967295 (0 retries forever)",
                    )?;
                }
                _ => return Err(unknown_reconnect_option(key)),
            }
        }
        if reconnect.max_delay < reconnect.initial_delay {
            // Blame the option the user actually wrote: a large initial_delay
            // alone collides with the default max_delay.
            let (path, rule, got) = if max_delay_given {
                let bound = reconnect.initial_delay.as_secs_f64();
                (
                    "reconnect.max_delay",
                    format!("must be at least reconnect.initial_delay ({bound} s)"),
                    reconnect.max_delay,
                )
            } else {
                let bound = reconnect.max_delay.as_secs_f64();
                (
                    "reconnect.initial_delay",
                    format!("must be at most reconnect.max_delay ({bound} s)"),
                    reconnect.initial_delay,
                )
            };
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                rule,
                got: got.as_secs_f64().to_string(),
            });
        }
        Ok(reconnect)
    }
}

/// Options of a subscriber, as opposed to those of its connections.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriberConfig {
    /// Received messages waiting for PHP; when full, the connections stop reading.
    pub max_inbox: usize,
}

const SUBSCRIBER_OPTIONS: &[&str] = &["max_inbox"];

impl Default for SubscriberConfig {
    fn default() -> Self {
        SubscriberConfig { max_inbox: 1000 }
    }
}

impl SubscriberConfig {
    pub fn from_value(options: &Value) -> Result<SubscriberConfig, ConfigError> {
        let entries = entries(options).ok_or_else(|| ConfigError::NotOptions {
            got: describe(options),
        })?;
        let mut config = SubscriberConfig::default();
        for (key, value) in entries {
            match key.as_str() {
                "max_inbox" => {
                    config.max_inbox = integer(
                        key,
                        value,
                        1..=1_000_000,
                        "must be an integer between 1 and 1000000",
                    )?;
                }
                _ => {
                    return Err(ConfigError::UnknownOption {
                        path: key.clone(),
                        suggestion: nearest(
                            key,
                            SUBSCRIBER_OPTIONS.iter().map(|n| (*n, (*n).to_owned())),
                        ),
                    })
                }
            }
        }
        Ok(config)
    }
}

/// `true` (or a boolean string from env()) for the defaults, or a map.
fn tls(value: &Value) -> Result<Option<Tls>, ConfigError> {
    if !matches!(value, Value::Map(_)) {
        let enabled = boolean("tls", value).map_err(|_| {
            invalid(
                "tls",
                "must be true, false or an array of TLS options",
                value,
            )
        })?;
        return Ok(enabled.then(Tls::default));
    }
    let mut tls = Tls::default();
    for (key, value) in entries(value).unwrap_or_default() {
        let path = format!("tls.{key}");
        match key.as_str() {
            "ca_file" => tls.ca_file = Some(readable_file(&path, value)?),
            "cert_file" => tls.cert_file = Some(readable_file(&path, value)?),
            "key_file" => tls.key_file = Some(readable_file(&path, value)?),
            "verify_peer" => tls.verify_peer = boolean(&path, value)?,
            "allow_self_signed" => tls.allow_self_signed = boolean(&path, value)?,
            "server_name" => match value {
                Value::Str(name) if !name.is_empty() => tls.server_name = Some(name.clone()),
                _ => return Err(invalid(&path, "must be a non-empty host name", value)),
            },
            "alpn" => tls.alpn = alpn(&path, value)?,
            _ => return Err(unknown_nested_option("tls", TLS_OPTIONS, key)),
        }
    }
    if tls.cert_file.is_some() != tls.key_file.is_some() {
        return Err(ConfigError::Conflict {
            path: if tls.cert_file.is_some() {
                "tls.cert_file"
            } else {
                "tls.key_file"
            },
            rule: "needs both tls.cert_file and tls.key_file for a client certificate",
        });
    }
    Ok(Some(tls))
}

fn readable_file(path: &str, value: &Value) -> Result<PathBuf, ConfigError> {
    let Value::Str(file) = value else {
        return Err(invalid(path, "must be the path of a PEM file", value));
    };
    match std::fs::File::open(file) {
        Ok(_) if std::path::Path::new(file).is_file() => Ok(PathBuf::from(file)),
        Ok(_) => Err(invalid(
            path,
            "must be the path of a PEM file, not a directory",
            value,
        )),
        Err(e) => Err(invalid(
            path,
            format!("must be a readable PEM file ({e})"),
            value,
        )),
    }
}

fn alpn(path: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    let rule = "must be a list of protocol names";
    match value {
        Value::List(items) => items
            .iter()
            .map(|item| match item {
                Value::Str(name) if !name.is_empty() => Ok(name.clone()),
                _ => Err(invalid(path, rule, value)),
            })
            .collect(),
        _ => Err(invalid(path, rule, value)),
    }
}

fn will(value: &Value) -> Result<Will, ConfigError> {
    let entries = entries(value)
        .ok_or_else(|| invalid("will", "must be an array with a topic and a payload", value))?;
    let mut topic = None;
    let mut will = Will {
        topic: String::new(),
        payload: Vec::new(),
        qos: 0,
        retain: false,
    };
    for (key, value) in entries {
        let path = format!("will.{key}");
        match key.as_str() {
            "topic" => match value {
                Value::Str(t) if super::topic::validate_topic(t).is_ok() => topic = Some(t.clone()),
                _ => return Err(invalid(&path, "must be a topic without wildcards", value)),
            },
            "payload" => match value {
                Value::Str(payload) => will.payload = payload.clone().into_bytes(),
                Value::Bytes(payload) => will.payload = payload.clone(),
                _ => return Err(invalid(&path, "must be a string", value)),
            },
            "qos" => will.qos = integer(&path, value, 0..=2, "must be 0, 1 or 2")?,
            "retain" => will.retain = boolean(&path, value)?,
            _ => return Err(unknown_nested_option("will", WILL_OPTIONS, key)),
        }
    }
    will.topic = topic.ok_or(ConfigError::Conflict {
        path: "will.topic",
        rule: "is required: the topic the broker publishes the will to",
    })?;
    Ok(will)
}

fn unknown_nested_option(parent: &str, options: &'static [&'static str], key: &str) -> ConfigError {
    ConfigError::UnknownOption {
        path: format!("{parent}.{key}"),
        suggestion: nearest(
            key,
            options
                .iter()
                .map(|name| (*name, format!("{parent}.{name}"))),
        ),
    }
}

/// An empty PHP array arrives as an empty list, and means "no options".
fn entries(options: &Value) -> Option<&[(String, Value)]> {
    match options {
        Value::Map(entries) => Some(entries),
        Value::List(items) if items.is_empty() => Some(&[]),
        _ => None,
    }
}

fn host(value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::Str(host) if !host.is_empty() && !host.contains('\0') => Ok(host.clone()),
        _ => Err(invalid(
            "host",
            "must be a non-empty host name or IP address",
            value,
        )),
    }
}

fn client_id(value: &Value) -> Result<Option<String>, ConfigError> {
    let id = match value {
        Value::Null => return Ok(None),
        Value::Str(id) => id,
        _ => return Err(invalid("client_id", "must be a string or null", value)),
    };
    let rule = if id.is_empty() {
        "must not be empty (leave it out or set it to null to get a generated one)"
    } else if id.starts_with(' ') {
        // Older rumqttc releases panic on it (0.25 no longer does); keep it out for good.
        "must not start with a space"
    } else if id.contains('\0') {
        "must not contain NUL bytes"
    } else if id.len() > MAX_STRING_BYTES {
        "must be at most 65535 bytes long"
    } else {
        return Ok(Some(id.clone()));
    };
    Err(invalid("client_id", rule, value))
}

/// User names and passwords are described by type and length only, never by content.
fn credential(path: &str, value: &Value, is_password: bool) -> Result<Option<String>, ConfigError> {
    let secret = match value {
        Value::Null => return Ok(None),
        Value::Str(secret) => secret,
        _ => {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                rule: "must be a string or null".to_owned(),
                got: type_name(value).to_owned(),
            })
        }
    };
    // A password is binary data in MQTT; a user name is a UTF-8 string, where NUL is forbidden.
    let rule = if secret.len() > MAX_STRING_BYTES {
        "must be at most 65535 bytes long"
    } else if !is_password && secret.contains('\0') {
        "must not contain NUL bytes"
    } else {
        return Ok(Some(secret.clone()));
    };
    Err(ConfigError::Invalid {
        path: path.to_owned(),
        rule: rule.to_owned(),
        got: format!("a string of {} bytes", secret.len()),
    })
}

fn prefix(value: &Value) -> Result<String, ConfigError> {
    let Value::Str(prefix) = value else {
        return Err(invalid("prefix", "must be a string", value));
    };
    if prefix.contains(['+', '#']) {
        Err(invalid(
            "prefix",
            "must not contain wildcards '+' or '#'",
            value,
        ))
    } else if prefix.contains('\0') {
        Err(invalid("prefix", "must not contain NUL bytes", value))
    } else {
        Ok(prefix.clone())
    }
}

/// Accepts what PHP and Laravel's `env()` produce for a flag.
fn boolean(path: &str, value: &Value) -> Result<bool, ConfigError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::Int(0) => Ok(false),
        Value::Int(1) => Ok(true),
        Value::Str(text) => match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(invalid(path, "must be a boolean", value)),
        },
        _ => Err(invalid(path, "must be a boolean", value)),
    }
}

/// A whole number within `range`, given as an int, an integral float or a numeric string.
fn integer<T>(
    path: &str,
    value: &Value,
    range: RangeInclusive<T>,
    rule: &str,
) -> Result<T, ConfigError>
where
    T: TryFrom<i64> + PartialOrd,
{
    let whole = match number(value) {
        Some(Number::Int(n)) => Some(n),
        // `as` saturates, so floats beyond i64 (2^63 is exact in f64) must not reach it.
        Some(Number::Float(f)) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) => Some(f as i64),
        _ => None,
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid(path, rule, value))
}

fn non_negative_seconds(path: &str, value: &Value) -> Result<Duration, ConfigError> {
    seconds(value).ok_or_else(|| {
        invalid(
            path,
            format!("must be a number of seconds between 0 and {MAX_WAIT_SECS}"),
            value,
        )
    })
}

/// Checked on the `Duration`, so a value that rounds down to zero nanoseconds counts as zero.
fn positive_seconds(path: &str, value: &Value) -> Result<Duration, ConfigError> {
    seconds(value)
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            invalid(
                path,
                format!("must be a number of seconds greater than 0 and at most {MAX_WAIT_SECS}"),
                value,
            )
        })
}

/// A number of seconds between 0 and `MAX_WAIT_SECS`, fractions allowed.
fn seconds(value: &Value) -> Option<Duration> {
    let seconds = match number(value)? {
        Number::Int(n) => n as f64,
        Number::Float(f) => f,
    };
    if (0.0..=f64::from(MAX_WAIT_SECS)).contains(&seconds) {
        Duration::try_from_secs_f64(seconds).ok()
    } else {
        None
    }
}

enum Number {
    Int(i64),
    Float(f64),
}

/// Numbers come as ints, floats, or numeric strings from the environment.
fn number(value: &Value) -> Option<Number> {
    match value {
        Value::Int(n) => Some(Number::Int(*n)),
        Value::Float(f) if f.is_finite() => Some(Number::Float(*f)),
        Value::Str(text) => {
            let text = text.trim();
            match text.parse::<i64>() {
                Ok(n) => Some(Number::Int(n)),
                Err(_) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Number::Float),
            }
        }
        _ => None,
    }
}

fn invalid(path: &str, rule: impl Into<String>, value: &Value) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        rule: rule.into(),
        got: describe(value),
    }
}

/// Names an unknown key, suggesting the nearest known one. A reconnect option
/// written at the top level is pointed into `reconnect`.
fn unknown_option(key: &str) -> ConfigError {
    let top = OPTIONS.iter().map(|name| (*name, (*name).to_owned()));
    let nested = RECONNECT_OPTIONS
        .iter()
        .map(|name| (*name, format!("reconnect.{name}")));
    ConfigError::UnknownOption {
        path: key.to_owned(),
        suggestion: nearest(key, top.chain(nested)),
    }
}

fn unknown_reconnect_option(key: &str) -> ConfigError {
    let nested = RECONNECT_OPTIONS
        .iter()
        .map(|name| (*name, format!("reconnect.{name}")));
    ConfigError::UnknownOption {
        path: format!("reconnect.{key}"),
        suggestion: nearest(key, nested),
    }
}

/// The path of the candidate whose name is a few edits from `key`, about one
/// edit per three characters. Ties go to the longer shared beginning, so
/// `max_retry` means `max_retries` rather than `max_delay`.
pub(super) fn nearest(
    key: &str,
    candidates: impl Iterator<Item = (&'static str, String)>,
) -> Option<String> {
    let typed = key.to_lowercase();
    candidates
        .map(|(name, path)| (edit_distance(&typed, name), name, path))
        .filter(|(distance, name, _)| *distance <= (name.len() / 3).max(1))
        .min_by_key(|(distance, name, _)| (*distance, Reverse(shared_prefix(&typed, name))))
        .map(|(_, _, path)| path)
}

fn shared_prefix(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Optimal string alignment distance: Levenshtein plus swaps of neighbours,
/// so `hots` is one edit from `host`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: distance between the first i chars of a and the first j of b.
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The given value as it would read in PHP source; long strings by length only.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Str(text) if text.len() <= 64 => format!("{text:?}"),
        Value::Str(text) => format!("a string of {} bytes", text.len()),
        Value::Bytes(bytes) => format!("a binary string of {} bytes", bytes.len()),
        Value::Map(_) | Value::List(_) => type_name(value).to_owned(),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) | Value::Bytes(_) => "string",
        Value::Map(_) => "array",
        Value::List(_) => "list",
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::core) fn str(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    pub(in crate::core) fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        )
    }

    fn parse(pairs: &[(&str, Value)]) -> Result<Config, ConfigError> {
        Config::from_value(&map(pairs))
    }

    fn error(pairs: &[(&str, Value)]) -> String {
        match parse(pairs) {
            Ok(config) => panic!("expected an error for {pairs:?}, got {config:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn reconnect(pairs: &[(&str, Value)]) -> Result<Reconnect, ConfigError> {
        parse(&[("reconnect", map(pairs))]).map(|config| config.reconnect)
    }

    #[test]
    fn defaults_are_the_documented_values() {
        let config = Config::default();
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 1883);
        assert_eq!(config.client_id, None);
        assert_eq!(config.username, None);
        assert_eq!(config.password, None);
        assert_eq!(config.keep_alive, Duration::from_secs(60));
        assert_eq!(config.connect_timeout, Duration::from_secs(5));
        assert!(config.clean_session);
        assert_eq!(config.prefix, "");
        assert_eq!(config.qos, 0);
        assert!(!config.retain);
        assert_eq!(config.max_queue, 10_000);
        assert_eq!(config.max_inflight, 20);
        assert_eq!(config.max_packet_size, 8 * 1024 * 1024);
        assert_eq!(config.flush_timeout, Duration::from_secs(5));
        assert_eq!(config.reconnect.initial_delay, Duration::from_millis(100));
        assert_eq!(config.reconnect.max_delay, Duration::from_secs(30));
        assert_eq!(config.reconnect.max_retries, 0);
        assert_eq!(config.protocol, Protocol::V311);
        assert_eq!(config.session_expiry_interval, None);
    }

    #[test]
    fn protocol_is_3_1_1_or_5() {
        assert_eq!(
            parse(&[("protocol", str("3.1.1"))]).unwrap().protocol,
            Protocol::V311
        );
        for five in [str("5"), str("5.0"), Value::Int(5)] {
            assert_eq!(parse(&[("protocol", five)]).unwrap().protocol, Protocol::V5);
        }
        for other in [str("3.1"), str("v5"), Value::Int(4), Value::Null] {
            assert!(error(&[("protocol", other)])
                .starts_with("option \"protocol\" must be \"3.1.1\" or \"5\""));
        }
    }

    #[test]
    fn session_expiry_needs_mqtt_5_and_defaults_to_the_session_kind() {
        assert_eq!(
            error(&[("session_expiry_interval", Value::Int(60))]),
            "option \"session_expiry_interval\" requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no session expiry)"
        );
        let v5 = |pairs: &[(&str, Value)]| {
            let mut all = vec![("protocol", str("5")), ("client_id", str("daemon"))];
            all.extend_from_slice(pairs);
            parse(&all).unwrap()
        };
        assert_eq!(v5(&[]).session_expiry(), 0);
        assert_eq!(
            v5(&[("clean_session", Value::Bool(false))]).session_expiry(),
            u32::MAX
        );
        let kept = v5(&[
            ("clean_session", Value::Bool(false)),
            ("session_expiry_interval", Value::Int(3600)),
        ]);
        assert_eq!(kept.session_expiry(), 3600);
        assert_eq!(
            v5(&[("session_expiry_interval", str("4294967295"))]).session_expiry(),
            u32::MAX
        );
    }

    #[test]
    fn mqtt_5_keeps_alive_at_least_every_5_seconds() {
        for seconds in [0, 4] {
            assert_eq!(
                error(&[("protocol", str("5")), ("keep_alive", Value::Int(seconds))]),
                "option \"keep_alive\" must be at least 5 seconds with option \"protocol\" => \"5\""
            );
        }
        assert!(parse(&[("keep_alive", Value::Int(5)), ("protocol", str("5"))]).is_ok());
    }

    #[test]
    fn binary_will_payload_is_kept_byte_for_byte() {
        let config = parse(&[(
            "will",
            map(&[
                ("topic", str("gone")),
                ("payload", Value::Bytes(vec![0, 0xff, 0xfe])),
            ]),
        )])
        .unwrap();
        assert_eq!(config.will.unwrap().payload, vec![0, 0xff, 0xfe]);
    }

    #[test]
    fn empty_map_and_empty_list_both_mean_no_options() {
        assert_eq!(
            Config::from_value(&Value::Map(vec![])),
            Ok(Config::default())
        );
        assert_eq!(
            Config::from_value(&Value::List(vec![])),
            Ok(Config::default())
        );
    }

    #[test]
    fn options_must_be_keyed_by_name() {
        assert_eq!(
            Config::from_value(&Value::List(vec![str("host")]))
                .unwrap_err()
                .to_string(),
            "options must be an array keyed by option name, got list"
        );
        assert_eq!(
            Config::from_value(&str("host=broker"))
                .unwrap_err()
                .to_string(),
            "options must be an array keyed by option name, got \"host=broker\""
        );
    }

    #[test]
    fn every_option_is_read_into_its_field() {
        let config = parse(&[
            ("host", str("broker.local")),
            ("port", Value::Int(8883)),
            ("client_id", str("worker-1")),
            ("username", str("app")),
            ("password", str("s3cret")),
            ("keep_alive", Value::Int(30)),
            ("connect_timeout", Value::Float(2.5)),
            ("clean_session", Value::Bool(false)),
            ("prefix", str("prod/")),
            ("qos", Value::Int(1)),
            ("retain", Value::Bool(true)),
            ("max_queue", Value::Int(50)),
            ("max_inflight", Value::Int(100)),
            ("max_packet_size", Value::Int(4096)),
            ("flush_timeout", Value::Int(0)),
            (
                "reconnect",
                map(&[
                    ("initial_delay", Value::Float(0.5)),
                    ("max_delay", Value::Int(10)),
                    ("max_retries", Value::Int(3)),
                ]),
            ),
            ("tls", Value::Bool(true)),
            (
                "will",
                map(&[("topic", str("status/worker-1")), ("payload", str("gone"))]),
            ),
            ("protocol", str("5")),
            ("session_expiry_interval", Value::Int(600)),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                host: "broker.local".to_owned(),
                port: 8883,
                client_id: Some("worker-1".to_owned()),
                username: Some("app".to_owned()),
                password: Some("s3cret".to_owned()),
                keep_alive: Duration::from_secs(30),
                connect_timeout: Duration::from_millis(2500),
                clean_session: false,
                prefix: "prod/".to_owned(),
                qos: 1,
                retain: true,
                max_queue: 50,
                max_inflight: 100,
                max_packet_size: 4096,
                flush_timeout: Duration::ZERO,
                reconnect: Reconnect {
                    initial_delay: Duration::from_millis(500),
                    max_delay: Duration::from_secs(10),
                    max_retries: 3,
                },
                tls: Some(Tls::default()),
                will: Some(Will {
                    topic: "status/worker-1".to_owned(),
                    payload: b"gone".to_vec(),
                    qos: 0,
                    retain: false,
                }),
                protocol: Protocol::V5,
                session_expiry_interval: Some(600),
            }
        );
    }

    #[test]
    fn tls_is_a_switch_or_an_array_of_settings() {
        assert_eq!(parse(&[("tls", str("false"))]).unwrap().tls, None);
        let tls = parse(&[(
            "tls",
            map(&[
                ("verify_peer", Value::Bool(false)),
                ("server_name", str("broker.example")),
                ("alpn", Value::List(vec![str("mqtt")])),
            ]),
        )])
        .unwrap()
        .tls
        .unwrap();
        assert!(!tls.verify_peer);
        assert_eq!(tls.server_name.as_deref(), Some("broker.example"));
        assert_eq!(tls.alpn, ["mqtt"]);
    }

    #[test]
    fn tls_files_must_exist_and_come_in_pairs() {
        assert_eq!(
            error(&[("tls", map(&[("ca_file", str("/nonexistent/ca.pem"))]))]),
            "option \"tls.ca_file\" must be a readable PEM file (No such file or directory (os error 2)), got \"/nonexistent/ca.pem\""
        );
        let file =
            std::env::temp_dir().join(format!("mqtt-broadcast-config-test-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let path = str(file.to_str().unwrap());
        assert_eq!(
            error(&[("tls", map(&[("cert_file", path)]))]),
            "option \"tls.cert_file\" needs both tls.cert_file and tls.key_file for a client certificate"
        );
        std::fs::remove_file(file).unwrap();
        assert_eq!(
            error(&[("tls", map(&[("verfy_peer", Value::Bool(true))]))]),
            "unknown option \"tls.verfy_peer\" (did you mean \"tls.verify_peer\"?)"
        );
    }

    #[test]
    fn will_needs_a_topic_without_wildcards() {
        assert_eq!(
            error(&[("will", map(&[("payload", str("x"))]))]),
            "option \"will.topic\" is required: the topic the broker publishes the will to"
        );
        assert_eq!(
            error(&[("will", map(&[("topic", str("a/#"))]))]),
            "option \"will.topic\" must be a topic without wildcards, got \"a/#\""
        );
        assert_eq!(
            error(&[("will", map(&[("topic", str("a")), ("qos", Value::Int(3))]))]),
            "option \"will.qos\" must be 0, 1 or 2, got 3"
        );
    }

    #[test]
    fn every_listed_option_is_handled() {
        for key in OPTIONS {
            let result = parse(&[(key, Value::List(vec![Value::Null]))]);
            assert!(
                !matches!(result, Err(ConfigError::UnknownOption { .. })),
                "{key} is listed but not handled"
            );
        }
        for key in RECONNECT_OPTIONS {
            let result = reconnect(&[(key, Value::List(vec![Value::Null]))]);
            assert!(
                !matches!(result, Err(ConfigError::UnknownOption { .. })),
                "reconnect.{key} is listed but not handled"
            );
        }
    }

    #[test]
    fn unknown_key_suggests_nearest_option() {
        assert_eq!(
            error(&[("hots", str("broker"))]),
            "unknown option \"hots\" (did you mean \"host\"?)"
        );
        assert_eq!(
            error(&[("keepalive", Value::Int(10))]),
            "unknown option \"keepalive\" (did you mean \"keep_alive\"?)"
        );
        assert_eq!(
            error(&[("clientId", str("a"))]),
            "unknown option \"clientId\" (did you mean \"client_id\"?)"
        );
        assert_eq!(
            error(&[("max_packet", Value::Int(2048))]),
            "unknown option \"max_packet\" (did you mean \"max_packet_size\"?)"
        );
    }

    #[test]
    fn unknown_key_far_from_every_option_gets_no_suggestion() {
        assert_eq!(error(&[("server", str("x"))]), "unknown option \"server\"");
        assert_eq!(error(&[("0", str("x"))]), "unknown option \"0\"");
    }

    #[test]
    fn unknown_nested_key_is_named_with_its_dot_path() {
        assert_eq!(
            reconnect(&[("max_retry", Value::Int(3))])
                .unwrap_err()
                .to_string(),
            "unknown option \"reconnect.max_retry\" (did you mean \"reconnect.max_retries\"?)"
        );
        assert_eq!(
            reconnect(&[("jitter", Value::Bool(true))])
                .unwrap_err()
                .to_string(),
            "unknown option \"reconnect.jitter\""
        );
    }

    #[test]
    fn reconnect_option_at_top_level_points_into_reconnect() {
        assert_eq!(
            error(&[("max_delay", Value::Int(10))]),
            "unknown option \"max_delay\" (did you mean \"reconnect.max_delay\"?)"
        );
    }

    #[test]
    fn edit_distance_counts_swapped_neighbours_as_one_edit() {
        assert_eq!(edit_distance("hots", "host"), 1);
        assert_eq!(edit_distance("keepalive", "keep_alive"), 1);
        assert_eq!(edit_distance("", "qos"), 3);
        assert_eq!(edit_distance("port", "port"), 0);
    }

    #[test]
    fn reconnect_must_be_keyed_by_name() {
        assert_eq!(
            error(&[("reconnect", Value::List(vec![Value::Int(1)]))]),
            "option \"reconnect\" must be an array keyed by option name, got list"
        );
        assert_eq!(
            error(&[("reconnect", Value::Bool(true))]),
            "option \"reconnect\" must be an array keyed by option name, got true"
        );
    }

    #[test]
    fn empty_reconnect_array_keeps_the_defaults() {
        let config = parse(&[("reconnect", Value::List(vec![]))]).unwrap();
        assert_eq!(config.reconnect, Reconnect::default());
    }

    #[test]
    fn numeric_strings_from_env_are_accepted() {
        let config = parse(&[
            ("port", str("1883")),
            ("keep_alive", str(" 30 ")),
            ("connect_timeout", str("0.5")),
            ("qos", str("2")),
            ("max_queue", str("100")),
            ("max_packet_size", str("1e4")),
            ("flush_timeout", str("10")),
            (
                "reconnect",
                map(&[
                    ("initial_delay", str("0.25")),
                    ("max_delay", str("5")),
                    ("max_retries", str("7")),
                ]),
            ),
        ])
        .unwrap();
        assert_eq!(config.port, 1883);
        assert_eq!(config.keep_alive, Duration::from_secs(30));
        assert_eq!(config.connect_timeout, Duration::from_millis(500));
        assert_eq!(config.qos, 2);
        assert_eq!(config.max_queue, 100);
        assert_eq!(config.max_packet_size, 10_000);
        assert_eq!(config.flush_timeout, Duration::from_secs(10));
        assert_eq!(config.reconnect.initial_delay, Duration::from_millis(250));
        assert_eq!(config.reconnect.max_delay, Duration::from_secs(5));
        assert_eq!(config.reconnect.max_retries, 7);
    }

    #[test]
    fn integral_floats_are_accepted_for_integer_options() {
        assert_eq!(parse(&[("port", Value::Float(1883.0))]).unwrap().port, 1883);
        assert_eq!(parse(&[("qos", str("1.0"))]).unwrap().qos, 1);
    }

    #[test]
    fn integer_options_reject_fractional_numbers() {
        assert_eq!(
            error(&[("port", str("1.5"))]),
            "option \"port\" must be an integer between 1 and 65535, got \"1.5\""
        );
        assert_eq!(
            error(&[("qos", Value::Float(0.5))]),
            "option \"qos\" must be 0, 1 or 2, got 0.5"
        );
        assert!(error(&[("keep_alive", Value::Float(1.5))])
            .starts_with("option \"keep_alive\" must be a whole number"));
        assert!(reconnect(&[("max_retries", Value::Float(2.5))]).is_err());
    }

    #[test]
    fn huge_floats_are_not_saturated_into_range() {
        assert!(parse(&[("max_queue", Value::Float(1e300))]).is_err());
        assert!(parse(&[("max_queue", str("1e19"))]).is_err());
    }

    #[test]
    fn port_must_be_between_1_and_65535() {
        assert_eq!(
            error(&[("port", str("abc"))]),
            "option \"port\" must be an integer between 1 and 65535, got \"abc\""
        );
        for bad in [
            Value::Int(0),
            Value::Int(65_536),
            Value::Int(-1),
            Value::Float(1e300),
            str(""),
        ] {
            assert!(
                parse(&[("port", bad.clone())]).is_err(),
                "port {bad:?} was accepted"
            );
        }
        assert_eq!(parse(&[("port", Value::Int(1))]).unwrap().port, 1);
        assert_eq!(parse(&[("port", Value::Int(65_535))]).unwrap().port, 65_535);
    }

    #[test]
    fn qos_must_be_0_1_or_2() {
        for qos in 0..=2 {
            assert_eq!(parse(&[("qos", Value::Int(qos))]).unwrap().qos, qos as u8);
        }
        assert_eq!(
            error(&[("qos", Value::Int(3))]),
            "option \"qos\" must be 0, 1 or 2, got 3"
        );
        assert_eq!(
            error(&[("qos", Value::Int(-1))]),
            "option \"qos\" must be 0, 1 or 2, got -1"
        );
    }

    #[test]
    fn max_queue_must_be_at_least_1() {
        assert_eq!(
            error(&[("max_queue", Value::Int(0))]),
            "option \"max_queue\" must be an integer of at least 1, got 0"
        );
        assert_eq!(parse(&[("max_queue", Value::Int(1))]).unwrap().max_queue, 1);
    }

    #[test]
    fn max_packet_size_must_fit_the_mqtt_limits() {
        assert_eq!(
            error(&[("max_packet_size", Value::Int(1023))]),
            "option \"max_packet_size\" must be an integer between 1024 and 268435455 (bytes), got 1023"
        );
        assert!(parse(&[("max_packet_size", Value::Int(268_435_456))]).is_err());
        assert_eq!(
            parse(&[("max_packet_size", Value::Int(1024))])
                .unwrap()
                .max_packet_size,
            1024
        );
        assert_eq!(
            parse(&[("max_packet_size", Value::Int(268_435_455))])
                .unwrap()
                .max_packet_size,
            268_435_455
        );
    }

    #[test]
    fn keep_alive_is_zero_or_whole_seconds_up_to_65535() {
        assert_eq!(
            parse(&[("keep_alive", Value::Int(0))]).unwrap().keep_alive,
            Duration::ZERO
        );
        assert_eq!(
            parse(&[("keep_alive", Value::Int(1))]).unwrap().keep_alive,
            Duration::from_secs(1)
        );
        assert_eq!(
            parse(&[("keep_alive", Value::Int(65_535))])
                .unwrap()
                .keep_alive,
            Duration::from_secs(65_535)
        );
        assert_eq!(
            error(&[("keep_alive", Value::Float(0.5))]),
            "option \"keep_alive\" must be a whole number of seconds between 0 and 65535 (0 disables it), got 0.5"
        );
        assert!(parse(&[("keep_alive", Value::Int(65_536))]).is_err());
        assert!(parse(&[("keep_alive", Value::Int(-1))]).is_err());
    }

    #[test]
    fn durations_accept_fractional_seconds() {
        let config = parse(&[
            ("connect_timeout", Value::Float(0.25)),
            ("flush_timeout", str("1.5")),
        ])
        .unwrap();
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(config.flush_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn connect_timeout_must_be_greater_than_zero() {
        assert_eq!(
            error(&[("connect_timeout", Value::Int(0))]),
            "option \"connect_timeout\" must be a number of seconds greater than 0 and at most 86400, got 0"
        );
        // Rounds to zero nanoseconds, so it would disable the timeout just the same.
        assert!(parse(&[("connect_timeout", Value::Float(1e-12))]).is_err());
    }

    #[test]
    fn flush_timeout_may_be_zero() {
        assert_eq!(
            parse(&[("flush_timeout", Value::Int(0))])
                .unwrap()
                .flush_timeout,
            Duration::ZERO
        );
        assert_eq!(
            error(&[("flush_timeout", Value::Int(-1))]),
            "option \"flush_timeout\" must be a number of seconds between 0 and 86400, got -1"
        );
    }

    #[test]
    fn durations_reject_negative_infinite_and_absurd_values() {
        for key in ["connect_timeout", "flush_timeout"] {
            for bad in [
                Value::Int(-1),
                Value::Float(f64::INFINITY),
                Value::Float(f64::NAN),
                str("inf"),
                str("NaN"),
                Value::Float(1e300),
                Value::Int(86_401),
                Value::Int(i64::MAX),
            ] {
                assert!(
                    parse(&[(key, bad.clone())]).is_err(),
                    "{key} {bad:?} was accepted"
                );
            }
            assert!(parse(&[(key, Value::Int(86_400))]).is_ok());
        }
    }

    #[test]
    fn booleans_accept_env_style_strings() {
        let cases = [
            (Value::Bool(true), true),
            (Value::Bool(false), false),
            (Value::Int(1), true),
            (Value::Int(0), false),
            (str("true"), true),
            (str("false"), false),
            (str("1"), true),
            (str("0"), false),
            (str(""), false),
            (str(" true "), true),
        ];
        for (value, expected) in cases {
            assert_eq!(
                parse(&[("retain", value.clone())]).unwrap().retain,
                expected,
                "retain {value:?}"
            );
        }
    }

    #[test]
    fn booleans_reject_anything_else() {
        assert_eq!(
            error(&[("retain", str("yes"))]),
            "option \"retain\" must be a boolean, got \"yes\""
        );
        assert_eq!(
            error(&[("retain", Value::Int(2))]),
            "option \"retain\" must be a boolean, got 2"
        );
        assert_eq!(
            error(&[("retain", Value::Float(1.0))]),
            "option \"retain\" must be a boolean, got 1.0"
        );
        assert_eq!(
            error(&[("clean_session", Value::Null)]),
            "option \"clean_session\" must be a boolean, got null"
        );
    }

    #[test]
    fn every_option_rejects_a_wrong_type() {
        let cases = [
            ("host", Value::Int(1), "option \"host\" must be a non-empty host name or IP address, got 1"),
            ("port", Value::Bool(true), "option \"port\" must be an integer between 1 and 65535, got true"),
            ("client_id", Value::Int(7), "option \"client_id\" must be a string or null, got 7"),
            ("username", Value::Int(7), "option \"username\" must be a string or null, got int"),
            ("password", Value::Bool(true), "option \"password\" must be a string or null, got bool"),
            (
                "keep_alive",
                Value::Map(vec![]),
                "option \"keep_alive\" must be a whole number of seconds between 0 and 65535 (0 disables it), got array",
            ),
            (
                "connect_timeout",
                Value::Null,
                "option \"connect_timeout\" must be a number of seconds greater than 0 and at most 86400, got null",
            ),
            ("clean_session", str("no"), "option \"clean_session\" must be a boolean, got \"no\""),
            ("prefix", Value::Int(1), "option \"prefix\" must be a string, got 1"),
            ("qos", str("high"), "option \"qos\" must be 0, 1 or 2, got \"high\""),
            ("retain", Value::List(vec![]), "option \"retain\" must be a boolean, got list"),
            ("max_queue", Value::Null, "option \"max_queue\" must be an integer of at least 1, got null"),
            ("max_inflight", Value::Int(0), "option \"max_inflight\" must be an integer between 1 and 65535, got 0"),
            (
                "max_packet_size",
                str("8MB"),
                "option \"max_packet_size\" must be an integer between 1024 and 268435455 (bytes), got \"8MB\"",
            ),
            (
                "flush_timeout",
                Value::Bool(false),
                "option \"flush_timeout\" must be a number of seconds between 0 and 86400, got false",
            ),
            ("reconnect", Value::Int(1), "option \"reconnect\" must be an array keyed by option name, got 1"),
            ("protocol", Value::Float(3.1), "option \"protocol\" must be \"3.1.1\" or \"5\", got 3.1"),
            (
                "session_expiry_interval",
                Value::Int(-1),
                "option \"session_expiry_interval\" must be a whole number of seconds between 0 and 4294967295 (never expires), got -1",
            ),
        ];
        for (key, value, message) in cases {
            assert_eq!(error(&[(key, value)]), message);
        }
    }

    #[test]
    fn every_reconnect_option_rejects_a_wrong_type() {
        let cases = [
            (
                "initial_delay",
                str("soon"),
                "option \"reconnect.initial_delay\" must be a number of seconds greater than 0 and at most 86400, got \"soon\"",
            ),
            (
                "max_delay",
                Value::Bool(true),
                "option \"reconnect.max_delay\" must be a number of seconds greater than 0 and at most 86400, got true",
            ),
            (
                "max_retries",
                Value::Int(-1),
                "option \"reconnect.max_retries\" must be an integer between 0 and 4294967295 (0 retries forever), got -1",
            ),
        ];
        for (key, value, message) in cases {
            assert_eq!(reconnect(&[(key, value)]).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn host_must_not_be_empty() {
        assert_eq!(
            error(&[("host", str(""))]),
            "option \"host\" must be a non-empty host name or IP address, got \"\""
        );
        assert!(parse(&[("host", str("bro\0ker"))]).is_err());
    }

    #[test]
    fn null_means_unset_for_optional_strings() {
        let config = parse(&[
            ("client_id", Value::Null),
            ("username", Value::Null),
            ("password", Value::Null),
        ])
        .unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn client_id_must_be_usable_by_rumqttc_and_brokers() {
        assert_eq!(
            error(&[("client_id", str(""))]),
            "option \"client_id\" must not be empty (leave it out or set it to null to get a generated one), got \"\""
        );
        assert_eq!(
            error(&[("client_id", str(" worker"))]),
            "option \"client_id\" must not start with a space, got \" worker\""
        );
        assert_eq!(
            error(&[("client_id", str("a\0b"))]),
            "option \"client_id\" must not contain NUL bytes, got \"a\\0b\""
        );
        assert_eq!(
            error(&[("client_id", Value::Str("x".repeat(65_536)))]),
            "option \"client_id\" must be at most 65535 bytes long, got a string of 65536 bytes"
        );
        let longest = "x".repeat(65_535);
        assert_eq!(
            parse(&[("client_id", str(&longest))]).unwrap().client_id,
            Some(longest)
        );
        assert_eq!(
            parse(&[("client_id", str("worker 1"))])
                .unwrap()
                .client_id
                .as_deref(),
            Some("worker 1")
        );
    }

    #[test]
    fn password_without_username_is_rejected() {
        assert_eq!(
            error(&[("password", str("s3cret"))]),
            "option \"password\" requires option \"username\" (MQTT 3.1.1 does not allow a password without a user name)"
        );
        let config = parse(&[("username", str("app"))]).unwrap();
        assert_eq!(
            (config.username.as_deref(), config.password),
            (Some("app"), None)
        );
    }

    #[test]
    fn empty_password_is_a_password() {
        let config = parse(&[("username", str("app")), ("password", str(""))]).unwrap();
        assert_eq!(config.password.as_deref(), Some(""));
    }

    #[test]
    fn persistent_session_requires_a_client_id() {
        assert_eq!(
            error(&[("clean_session", Value::Bool(false))]),
            "option \"clean_session\" set to false requires option \"client_id\" (a persistent session needs a stable client id)"
        );
        let config = parse(&[("clean_session", str("0")), ("client_id", str("worker-1"))]).unwrap();
        assert!(!config.clean_session);
    }

    #[test]
    fn prefix_must_not_contain_wildcards_or_nul() {
        assert_eq!(
            error(&[("prefix", str("app/+/"))]),
            "option \"prefix\" must not contain wildcards '+' or '#', got \"app/+/\""
        );
        assert!(parse(&[("prefix", str("app/#"))]).is_err());
        assert_eq!(
            error(&[("prefix", str("app\0"))]),
            "option \"prefix\" must not contain NUL bytes, got \"app\\0\""
        );
        assert_eq!(
            parse(&[("prefix", str("$app/ v1/"))]).unwrap().prefix,
            "$app/ v1/"
        );
    }

    #[test]
    fn reconnect_delays_must_be_greater_than_zero() {
        assert!(reconnect(&[("initial_delay", Value::Int(0))]).is_err());
        assert!(reconnect(&[("max_delay", Value::Int(0))]).is_err());
        assert!(reconnect(&[("initial_delay", Value::Float(-0.5))]).is_err());
    }

    #[test]
    fn max_delay_must_not_be_below_initial_delay() {
        assert_eq!(
            reconnect(&[("initial_delay", Value::Int(2)), ("max_delay", Value::Float(0.5))])
                .unwrap_err()
                .to_string(),
            "option \"reconnect.max_delay\" must be at least reconnect.initial_delay (2 s), got 0.5"
        );
        let equal = reconnect(&[
            ("initial_delay", Value::Int(2)),
            ("max_delay", Value::Int(2)),
        ])
        .unwrap();
        assert_eq!(equal.max_delay, equal.initial_delay);
    }

    #[test]
    fn large_initial_delay_alone_is_blamed_on_itself() {
        assert_eq!(
            reconnect(&[("initial_delay", Value::Int(60))])
                .unwrap_err()
                .to_string(),
            "option \"reconnect.initial_delay\" must be at most reconnect.max_delay (30 s), got 60"
        );
    }

    #[test]
    fn max_retries_of_zero_means_forever() {
        assert_eq!(
            reconnect(&[("max_retries", Value::Int(0))])
                .unwrap()
                .max_retries,
            0
        );
        assert_eq!(
            reconnect(&[("max_retries", Value::Int(i64::from(u32::MAX)))])
                .unwrap()
                .max_retries,
            u32::MAX
        );
        assert!(reconnect(&[("max_retries", Value::Int(i64::from(u32::MAX) + 1))]).is_err());
    }

    #[test]
    fn password_never_appears_in_errors() {
        let secret = "hunter2-0123456789";
        let messages = [
            error(&[("password", str(secret))]),
            error(&[
                ("username", str("app")),
                (
                    "password",
                    Value::Str(format!("{secret}{}", "x".repeat(65_535))),
                ),
            ]),
            error(&[
                ("username", str("app")),
                ("password", str(secret)),
                ("port", Value::Int(0)),
            ]),
            error(&[
                ("username", str("app")),
                ("password", Value::Int(1234567)),
                ("port", Value::Int(0)),
            ]),
        ];
        for message in &messages {
            assert!(!message.contains("hunter2"), "leaked in: {message}");
            assert!(!message.contains("1234567"), "leaked in: {message}");
        }
        assert_eq!(
            error(&[("username", str("app")), ("password", Value::Int(1234567))]),
            "option \"password\" must be a string or null, got int"
        );
        assert_eq!(
            messages[1],
            "option \"password\" must be at most 65535 bytes long, got a string of 65553 bytes"
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let config = parse(&[("username", str("app")), ("password", str("hunter2"))]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password: Some(\"<redacted>\")"), "{debug}");
        assert!(format!("{:?}", Config::default()).contains("password: None"));
    }

    #[test]
    fn username_is_treated_as_a_credential_too() {
        assert_eq!(
            error(&[("username", str("ad\0min"))]),
            "option \"username\" must not contain NUL bytes, got a string of 6 bytes"
        );
        assert_eq!(
            error(&[("username", Value::Float(1.5))]),
            "option \"username\" must be a string or null, got float"
        );
    }

    #[test]
    fn password_may_contain_any_bytes() {
        let config = parse(&[("username", str("app")), ("password", str("a\0b"))]).unwrap();
        assert_eq!(config.password.as_deref(), Some("a\0b"));
    }

    #[test]
    fn first_bad_option_in_the_given_order_is_reported() {
        assert!(
            error(&[("qos", Value::Int(9)), ("port", Value::Int(0))]).starts_with("option \"qos\"")
        );
    }

    #[test]
    fn subscriber_options_are_validated_like_connection_options() {
        let parse = |pairs: &[(&str, Value)]| SubscriberConfig::from_value(&map(pairs));
        assert_eq!(parse(&[]).unwrap().max_inbox, 1000);
        assert_eq!(parse(&[("max_inbox", str("50"))]).unwrap().max_inbox, 50);
        assert_eq!(
            parse(&[("max_inbox", Value::Int(0))])
                .unwrap_err()
                .to_string(),
            "option \"max_inbox\" must be an integer between 1 and 1000000, got 0"
        );
        assert_eq!(
            parse(&[("max_inbx", Value::Int(5))])
                .unwrap_err()
                .to_string(),
            "unknown option \"max_inbx\" (did you mean \"max_inbox\"?)"
        );
    }
}
