//! Connection options: the PHP options array, typed and validated once.
//!
//! Everything that would make rumqttc panic or a broker refuse us is rejected
//! here with a message that names the option, so later layers can trust a
//! `Config` without checking it again.
//!
//! Each group of options is one table of option name → reader: parsing and
//! the "did you mean" suggestions both come from it, so they cannot disagree.

mod read;
mod servers;
mod suggest;
mod value;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use self::read::{
    binary, boolean, entries, integer, invalid, non_negative_seconds, paths, positive_seconds,
    read_group, readable_file, readable_file_or_directory, text_rule, Reader,
};
pub use self::servers::{server_reference, Server, ServerOrder};
pub(crate) use self::suggest::{did_you_mean, unknown_entry};
use self::value::describe_secret;
pub use self::value::Value;

/// The readers of option tables, for the options of other crates (the
/// built-in broker's): the same wording and suggestions everywhere.
pub mod readers {
    pub use super::read::{boolean, dot_path, entries, invalid, paths, read_group, Reader};
    pub use super::value::{describe, type_name};
}
pub(crate) use self::value::{describe, keyed_entries};
use crate::error::Error;
use crate::properties::Properties;
use crate::topic::validate_topic;

/// `Debug` is written by hand so that logging a `Config` never shows the password.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `None`: the caller generates a unique id.
    pub client_id: Option<String>,
    pub username: Option<String>,
    /// Binary data in MQTT, so any bytes.
    pub password: Option<Vec<u8>>,
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
    /// MQTT 5: unacknowledged QoS 1/2 messages the broker may send at once.
    /// A received message is acknowledged once PHP handled it, so this is
    /// how many can wait in the subscribers of this connection. `None`:
    /// 65,535, as MQTT 5 means when a client says nothing.
    pub receive_maximum: Option<u16>,
    /// The brokers of a cluster to go through, instead of `host`/`port`.
    pub servers: Vec<Server>,
    pub server_order: ServerOrder,
    /// MQTT 5: how many topics get a topic alias on outgoing publishes, so
    /// that repeated publishes to them carry two bytes instead of the
    /// topic. The broker's Topic Alias Maximum lowers it; 0: none.
    pub topic_aliases: u16,
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
    /// CA certificates to trust instead of the system's: a PEM file, or a
    /// directory of them.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub verify_peer: bool,
    /// Accept a certificate no trusted CA signed.
    pub allow_self_signed: bool,
    /// Check that the certificate is valid for the host name; `false` checks
    /// the chain only.
    pub verify_hostname: bool,
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
            verify_hostname: true,
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
    /// MQTT 5: seconds the broker waits before it publishes the will; a
    /// reconnect to the session within them cancels it.
    pub delay_interval: Option<u32>,
    /// MQTT 5: the will's publish properties; the response topic without the prefix.
    pub properties: Option<Properties>,
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
            receive_maximum: None,
            topic_aliases: 0,
            servers: Vec::new(),
            server_order: ServerOrder::InOrder,
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

    /// Said in CONNECT: a broker such as Mosquitto otherwise applies its own
    /// window (20 by default), and one subscriber of a connection not being
    /// read would soon stall the others.
    pub fn receive_maximum(&self) -> u16 {
        self.receive_maximum.unwrap_or(u16::MAX)
    }

    /// The servers to go through, in the order of the option: `servers`,
    /// or the one of `host` and `port`.
    pub fn servers(&self) -> Vec<Server> {
        if !self.servers.is_empty() {
            return self.servers.clone();
        }
        vec![Server {
            host: self.host.clone(),
            port: self.port,
            tls: None,
            username: None,
            password: None,
            websocket: None,
        }]
    }

    /// The TLS settings of the servers that speak TLS: the `tls` option, or
    /// the defaults when only an mqtts:// server asks for it.
    pub fn tls_settings(&self) -> Option<Tls> {
        let wanted = self.servers.iter().any(|s| s.tls == Some(true));
        self.tls.clone().or_else(|| wanted.then(Tls::default))
    }

    /// Whether reading these options looked at files (TLS certificates and
    /// keys), which can change while the options stay the same.
    pub fn names_files(&self) -> bool {
        self.tls.as_ref().is_some_and(|tls| {
            tls.ca_file.is_some() || tls.cert_file.is_some() || tls.key_file.is_some()
        })
    }

    /// Whether `server` is reached over TLS.
    pub fn uses_tls(&self, server: &Server) -> bool {
        server.tls.unwrap_or(self.tls.is_some())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("servers", &self.servers)
            .field("server_order", &self.server_order)
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

/// MQTT strings and binary data carry a two-byte length.
const MAX_STRING_BYTES: usize = 65_535;
/// The largest packet the MQTT remaining-length field can describe.
pub(crate) const MAX_PACKET_SIZE: usize = 268_435_455;

/// The top-level options, in the order suggestions prefer them.
const OPTIONS: &[(&str, Reader<Config>)] = &[
    ("host", |config, path, value| {
        config.host = host(path, value)?;
        Ok(())
    }),
    ("port", |config, path, value| {
        let rule = "must be an integer between 1 and 65535";
        config.port = integer(path, value, 1..=u16::MAX, rule)?;
        Ok(())
    }),
    ("client_id", |config, path, value| {
        config.client_id = client_id(path, value)?;
        Ok(())
    }),
    ("servers", |config, path, value| {
        config.servers = servers::servers(path, value)?;
        Ok(())
    }),
    ("url", |config, path, value| {
        config.servers = vec![servers::server(path, value)?];
        Ok(())
    }),
    ("server_order", |config, path, value| {
        config.server_order = match value {
            Value::Str(order) if order == "in_order" => ServerOrder::InOrder,
            Value::Str(order) if order == "random" => ServerOrder::Random,
            _ => return Err(invalid(path, "must be \"in_order\" or \"random\"", value)),
        };
        Ok(())
    }),
    ("username", |config, path, value| {
        config.username = username(path, value)?;
        Ok(())
    }),
    ("password", |config, path, value| {
        config.password = password(path, value)?;
        Ok(())
    }),
    ("keep_alive", |config, path, value| {
        // Sent as whole seconds in CONNECT, so a fraction would be dropped silently.
        let rule = "must be a whole number of seconds between 0 and 65535 (0 disables it)";
        let seconds = integer(path, value, 0..=u16::MAX, rule)?;
        config.keep_alive = Duration::from_secs(u64::from(seconds));
        Ok(())
    }),
    ("connect_timeout", |config, path, value| {
        config.connect_timeout = positive_seconds(path, value)?;
        Ok(())
    }),
    ("clean_session", |config, path, value| {
        config.clean_session = boolean(path, value)?;
        Ok(())
    }),
    ("prefix", |config, path, value| {
        config.prefix = prefix(path, value)?;
        Ok(())
    }),
    ("qos", |config, path, value| {
        config.qos = integer(path, value, 0..=2, "must be 0, 1 or 2")?;
        Ok(())
    }),
    ("retain", |config, path, value| {
        config.retain = boolean(path, value)?;
        Ok(())
    }),
    ("max_queue", |config, path, value| {
        let rule = "must be an integer of at least 1";
        config.max_queue = integer(path, value, 1..=usize::MAX, rule)?;
        Ok(())
    }),
    ("max_inflight", |config, path, value| {
        let rule = "must be an integer between 1 and 65535";
        config.max_inflight = integer(path, value, 1..=u16::MAX, rule)?;
        Ok(())
    }),
    ("max_packet_size", |config, path, value| {
        // The broker's control packets (CONNACK with its MQTT 5 properties,
        // SUBACK) must still fit: they are a few dozen bytes.
        let rule = "must be an integer between 128 and 268435455 (bytes)";
        config.max_packet_size = integer(path, value, 128..=MAX_PACKET_SIZE, rule)?;
        Ok(())
    }),
    ("flush_timeout", |config, path, value| {
        config.flush_timeout = non_negative_seconds(path, value)?;
        Ok(())
    }),
    ("reconnect", |config, _, value| {
        config.reconnect = Reconnect::from_value(value)?;
        Ok(())
    }),
    ("tls", |config, _, value| {
        config.tls = tls(value)?;
        Ok(())
    }),
    ("will", |config, _, value| {
        config.will = Some(will(value)?);
        Ok(())
    }),
    ("protocol", |config, path, value| {
        config.protocol = protocol(path, value)?;
        Ok(())
    }),
    ("session_expiry_interval", |config, path, value| {
        let rule = "must be a whole number of seconds between 0 and 4294967295 (never expires)";
        config.session_expiry_interval = Some(integer(path, value, 0..=u32::MAX, rule)?);
        Ok(())
    }),
    ("receive_maximum", |config, path, value| {
        let rule = "must be an integer between 1 and 65535 (messages)";
        config.receive_maximum = Some(integer(path, value, 1..=u16::MAX, rule)?);
        Ok(())
    }),
    ("topic_aliases", |config, path, value| {
        let rule = "must be an integer between 0 (none) and 65535 (topics)";
        config.topic_aliases = integer(path, value, 0..=u16::MAX, rule)?;
        Ok(())
    }),
];

impl Config {
    pub fn from_value(options: &Value) -> Result<Config, ConfigError> {
        let entries = entries(options).ok_or_else(|| ConfigError::NotOptions {
            got: describe(options),
        })?;
        let mut config = Config::default();
        // A reconnect option written at the top level is pointed into `reconnect`.
        let suggestions = paths("", OPTIONS).chain(paths("reconnect", RECONNECT_OPTIONS));
        read_group(&mut config, "", OPTIONS, entries, suggestions)?;
        let given = |name: &str| entries.iter().any(|(key, _)| key == name);
        if given("servers") && given("url") {
            return Err(ConfigError::Conflict {
                path: "url",
                rule: "cannot be given with option \"servers\": use one of them",
            });
        }
        if !config.servers.is_empty() && (given("host") || given("port")) {
            return Err(ConfigError::Conflict {
                path: if given("host") { "host" } else { "port" },
                rule: "cannot be given with option \"servers\" or \"url\", which name the servers",
            });
        }
        for server in &config.servers {
            if server.username.is_some() && config.username.is_some() {
                return Err(ConfigError::Conflict {
                    path: "username",
                    rule: "cannot be given with credentials in a server URL: use one or the other",
                });
            }
        }
        if config.password.is_some() && config.username.is_none() {
            return Err(ConfigError::Conflict {
                path: "password",
                rule: "requires option \"username\" (MQTT 3.1.1 does not allow a password without a user name)",
            });
        }
        let empty_id = config.client_id.as_deref() == Some("");
        if empty_id && config.protocol != Protocol::V5 {
            return Err(ConfigError::Invalid {
                path: "client_id".to_owned(),
                rule: format!(
                    "must not be empty with MQTT {} (leave it out or set it to null to get a generated one; with option \"protocol\" => \"5\" an empty one lets the broker assign one)",
                    config.protocol.as_str()
                ),
                got: "\"\"".to_owned(),
            });
        }
        if !config.clean_session && (config.client_id.is_none() || empty_id) {
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
        if config.protocol != Protocol::V5 {
            let will = config.will.as_ref();
            for (set, path) in [
                (
                    will.is_some_and(|w| w.delay_interval.is_some()),
                    "will.delay_interval",
                ),
                (
                    will.is_some_and(|w| w.properties.is_some()),
                    "will.properties",
                ),
            ] {
                if set {
                    return Err(ConfigError::Conflict {
                        path,
                        rule: "requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no will properties)",
                    });
                }
            }
        }
        let will_response = config
            .will
            .as_ref()
            .and_then(|w| w.properties.as_ref())
            .and_then(|p| p.response_topic.as_ref());
        if will_response.is_some_and(|topic| config.prefix.len() + topic.len() > MAX_STRING_BYTES) {
            return Err(ConfigError::Conflict {
                path: "will.properties",
                rule: "has a response_topic that is longer than 65535 bytes with the prefix",
            });
        }
        if config.receive_maximum.is_some() && config.protocol != Protocol::V5 {
            return Err(ConfigError::Conflict {
                path: "receive_maximum",
                rule: "requires option \"protocol\" => \"5\" (over MQTT 3.1.1 the broker's max_inflight_messages decides)",
            });
        }
        if config.topic_aliases > 0 && config.protocol != Protocol::V5 {
            return Err(ConfigError::Conflict {
                path: "topic_aliases",
                rule: "requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no topic aliases)",
            });
        }
        Ok(config)
    }
}

fn host(path: &str, value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::Str(host) if !host.is_empty() && !host.contains('\0') => Ok(host.clone()),
        _ => Err(invalid(
            path,
            text_rule(value, "must be a non-empty host name or IP address"),
            value,
        )),
    }
}

fn client_id(path: &str, value: &Value) -> Result<Option<String>, ConfigError> {
    let id = match value {
        Value::Null => return Ok(None),
        Value::Str(id) => id,
        _ => {
            return Err(invalid(
                path,
                text_rule(value, "must be a string or null"),
                value,
            ))
        }
    };
    // Empty: the broker assigns one (MQTT 5 with a clean session, checked with the other options).
    let rule = if id.starts_with(' ') {
        // Older rumqttc releases panic on it (0.25 no longer does); keep it out for good.
        "must not start with a space"
    } else if id.contains('\0') {
        "must not contain NUL bytes"
    } else if id.len() > MAX_STRING_BYTES {
        "must be at most 65535 bytes long"
    } else {
        return Ok(Some(id.clone()));
    };
    Err(invalid(path, rule, value))
}

/// A UTF-8 string in MQTT, where NUL is forbidden. Described like the password,
/// by type and length only.
fn username(path: &str, value: &Value) -> Result<Option<String>, ConfigError> {
    let rule = match value {
        Value::Null => return Ok(None),
        Value::Str(name) if name.len() > MAX_STRING_BYTES => "must be at most 65535 bytes long",
        Value::Str(name) if name.contains('\0') => "must not contain NUL bytes",
        Value::Str(name) => return Ok(Some(name.clone())),
        Value::Bytes(_) => "must be valid UTF-8",
        _ => "must be a string or null",
    };
    Err(invalid_secret(path, rule, value))
}

/// Binary data in MQTT: any bytes, text or not. Described by type and length
/// only, never by content.
fn password(path: &str, value: &Value) -> Result<Option<Vec<u8>>, ConfigError> {
    if matches!(value, Value::Null) {
        return Ok(None);
    }
    let rule = match binary(value) {
        Some(password) if password.len() > MAX_STRING_BYTES => "must be at most 65535 bytes long",
        Some(password) => return Ok(Some(password.to_vec())),
        None => "must be a string or null",
    };
    Err(invalid_secret(path, rule, value))
}

fn invalid_secret(path: &str, rule: &str, value: &Value) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        rule: rule.to_owned(),
        got: describe_secret(value),
    }
}

