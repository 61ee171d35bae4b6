//! The exception classes, and the one place where core errors become them.
//!
//! They are plain PHP classes without a Rust object behind them, so they
//! construct, serialize and behave exactly like `\RuntimeException`.

use ext_php_rs::args::ArgInfoTables;
use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::{ce, ClassEntry};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use mqtt_broadcast_core::error::Error;

#[derive(Clone, Copy)]
enum Class {
    /// Base of every exception the extension throws, except `\ValueError` for bad arguments.
    Mqtt,
    /// An option is unknown, has the wrong type or is out of range.
    Config,
    /// The connection failed for good, or was closed.
    Connection,
    /// The broker did not acknowledge in time.
    Timeout,
    /// The outbox already holds `max_queue` messages.
    QueueFull,
}

const NAMES: [&str; 5] = [
    "Mqtt\\MqttException",
    "Mqtt\\ConfigException",
    "Mqtt\\ConnectionException",
    "Mqtt\\TimeoutException",
    "Mqtt\\QueueFullException",
];

/// Set once in module startup, read-only afterwards.
static ENTRIES: [AtomicPtr<ClassEntry>; 5] = [const { AtomicPtr::new(ptr::null_mut()) }; 5];

fn entry(class: Class) -> &'static ClassEntry {
    let entry = ENTRIES[class as usize].load(Ordering::Acquire);
    // SAFETY: registered class entries live as long as the process.
    unsafe { entry.as_ref() }.unwrap_or_else(ce::exception)
}

extern "C" {
    /// SPL's `\RuntimeException`, exported by PHP itself. The class table
    /// cannot be searched by name yet during module startup.
    static spl_ce_RuntimeException: *mut ClassEntry;
}

fn runtime_exception() -> &'static ClassEntry {
    // SAFETY: SPL is built into PHP and registers its classes before any
    // extension loaded with `extension=` starts.
    unsafe { spl_ce_RuntimeException.as_ref() }.unwrap_or_else(ce::exception)
}

fn mqtt_exception() -> &'static ClassEntry {
    entry(Class::Mqtt)
}

fn store<const I: usize>(class: &'static mut ClassEntry, _: ArgInfoTables) {
    ENTRIES[I].store(class, Ordering::Release);
}

/// Registers the classes; runs in module startup.
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new(NAMES[0])
        .extends((runtime_exception, "\\RuntimeException"))
        .registration(store::<0>)
        .register()?;
    let children: [fn(&'static mut ClassEntry, ArgInfoTables); 4] =
        [store::<1>, store::<2>, store::<3>, store::<4>];
    for (name, store) in NAMES[1..].iter().zip(children) {
        ClassBuilder::new(*name)
            .extends((mqtt_exception, "\\Mqtt\\MqttException"))
            .registration(store)
            .register()?;
    }
    Ok(())
}

pub const CLIENT_CONSTRUCT: Signature = Signature(&["options", "name"]);
pub const PUBLISH: Signature = Signature(&["topic", "payload", "qos", "retain", "properties"]);
pub const PUBLISH_SYNC: Signature =
    Signature(&["topic", "payload", "qos", "retain", "timeout", "properties"]);
pub const REQUEST: Signature = Signature(&["topic", "payload", "timeout", "properties"]);
pub const REPLY: Signature = Signature(&["payload", "properties"]);
pub const FLUSH: Signature = Signature(&["timeout"]);
pub const CLOSE: Signature = Signature(&["options"]);
pub const WAIT_CONNECTED: Signature = Signature(&["timeout"]);
pub const NO_ARGUMENTS: Signature = Signature(&[]);
pub const SUBSCRIBER_CONSTRUCT: Signature = Signature(&["clients", "options"]);
pub const SUBSCRIBE: Signature = Signature(&["filter", "qos", "timeout", "options"]);
pub const ROUTE: Signature = Signature(&["pattern", "handler", "qos", "options"]);
pub const UNSUBSCRIBE: Signature = Signature(&["filter"]);
pub const NEXT: Signature = Signature(&["timeout"]);
pub const LOOP: Signature = Signature(&["handler", "timeout", "limit"]);

/// A PHP method's parameters in order: where each argument sits, so that a
/// message names it as PHP does (`argument #3 ($qos)`). The only place that
/// knows positions; the core names arguments by what they are.
pub struct Signature(pub &'static [&'static str]);

impl Signature {
    fn label(&self, parameter: &str) -> String {
        match self.0.iter().position(|p| *p == parameter) {
            Some(index) => format!("argument #{} (${parameter})", index + 1),
            None => format!("argument (${parameter})"),
        }
    }

    /// `\ValueError` for `parameter` of this method.
    pub fn invalid(&self, parameter: &str, problem: impl std::fmt::Display) -> PhpException {
        exception(
            format!("{} {problem}", self.label(parameter)),
            ce::value_error(),
        )
    }

    /// The exception a core error becomes in a call of this method.
    pub fn error(&self, error: Error) -> PhpException {
        let class = match error {
            Error::InvalidArgument { argument, problem } => {
                return self.invalid(argument.name(), problem)
            }
            Error::Config(_) => Class::Config,
            Error::QueueFull { .. } => Class::QueueFull,
            Error::Timeout(_) => Class::Timeout,
            Error::Connection(_) => Class::Connection,
            Error::Refused(_) | Error::Unsupported(_) => Class::Mqtt,
        };
        exception(error.to_string(), entry(class))
    }
}

/// PHP cannot throw a message with a NUL byte in it: a name or key the
/// application passed may hold one, so it is written as `\0`.
fn exception(message: String, class: &'static ClassEntry) -> PhpException {
    PhpException::new(message.replace('\0', "\\0"), 0, class)
}

/// `Mqtt\ConnectionException` with a message of the binding's own.
pub fn connection_error(message: impl Into<String>) -> PhpException {
    exception(message.into(), entry(Class::Connection))
}

/// `Mqtt\MqttException` with a message of the binding's own.
#[cfg(feature = "broker")]
pub fn mqtt_error(message: impl Into<String>) -> PhpException {
    exception(message.into(), mqtt_exception())
}

/// Core results in a PHP method: `.or_throw(&PUBLISH)?`.
pub trait OrThrow<T> {
    fn or_throw(self, signature: &Signature) -> Result<T, PhpException>;
}

impl<T> OrThrow<T> for Result<T, Error> {
    fn or_throw(self, signature: &Signature) -> Result<T, PhpException> {
        self.map_err(|error| signature.error(error))
    }
}
