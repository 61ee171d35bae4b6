//! Everything that can go wrong in the core, with its causes typed. The
//! binding maps each variant to one PHP exception class and each `Argument`
//! to its place in the PHP signature (`src/php/errors.rs`).

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use super::config::ConfigError;
use super::protocol::Reason;
use super::topic::TopicError;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A bad argument of a single call: PHP's `ValueError`.
    #[error("{argument} {problem}")]
    InvalidArgument { argument: Argument, problem: String },
    #[error("the outbox of connection \"{connection}\" is full ({capacity} messages are waiting; raise max_queue or flush)")]
    QueueFull { connection: String, capacity: usize },
    #[error(transparent)]
    Timeout(#[from] Timeout),
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The broker said no.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
}

impl Error {
    pub fn invalid(argument: Argument, problem: impl Into<String>) -> Self {
        Error::InvalidArgument {
            argument,
            problem: problem.into(),
        }
    }

    pub fn invalid_topic(argument: Argument, problem: TopicError) -> Self {
        Error::invalid(argument, problem.to_string())
    }
}

/// An argument of a core call, by what it is. Its position differs from one
/// PHP method to the next: only the binding knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Argument {
    Topic,
    Payload,
    Properties,
    Filter,
    Pattern,
    /// A subscription's MQTT 5 options.
    Options,
}

impl Argument {
    /// The parameter's name in PHP.
    pub fn name(self) -> &'static str {
        match self {
            Argument::Topic => "topic",
            Argument::Payload => "payload",
            Argument::Properties => "properties",
            Argument::Filter => "filter",
            Argument::Pattern => "pattern",
            Argument::Options => "options",
        }
    }
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.name())
    }
}

/// A call that waited for the broker longer than it was allowed to.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Timeout {
    #[error("the broker did not acknowledge the publish to \"{topic}\" within {:.3} s on connection \"{connection}\"; it stays queued ({state})", waited.as_secs_f64())]
    Publish {
        connection: String,
        topic: String,
        waited: Duration,
        /// The connection's state and last error, when it matters.
        state: String,
    },
    #[error("the broker of connection \"{connection}\" did not confirm the subscription to \"{filter}\" in time; it stays and is retried after a reconnect")]
    Subscribe { connection: String, filter: String },
    #[error("no reply to the request on \"{topic}\" arrived within {:.3} s on connection \"{connection}\" ({state}); a later reply is dropped", waited.as_secs_f64())]
    Request {
        connection: String,
        topic: String,
        waited: Duration,
        /// The connection's state and last error, when it matters.
        state: String,
    },
}

/// The connection cannot do what was asked, now or for good.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConnectionError {
    #[error("connection \"{connection}\" is closed")]
    Closed { connection: String },
    #[error("connection \"{connection}\" to {server} failed for good after {attempts} attempts: {last_error}")]
    Failed {
        connection: String,
        server: String,
        attempts: u64,
        last_error: String,
    },
    /// The broker or the TLS handshake refused the last attempt; retrying goes on.
    #[error("connection \"{connection}\" to {server} cannot be established: {reason}; the message stays queued and is sent once it can")]
    Unavailable {
        connection: String,
        server: String,
        reason: String,
    },
    /// A bug: the connection's task panicked. The next client of that name starts afresh.
    #[error("connection \"{connection}\" stopped: its task failed ({message}); create a new Mqtt\\Client to reconnect")]
    Crashed { connection: String, message: String },
    #[error("cannot start the background runtime: {0}")]
    Runtime(String),
}

/// The broker refused a publish or a subscription.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Refusal {
    #[error(
        "the broker of connection \"{connection}\" refused the publish to \"{topic}\": {reason}"
    )]
    Publish {
        connection: String,
        topic: String,
        reason: Reason,
    },
    #[error("the broker of connection \"{connection}\" refused the subscription to \"{filter}\": {reason}")]
    Subscription {
        connection: String,
        filter: String,
        reason: Reason,
    },
    #[error("the broker of connection \"{connection}\" takes packets of at most {limit} bytes: the publish to \"{topic}\" is larger")]
    TooLarge {
        connection: String,
        topic: String,
        limit: usize,
    },
    /// MQTT 3.1.1 has no way to refuse a publish but to close the connection.
    #[error("the broker of connection \"{connection}\" closed the connection {times} times right after the publish to \"{topic}\"; it was given up (the broker's message size limit, or an ACL, may refuse it)")]
    Disconnected {
        connection: String,
        topic: String,
        times: u32,
    },
}

/// A call this connection or message cannot make, whatever the broker says.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Unsupported {
    #[error("{call} needs MQTT 5: connection \"{connection}\" speaks MQTT {version}; create it with option \"protocol\" => \"5\"")]
    NeedsMqtt5 {
        call: &'static str,
        connection: String,
        version: &'static str,
    },
    #[error(
        "the message on \"{topic}\" is not a request: it carries no response topic to reply to"
    )]
    NotARequest { topic: String },
}
