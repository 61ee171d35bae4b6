//! mqtt-broadcast-broker: the built-in MQTT broker, on rmqtt.
//!
//! `BrokerConfig` reads and checks the options; `Broker` starts rmqtt on a
//! tokio runtime of its own, reports its status and stops it gracefully.
//! Passwords (plain or mosquitto_passwd), the ACL, the message counters and
//! the log are rmqtt hooks of ours; sessions, retained messages and `$share` groups
//! are rmqtt's plugins. No thread or socket exists before `Broker::start`.

mod acl;
mod certificates;
pub mod config;
mod hooks;
mod log;
mod passwords;
mod server;
mod signals;

pub use config::{BrokerConfig, ConfigError, Value};
pub use server::{Broker, BrokerError, ListenerInfo, RunError, Status, WAKE_INTERVAL};
