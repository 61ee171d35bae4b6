use thiserror::Error;

use super::config::ConfigError;
use super::topic::TopicError;

/// Everything that can go wrong in the core. The binding layer maps each
/// variant to one PHP exception class (see `php/exceptions.rs`).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A bad argument of a single call: PHP's `ValueError`.
    #[error("{argument} {problem}")]
    InvalidArgument {
        argument: &'static str,
        problem: String,
    },
    #[error("the outbox of connection \"{name}\" is full ({capacity} messages are waiting; raise max_queue or flush)")]
    QueueFull { name: String, capacity: usize },
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Connection(String),
    /// The broker said no (a refused subscription).
    #[error("{0}")]
    Refused(String),
}

impl Error {
    pub fn invalid_topic(argument: &'static str, problem: TopicError) -> Self {
        Error::InvalidArgument {
            argument,
            problem: problem.to_string(),
        }
    }
}
