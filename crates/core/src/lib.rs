//! mqtt-broadcast-core: the connections, in pure Rust. No PHP type anywhere;
//! `cargo test -p mqtt-broadcast-core` needs no PHP toolchain.

pub mod backoff;
pub mod close;
pub mod config;
pub mod connection;
pub mod deadline;
pub mod error;
pub mod events;
pub mod inbox;
pub mod metrics;
pub mod number;
pub mod outbox;
pub mod properties;
pub mod protocol;
pub mod registry;
pub mod request;
pub mod routes;
pub mod runtime;
pub mod subscriber;
pub mod subscriptions;
pub mod tls;
pub mod topic;

/// QoS 0, 1 or 2: the core's calls take it typed.
pub use rumqttc::QoS;