fn prefix(path: &str, value: &Value) -> Result<String, ConfigError> {
    let Value::Str(prefix) = value else {
        return Err(invalid(path, text_rule(value, "must be a string"), value));
    };
    if prefix.contains(['+', '#']) {
        Err(invalid(
            path,
            "must not contain wildcards '+' or '#'",
            value,
        ))
    } else if prefix.contains('\0') {
        Err(invalid(path, "must not contain NUL bytes", value))
    } else {
        Ok(prefix.clone())
    }
}

fn protocol(path: &str, value: &Value) -> Result<Protocol, ConfigError> {
    match value {
        Value::Str(version) if version == "3.1.1" => Ok(Protocol::V311),
        Value::Str(version) if version == "5" || version == "5.0" => Ok(Protocol::V5),
        Value::Int(5) => Ok(Protocol::V5),
        _ => Err(invalid(path, "must be \"3.1.1\" or \"5\"", value)),
    }
}

const RECONNECT_OPTIONS: &[(&str, Reader<Reconnect>)] = &[
    ("initial_delay", |reconnect, path, value| {
        reconnect.initial_delay = positive_seconds(path, value)?;
        Ok(())
    }),
    ("max_delay", |reconnect, path, value| {
        reconnect.max_delay = positive_seconds(path, value)?;
        Ok(())
    }),
    ("max_retries", |reconnect, path, value| {
        let rule = "must be an integer between 0 and 4294967295 (0 retries forever)";
        reconnect.max_retries = integer(path, value, 0..=u32::MAX, rule)?;
        Ok(())
    }),
];

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
        let suggestions = paths("reconnect", RECONNECT_OPTIONS);
        read_group(
            &mut reconnect,
            "reconnect",
            RECONNECT_OPTIONS,
            entries,
            suggestions,
        )?;
        if reconnect.max_delay < reconnect.initial_delay {
            // Blame the option the user actually wrote: a large initial_delay
            // alone collides with the default max_delay.
            let max_delay_given = entries.iter().any(|(key, _)| key == "max_delay");
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

impl Default for SubscriberConfig {
    fn default() -> Self {
        SubscriberConfig { max_inbox: 1000 }
    }
}

const SUBSCRIBER_OPTIONS: &[(&str, Reader<SubscriberConfig>)] =
    &[("max_inbox", |config, path, value| {
        let rule = "must be an integer between 1 and 1000000";
        config.max_inbox = integer(path, value, 1..=1_000_000, rule)?;
        Ok(())
    })];

impl SubscriberConfig {
    pub fn from_value(options: &Value) -> Result<SubscriberConfig, ConfigError> {
        let entries = entries(options).ok_or_else(|| ConfigError::NotOptions {
            got: describe(options),
        })?;
        let mut config = SubscriberConfig::default();
        let suggestions = paths("", SUBSCRIBER_OPTIONS);
        read_group(&mut config, "", SUBSCRIBER_OPTIONS, entries, suggestions)?;
        Ok(config)
    }
}

const TLS_OPTIONS: &[(&str, Reader<Tls>)] = &[
    ("ca_file", |tls, path, value| {
        tls.ca_file = Some(readable_file_or_directory(path, value)?);
        Ok(())
    }),
    ("cert_file", |tls, path, value| {
        tls.cert_file = Some(readable_file(path, value)?);
        Ok(())
    }),
    ("key_file", |tls, path, value| {
        tls.key_file = Some(readable_file(path, value)?);
        Ok(())
    }),
    ("verify_peer", |tls, path, value| {
        tls.verify_peer = boolean(path, value)?;
        Ok(())
    }),
    ("allow_self_signed", |tls, path, value| {
        tls.allow_self_signed = boolean(path, value)?;
        Ok(())
    }),
    ("verify_hostname", |tls, path, value| {
        tls.verify_hostname = boolean(path, value)?;
        Ok(())
    }),
    ("server_name", |tls, path, value| match value {
        Value::Str(name) if !name.is_empty() => {
            tls.server_name = Some(name.clone());
            Ok(())
        }
        _ => Err(invalid(
            path,
            text_rule(value, "must be a non-empty host name"),
            value,
        )),
    }),
    ("alpn", |tls, path, value| {
        tls.alpn = alpn(path, value)?;
        Ok(())
    }),
];

/// `true` (or a boolean string from env()) for the defaults, or a map.
fn tls(value: &Value) -> Result<Option<Tls>, ConfigError> {
    let Value::Map(entries) = value else {
        let enabled = boolean("tls", value).map_err(|_| {
            invalid(
                "tls",
                "must be true, false or an array of TLS options",
                value,
            )
        })?;
        return Ok(enabled.then(Tls::default));
    };
    let mut tls = Tls::default();
    let suggestions = paths("tls", TLS_OPTIONS);
    read_group(&mut tls, "tls", TLS_OPTIONS, entries, suggestions)?;
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

const WILL_OPTIONS: &[(&str, Reader<Will>)] = &[
    ("topic", |will, path, value| match value {
        Value::Str(topic) if validate_topic(topic).is_ok() => {
            will.topic = topic.clone();
            Ok(())
        }
        _ => Err(invalid(
            path,
            text_rule(value, "must be a topic without wildcards"),
            value,
        )),
    }),
    ("payload", |will, path, value| {
        will.payload = will_payload(path, value)?;
        Ok(())
    }),
    ("qos", |will, path, value| {
        will.qos = integer(path, value, 0..=2, "must be 0, 1 or 2")?;
        Ok(())
    }),
    ("retain", |will, path, value| {
        will.retain = boolean(path, value)?;
        Ok(())
    }),
    ("delay_interval", |will, path, value| {
        let rule = "must be a whole number of seconds between 0 and 4294967295";
        will.delay_interval = Some(integer(path, value, 0..=u32::MAX, rule)?);
        Ok(())
    }),
    ("properties", |will, path, value| {
        will.properties = Properties::from_value(value, "").map_err(|error| match error {
            Error::InvalidArgument { problem, .. } => ConfigError::Unusable {
                path: path.to_owned(),
                problem,
            },
            other => ConfigError::Unusable {
                path: path.to_owned(),
                problem: other.to_string(),
            },
        })?;
        Ok(())
    }),
];

fn will(value: &Value) -> Result<Will, ConfigError> {
    let entries = entries(value)
        .ok_or_else(|| invalid("will", "must be an array with a topic and a payload", value))?;
    let mut will = Will {
        topic: String::new(),
        payload: Vec::new(),
        qos: 0,
        retain: false,
        delay_interval: None,
        properties: None,
    };
    read_group(
        &mut will,
        "will",
        WILL_OPTIONS,
        entries,
        paths("will", WILL_OPTIONS),
    )?;
    if !entries.iter().any(|(key, _)| key == "topic") {
        return Err(ConfigError::Conflict {
            path: "will.topic",
            rule: "is required: the topic the broker publishes the will to",
        });
    }
    Ok(will)
}

/// MQTT binary data, so any bytes, with a two-byte length: rumqttc would write
/// a longer payload with its length cut short, and the broker would refuse
/// every attempt to connect.
fn will_payload(path: &str, value: &Value) -> Result<Vec<u8>, ConfigError> {
    match binary(value) {
        Some(payload) if payload.len() > MAX_STRING_BYTES => {
            Err(invalid(path, "must be at most 65535 bytes long", value))
        }
        Some(payload) => Ok(payload.to_vec()),
        None => Err(invalid(path, "must be a string", value)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn str(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    pub(crate) fn map(pairs: &[(&str, Value)]) -> Value {
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
    fn servers_replace_host_and_port_and_name_their_tls() {
        let config = parse(&[
            (
                "servers",
                Value::List(vec![
                    str("a:1884"),
                    str("mqtts://b"),
                    str("mqtt://u:p@c:1999"),
                ]),
            ),
            ("server_order", str("random")),
        ])
        .unwrap();
        let labels: Vec<String> = config.servers().iter().map(Server::label).collect();
        assert_eq!(labels, ["a:1884", "b:8883", "c:1999"]);
        assert_eq!(config.server_order, ServerOrder::Random);
        assert_eq!(
            config.tls_settings(),
            Some(Tls::default()),
            "mqtts:// asks for TLS"
        );
        assert!(
            !config.uses_tls(&config.servers[0]),
            "host:port follows the tls option"
        );
        assert!(config.uses_tls(&config.servers[1]));
        let one = parse(&[("url", str("mqtt://x:1")), ("tls", Value::Bool(true))]).unwrap();
        assert_eq!(one.servers()[0].label(), "x:1");
        assert!(
            !one.uses_tls(&one.servers[0]),
            "mqtt:// is plain, whatever tls says"
        );
        assert_eq!(Config::default().servers()[0].label(), "127.0.0.1:1883");

        for (pairs, expected) in [
            (
                vec![("servers", Value::List(vec![str("a")])), ("url", str("b"))],
                "option \"url\" cannot be given with option \"servers\"",
            ),
            (
                vec![("servers", Value::List(vec![str("a")])), ("host", str("b"))],
                "option \"host\" cannot be given with option \"servers\" or \"url\"",
            ),
            (
                vec![("url", str("a")), ("port", Value::Int(1))],
                "option \"port\" cannot be given",
            ),
            (
                vec![("url", str("mqtt://u:p@a")), ("username", str("v"))],
                "option \"username\" cannot be given with credentials in a server URL",
            ),
            (
                vec![("server_order", str("shuffled"))],
                "option \"server_order\" must be \"in_order\" or \"random\"",
            ),
            (
                vec![("servers", Value::List(vec![str("a"), str("http://b")]))],
                "option \"servers.1\" has an unknown scheme",
            ),
        ] {
            let error = parse(&pairs).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{error}");
        }
    }

    #[test]
    fn topic_aliases_are_mqtt_5_and_off_by_default() {
        assert_eq!(
            error(&[("topic_aliases", Value::Int(10))]),
            "option \"topic_aliases\" requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no topic aliases)"
        );
        assert_eq!(
            parse(&[("topic_aliases", Value::Int(0))])
                .unwrap()
                .topic_aliases,
            0
        );
        let v5 = |value: Value| parse(&[("protocol", str("5")), ("topic_aliases", value)]);
        assert_eq!(v5(Value::Int(65_535)).unwrap().topic_aliases, 65_535);
        for bad in [Value::Int(-1), Value::Int(65_536), str("some")] {
            assert!(v5(bad).unwrap_err().to_string().starts_with(
                "option \"topic_aliases\" must be an integer between 0 (none) and 65535 (topics)"
            ));
        }
    }

    #[test]
    fn receive_maximum_is_mqtt_5_and_says_the_most_by_default() {
        assert_eq!(
            error(&[("receive_maximum", Value::Int(100))]),
            "option \"receive_maximum\" requires option \"protocol\" => \"5\" (over MQTT 3.1.1 the broker's max_inflight_messages decides)"
        );
        let v5 = |pairs: &[(&str, Value)]| {
            let mut all = vec![("protocol", str("5"))];
            all.extend_from_slice(pairs);
            parse(&all)
        };
        assert_eq!(v5(&[]).unwrap().receive_maximum(), 65_535);
        assert_eq!(
            v5(&[("receive_maximum", Value::Int(10))])
                .unwrap()
                .receive_maximum(),
            10
        );
        for bad in [Value::Int(0), Value::Int(65_536), str("many")] {
            assert!(v5(&[("receive_maximum", bad)])
                .unwrap_err()
                .to_string()
                .starts_with(
                    "option \"receive_maximum\" must be an integer between 1 and 65535 (messages)"
                ));
        }
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
    fn will_delay_and_properties_are_mqtt_5_only() {
        let will = || {
            map(&[
                ("topic", str("gone")),
                ("delay_interval", Value::Int(30)),
                ("properties", map(&[("content_type", str("text/plain"))])),
            ])
        };
        let config = Config::from_value(&map(&[("protocol", str("5")), ("will", will())])).unwrap();
        let parsed = config.will.unwrap();
        assert_eq!(parsed.delay_interval, Some(30));
        assert_eq!(
            parsed.properties.unwrap().content_type.as_deref(),
            Some("text/plain")
        );
        assert_eq!(
            error(&[("will", will())]),
            "option \"will.delay_interval\" requires option \"protocol\" => \"5\" (MQTT 3.1.1 has no will properties)"
        );
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
    fn will_payload_must_fit_in_mqtt_binary_data() {
        let will = |payload: Value| map(&[("topic", str("gone")), ("payload", payload)]);
        assert_eq!(
            error(&[("will", will(Value::Str("x".repeat(70_000))))]),
            "option \"will.payload\" must be at most 65535 bytes long, got a string of 70000 bytes"
        );
        assert_eq!(
            error(&[("will", will(Value::Bytes(vec![0xff; 65_536])))]),
            "option \"will.payload\" must be at most 65535 bytes long, got a binary string of 65536 bytes"
        );
        let longest = parse(&[("will", will(Value::Bytes(vec![0xff; 65_535])))]).unwrap();
        assert_eq!(longest.will.unwrap().payload.len(), 65_535);
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
            ("receive_maximum", Value::Int(500)),
            ("topic_aliases", Value::Int(8)),
        ])
        .unwrap();
        assert_eq!(
            config,
            Config {
                host: "broker.local".to_owned(),
                port: 8883,
                client_id: Some("worker-1".to_owned()),
                username: Some("app".to_owned()),
                password: Some(b"s3cret".to_vec()),
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
                    delay_interval: None,
                    properties: None,
                }),
                protocol: Protocol::V5,
                session_expiry_interval: Some(600),
                receive_maximum: Some(500),
                topic_aliases: 8,
                servers: Vec::new(),
                server_order: ServerOrder::InOrder,
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
    fn unknown_key_near_an_option_gets_it_suggested() {
        assert_eq!(
            error(&[("server", str("x"))]),
            "unknown option \"server\" (did you mean \"servers\"?)"
        );
    }

    #[test]
    fn unknown_key_far_from_every_option_gets_no_suggestion() {
        assert_eq!(error(&[("colour", str("x"))]), "unknown option \"colour\"");
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
            error(&[("max_packet_size", Value::Int(127))]),
            "option \"max_packet_size\" must be an integer between 128 and 268435455 (bytes), got 127"
        );
        assert_eq!(
            parse(&[("max_packet_size", Value::Int(128))])
                .unwrap()
                .max_packet_size,
            128
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
                "option \"max_packet_size\" must be an integer between 128 and 268435455 (bytes), got \"8MB\"",
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
            "option \"client_id\" must not be empty with MQTT 3.1.1 (leave it out or set it to null to get a generated one; with option \"protocol\" => \"5\" an empty one lets the broker assign one), got \"\""
        );
        assert_eq!(
            error(&[("protocol", str("5")), ("client_id", str("")), ("clean_session", Value::Bool(false))]),
            "option \"clean_session\" set to false requires option \"client_id\" (a persistent session needs a stable client id)"
        );
        let assigned = Config::from_value(&Value::Map(vec![
            ("protocol".to_owned(), str("5")),
            ("client_id".to_owned(), str("")),
        ]))
        .unwrap();
        assert_eq!(assigned.client_id.as_deref(), Some(""));
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
        assert_eq!(config.password, Some(Vec::new()));
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
        assert_eq!(config.password, Some(b"a\0b".to_vec()));
        let binary = Value::Bytes(b"\xff\xfe\x00x".to_vec());
        let config = parse(&[("username", str("app")), ("password", binary)]).unwrap();
        assert_eq!(config.password, Some(b"\xff\xfe\x00x".to_vec()));
    }

    #[test]
    fn binary_password_never_appears_in_errors_or_debug_output() {
        let secret = b"hunter2\xff".to_vec();
        let too_long = Value::Bytes([secret.clone(), vec![0xff; 65_535]].concat());
        assert_eq!(
            error(&[("username", str("app")), ("password", too_long)]),
            "option \"password\" must be at most 65535 bytes long, got a binary string of 65543 bytes"
        );
        let config =
            parse(&[("username", str("app")), ("password", Value::Bytes(secret))]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password: Some(\"<redacted>\")"), "{debug}");
    }

    #[test]
    fn username_must_be_utf8() {
        assert_eq!(
            error(&[("username", Value::Bytes(b"ad\xffmin".to_vec()))]),
            "option \"username\" must be valid UTF-8, got a binary string of 6 bytes"
        );
    }

    #[test]
    fn text_options_given_binary_strings_say_mqtt_strings_are_utf8() {
        let binary = Value::Bytes(b"a\xff".to_vec());
        let will = map(&[("topic", binary.clone())]);
        let tls = map(&[("server_name", binary.clone())]);
        for (option, value) in [
            ("host", binary.clone()),
            ("client_id", binary.clone()),
            ("prefix", binary.clone()),
            ("will", will),
            ("tls", tls),
        ] {
            let message = error(&[(option, value)]);
            assert!(
                message.contains("must be valid UTF-8 (MQTT strings are UTF-8 text)"),
                "{message}"
            );
        }
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
