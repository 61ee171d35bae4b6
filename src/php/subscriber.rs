//! `Mqtt\Subscriber`: a blocking receive loop across one or more connections.

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendClassObject, ZendHashTable};
use ext_php_rs::zend::ExecutorGlobals;

use crate::core::config::SubscriberConfig;
use crate::core::error::Error;
use crate::core::inbox::Acknowledgement;
use crate::core::runtime::current_pid;
use crate::core::subscriber;

use super::client::{seconds, Client};
use super::message::Message;
use super::options;

/// Set in PHP's executor flags once the request or script is shutting down.
const EG_FLAGS_IN_SHUTDOWN: u8 = 1 << 0;

/// PHP's async signal handlers (pcntl) run at least this often while waiting.
const WAKE_INTERVAL: Duration = Duration::from_millis(100);

/// Receives the messages of its subscriptions from one or more connections.
#[php_class]
#[php(name = "Mqtt\\Subscriber")]
#[php(flags = ClassFlags::Final)]
pub struct Subscriber {
    core: ManuallyDrop<subscriber::Subscriber>,
    pid: u32,
    /// The message last returned by next(): acknowledged when PHP asks for the next one.
    handed: RefCell<Acknowledgement>,
    stopped: Cell<bool>,
}

#[php_impl]
impl Subscriber {
    /// Subscribes through every client given; messages of all of them arrive here.
    #[php(optional = options)]
    pub fn __construct(
        clients: &ZendHashTable,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<Self> {
        if clients.is_empty() {
            return Err(invalid("argument #1 ($clients)", "must not be empty".into()).into());
        }
        let mut connections = Vec::new();
        for (position, (_, value)) in clients.iter().enumerate() {
            let Some(client) = value.extract::<&Client>() else {
                let problem = format!(
                    "must be a list of Mqtt\\Client, element {position} is {:?}",
                    value.get_type()
                );
                return Err(invalid("argument #1 ($clients)", problem).into());
            };
            connections.push(client.live_connection()?);
        }
        let value = options.map_or(
            crate::core::config::Value::Map(Vec::new()),
            options::from_array,
        );
        let config = SubscriberConfig::from_value(&value).map_err(Error::from)?;
        Ok(Subscriber {
            core: ManuallyDrop::new(subscriber::Subscriber::new(connections, &config)),
            pid: current_pid(),
            handed: RefCell::new(Acknowledgement::default()),
            stopped: Cell::new(false),
        })
    }

    /// Subscribes to a filter (wildcards and $share/{group}/ allowed) and waits for the brokers to confirm.
    #[php(optional = qos)]
    pub fn subscribe(&self, filter: &str, qos: Option<i64>, timeout: Option<f64>) -> PhpResult<()> {
        let core = self.core()?;
        let timeout = seconds("argument #3 ($timeout)", timeout, core.default_timeout())?;
        Ok(core.subscribe(filter, qos.unwrap_or(0), timeout)?)
    }

    /// Ends a subscription made by subscribe().
    pub fn unsubscribe(&self, filter: &str) -> PhpResult<()> {
        Ok(self.core()?.unsubscribe(filter)?)
    }

    /// The next message, or null after the timeout (null: wait until one arrives or stop() is called).
    #[php(optional = timeout)]
    pub fn next(&self, timeout: Option<f64>) -> PhpResult<Option<Message>> {
        let core = self.core()?;
        let deadline = deadline(timeout)?;
        self.handed.take().send();
        let Some(mut delivery) = self.wait(core, deadline)? else {
            return Ok(None);
        };
        self.handed.replace(delivery.take_acknowledgement());
        Ok(Some(Message::from(delivery)))
    }

    /// Calls the handler for every message until stop(), the timeout or the limit; returns how many it handled.
    #[php(name = "loop")]
    #[php(optional = timeout)]
    pub fn run(
        &self,
        handler: ZendCallable,
        timeout: Option<f64>,
        limit: Option<i64>,
    ) -> PhpResult<i64> {
        let core = self.core()?;
        let deadline = deadline(timeout)?;
        if let Some(limit) = limit.filter(|l| *l < 0) {
            return Err(
                invalid("argument #3 ($limit)", format!("must be >= 0, got {limit}")).into(),
            );
        }
        self.handed.take().send();
        let mut handled = 0;
        while limit.is_none_or(|limit| handled < limit) {
            let Some(mut delivery) = self.wait(core, deadline)? else {
                break;
            };
            let acknowledgement = delivery.take_acknowledgement();
            let message = ZendClassObject::new(Message::from(delivery)).into_zval(false)?;
            if handler.try_call(vec![&message]).is_err() || ExecutorGlobals::has_exception() {
                // Unacknowledged: the broker delivers it again.
                return Err(pending_or(
                    "the handler given to Mqtt\\Subscriber::loop() could not be called",
                ));
            }
            acknowledgement.send();
            handled += 1;
        }
        Ok(handled)
    }

    /// Makes a running loop() or next() return; safe to call from a signal handler.
    pub fn stop(&self) {
        self.stopped.set(true);
    }
}

impl Subscriber {
    fn core(&self) -> Result<&subscriber::Subscriber, Error> {
        if self.pid != current_pid() {
            return Err(Error::Connection(format!(
                "this Mqtt\\Subscriber belongs to process {} (it was inherited through fork); create a new one",
                self.pid
            )));
        }
        Ok(&self.core)
    }

    /// Waits for a message in short steps, letting PHP run its pending
    /// signal handlers in between: a SIGTERM handler that calls stop() ends
    /// the wait promptly.
    fn wait(
        &self,
        core: &subscriber::Subscriber,
        deadline: Option<Instant>,
    ) -> PhpResult<Option<crate::core::inbox::Delivery>> {
        loop {
            if self.stopped.get() {
                return Ok(None);
            }
            let step = match deadline {
                Some(deadline) => deadline
                    .saturating_duration_since(Instant::now())
                    .min(WAKE_INTERVAL),
                None => WAKE_INTERVAL,
            };
            if let Some(delivery) = core.receive(step) {
                return Ok(Some(delivery));
            }
            dispatch_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if self.pid == current_pid() {
            // Freed because the request or script ends, rather than dropped
            // by the application: a persistent session keeps its subscriptions
            // for the next process.
            let ending = ExecutorGlobals::get().flags & EG_FLAGS_IN_SHUTDOWN != 0;
            self.core.close(ending);
            // SAFETY: dropped exactly once, here.
            unsafe { ManuallyDrop::drop(&mut self.core) };
        }
    }
}

/// Runs PHP's pending signal handlers (pcntl), if pcntl is loaded.
fn dispatch_signals() -> PhpResult<()> {
    if let Ok(dispatch) = ZendCallable::try_from_name("pcntl_signal_dispatch") {
        let _ = dispatch.try_call(vec![]);
    }
    if ExecutorGlobals::has_exception() {
        return Err(pending_or("a signal handler threw"));
    }
    Ok(())
}

/// An exception PHP already has pending propagates unchanged; this message
/// is only used when there is none.
fn pending_or(message: &str) -> PhpException {
    PhpException::from(Error::Connection(message.to_string()))
}

fn deadline(timeout: Option<f64>) -> Result<Option<Instant>, Error> {
    match timeout {
        None => Ok(None),
        Some(_) => Ok(Some(
            Instant::now() + seconds("argument ($timeout)", timeout, Duration::ZERO)?,
        )),
    }
}

fn invalid(argument: &'static str, problem: String) -> Error {
    Error::InvalidArgument { argument, problem }
}
