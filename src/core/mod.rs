//! The pure Rust core: no PHP type anywhere, unit-tested with `cargo test`.

pub mod backoff;
pub mod config;
pub mod connection;
pub mod error;
pub mod inbox;
pub mod outbox;
pub mod properties;
pub mod protocol;
pub mod registry;
pub mod runtime;
pub mod subscriber;
pub mod subscriptions;
pub mod tls;
pub mod topic;
