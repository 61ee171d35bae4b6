//! The binding layer: the only code that sees PHP values and classes.

mod arguments;
#[cfg(feature = "broker")]
pub mod broker;
pub mod client;
pub mod event;
pub mod exceptions;
pub mod ini;
pub mod message;
pub mod mosquitto;
mod options;
pub mod subscriber;
