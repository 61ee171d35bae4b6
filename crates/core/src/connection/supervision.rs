//! A panic in a connection's task is a bug. It must not leave behind a
//! connection that says "connected" and swallows publishes until its queue
//! is full: the connection is marked failed with the panic's message, the
//! calls waiting on it fail at once, and the next client of that name
//! starts a fresh connection that takes over what was not acknowledged.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::*;

/// The connection's task, watched.
pub(super) struct Supervised<F> {
    connection: Arc<Connection>,
    task: Pin<Box<F>>,
    ended: bool,
}

impl<F: Future<Output = ()>> Supervised<F> {
    pub(super) fn new(connection: Arc<Connection>, task: F) -> Self {
        Supervised {
            connection,
            task: Box::pin(task),
            ended: false,
        }
    }
}

impl<F: Future<Output = ()>> Future for Supervised<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let polled = catch_unwind(AssertUnwindSafe(|| self.task.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                self.ended = true;
                Poll::Ready(())
            }
            Err(panic) => {
                self.ended = true;
                self.connection.crashed(panic_message(panic.as_ref()));
                Poll::Ready(())
            }
        }
    }
}

impl<F> Drop for Supervised<F> {
    /// Dropped before it ended: the runtime that ran it is gone.
    fn drop(&mut self) {
        if !self.ended {
            self.connection
                .crashed("the background runtime stopped".to_owned());
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

impl Connection {
    /// Fails the connection for good; `registry::connect` replaces it.
    pub(super) fn crashed(&self, message: String) {
        let mut link = self.link.lock();
        link.last_error = Some(format!("the connection's task failed: {message}"));
        link.crash = Some(message);
        link.state = ConnectionState::Failed;
        link.connected_since = None;
        link.task_done = true;
        let error = self.failed_error(&link);
        link.outbox.fail_receipts(&error);
        self.changed.notify_all();
    }
}
