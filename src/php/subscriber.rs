//! `Mqtt\Subscriber`: a blocking receive loop across one or more connections.

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ext_php_rs::convert::IntoZval;
use ext_php_rs::convert::{FromZval, IntoZvalDyn};
use ext_php_rs::exception::PhpException;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::flags::DataType;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendClassObject, ZendHashTable, Zval};
use ext_php_rs::zend::ExecutorGlobals;

use ext_php_rs::binary_slice::BinarySlice;

use mqtt_broadcast_core::config::SubscriberConfig;
use mqtt_broadcast_core::deadline;
use mqtt_broadcast_core::error::Error;
use mqtt_broadcast_core::inbox::{Acknowledgement, Delivery};
use mqtt_broadcast_core::routes::Params;
use mqtt_broadcast_core::runtime::current_pid;
use mqtt_broadcast_core::subscriber;
use mqtt_broadcast_core::subscriptions::SubscribeOptions;

use super::arguments::{self, seconds};
use super::client::Client;
use super::event::Event;
use super::exceptions::{
    connection_error, OrThrow, Signature, LOOP, NEXT, ROUTE, SUBSCRIBE, SUBSCRIBER_CONSTRUCT,
    UNSUBSCRIBE,
};
use super::message::Message;
use super::options;

/// Set in PHP's executor flags once the request or script is shutting down.
const EG_FLAGS_IN_SHUTDOWN: u8 = 1 << 0;

/// PHP's async signal handlers (pcntl) run at least this often while waiting.
pub(crate) const WAKE_INTERVAL: Duration = Duration::from_millis(100);

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
    /// The handlers of route(), by route number; shared, so that a handler
    /// may add routes while it runs.
    routes: RefCell<Vec<Rc<Handler>>>,
    /// The listeners of onEvent(), and the last event each connection
    /// reported to them.
    listeners: RefCell<Vec<Rc<Handler>>>,
    events_seen: RefCell<Vec<u64>>,
}

#[php_impl]
impl Subscriber {
    /// Subscribes through every client given; messages of all of them arrive here.
    #[php(optional = options)]
    pub fn __construct(
        clients: &ZendHashTable,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<Self> {
        let call = &SUBSCRIBER_CONSTRUCT;
        if clients.is_empty() {
            return Err(call.invalid("clients", "must not be empty"));
        }
        let mut connections = Vec::new();
        let mut elements = clients.iter();
        let mut position = 0;
        while let Some((_, value)) = elements.next_zval() {
            let Some(client) = value.extract::<&Client>() else {
                let problem = format!(
                    "must be a list of Mqtt\\Client, element {position} is {}",
                    options::type_name(value)
                );
                return Err(call.invalid("clients", problem));
            };
            connections.push(client.live_connection().or_throw(call)?);
            position += 1;
        }
        let options = arguments::options(call, options)?;
        let config = SubscriberConfig::from_value(&options)
            .map_err(Error::from)
            .or_throw(call)?;
        Ok(Subscriber {
            core: ManuallyDrop::new(subscriber::Subscriber::new(connections, &config)),
            pid: current_pid(),
            handed: RefCell::new(Acknowledgement::default()),
            stopped: Cell::new(false),
            routes: RefCell::new(Vec::new()),
            listeners: RefCell::new(Vec::new()),
            events_seen: RefCell::new(Vec::new()),
        })
    }

    /// Subscribes to a filter (wildcards and $share/{group}/ allowed) and waits for the brokers to confirm.
    #[php(optional = qos)]
    pub fn subscribe(
        &self,
        filter: BinarySlice<u8>,
        qos: Option<i64>,
        timeout: Option<f64>,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let call = &SUBSCRIBE;
        let core = self.core()?;
        let filter = arguments::text(call, "filter", &filter)?;
        let qos = arguments::qos(call, qos.unwrap_or(0))?;
        let timeout = seconds(call, timeout, core.default_timeout())?;
        let options = subscribe_options(call, options, filter)?;
        core.subscribe_with(filter, qos, options, timeout)
            .or_throw(call)
    }

    /// Calls the handler from loop() with (Mqtt\Message $message, array $params) for every message whose topic matches the pattern ('metrics/{tenant}/{metric}', a last '{rest*}'); subscribes its filter.
    #[php(optional = qos)]
    pub fn route(
        &self,
        pattern: BinarySlice<u8>,
        handler: Handler,
        qos: Option<i64>,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<()> {
        let call = &ROUTE;
        let core = self.core()?;
        let pattern = arguments::text(call, "pattern", &pattern)?;
        let qos = arguments::qos(call, qos.unwrap_or(0))?;
        let options = subscribe_options(call, options, pattern)?;
        let (route, filter) = core.add_route(pattern).or_throw(call)?;
        let mut routes = self.routes.borrow_mut();
        debug_assert_eq!(route, routes.len(), "routes are numbered in order");
        routes.push(Rc::new(handler));
        drop(routes);
        core.subscribe_with(&filter, qos, options, core.default_timeout())
            .map_err(|error| match error {
                // The filter with the connection's prefix: still the pattern's fault.
                Error::InvalidArgument { problem, .. } => call.invalid("pattern", problem),
                other => call.error(other),
            })
    }

    /// Calls the listener from loop() and next() with an Mqtt\Event for what happens to the connections, starting with what they kept.
    pub fn on_event(&self, listener: Handler) -> PhpResult<()> {
        let core = self.core()?;
        let mut seen = self.events_seen.borrow_mut();
        if seen.is_empty() {
            seen.resize(core.connections().len(), 0);
        }
        self.listeners.borrow_mut().push(Rc::new(listener));
        Ok(())
    }

    /// Ends a subscription made by subscribe().
    pub fn unsubscribe(&self, filter: BinarySlice<u8>) -> PhpResult<()> {
        let call = &UNSUBSCRIBE;
        let filter = arguments::text(call, "filter", &filter)?;
        self.core()?.unsubscribe(filter).or_throw(call)
    }

    /// The next message, or null after the timeout (null: wait until one arrives or stop() is called).
    #[php(optional = timeout)]
    pub fn next(&self, timeout: Option<f64>) -> PhpResult<Option<Message>> {
        let core = self.core()?;
        let deadline = deadline_of(&NEXT, timeout)?;
        self.handed.take().send();
        let Some(mut delivery) = self.wait(core, deadline)? else {
            return Ok(None);
        };
        self.handed.replace(delivery.take_acknowledgement());
        Ok(Some(Message::from(delivery)))
    }

    /// Calls the matching route handlers, or else the handler, for every message until stop(), the timeout or the limit; returns how many it handled.
    #[php(name = "loop")]
    #[php(optional = handler)]
    pub fn run(
        &self,
        handler: Option<ZendCallable>,
        timeout: Option<f64>,
        limit: Option<i64>,
    ) -> PhpResult<i64> {
        let call = &LOOP;
        let core = self.core()?;
        let deadline = deadline_of(call, timeout)?;
        if let Some(limit) = limit.filter(|l| *l < 0) {
            return Err(call.invalid("limit", format!("must be >= 0, got {limit}")));
        }
        self.handed.take().send();
        let mut handled = 0;
        while limit.is_none_or(|limit| handled < limit) {
            let Some(mut delivery) = self.wait(core, deadline)? else {
                break;
            };
            let acknowledgement = delivery.take_acknowledgement();
            let matched = std::mem::take(&mut delivery.routes);
            let message = ZendClassObject::new(Message::from(delivery)).into_zval(false)?;
            if matched.is_empty() {
                if let Some(handler) = &handler {
                    call_handler(
                        handler,
                        vec![&message],
                        "the handler given to Mqtt\\Subscriber::loop()",
                    )?;
                }
            }
            for route in matched {
                let params = params_array(&route.params)?;
                let handler = self.routes.borrow().get(route.route).cloned();
                if let Some(handler) = handler {
                    call_handler(&handler.0, vec![&message, &params], "a route's handler")?;
                }
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
    fn core(&self) -> PhpResult<&subscriber::Subscriber> {
        if self.pid != current_pid() {
            return Err(connection_error(format!(
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
    ) -> PhpResult<Option<Delivery>> {
        loop {
            if self.stopped.get() {
                self.report_events(core)?;
                return Ok(None);
            }
            let step = match deadline {
                Some(deadline) => deadline
                    .saturating_duration_since(Instant::now())
                    .min(WAKE_INTERVAL),
                None => WAKE_INTERVAL,
            };
            self.report_events(core)?;
            if let Some(delivery) = core.receive(step) {
                return Ok(Some(delivery));
            }
            dispatch_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // What happened during the last step is not left for a later call.
                self.report_events(core)?;
                return Ok(None);
            }
        }
    }

    /// Hands the listeners what happened since they last heard; a quick
    /// look at each connection's counter when nothing did.
    fn report_events(&self, core: &subscriber::Subscriber) -> PhpResult<()> {
        if self.listeners.borrow().is_empty() {
            return Ok(());
        }
        for (index, connection) in core.connections().iter().enumerate() {
            let seen = self.events_seen.borrow()[index];
            if connection.last_event() == seen {
                continue;
            }
            let (events, last) = connection.events_since(seen);
            self.events_seen.borrow_mut()[index] = last;
            for event in events {
                let event = ZendClassObject::new(Event::from(event)).into_zval(false)?;
                let listeners: Vec<Rc<Handler>> = self.listeners.borrow().clone();
                for listener in listeners {
                    call_handler(&listener.0, vec![&event], "an event listener")?;
                }
            }
        }
        Ok(())
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
pub(crate) fn dispatch_signals() -> PhpResult<()> {
    if let Ok(dispatch) = ZendCallable::try_from_name("pcntl_signal_dispatch") {
        let _ = dispatch.try_call(vec![]);
    }
    if ExecutorGlobals::has_exception() {
        return Err(pending_or("a signal handler threw"));
    }
    Ok(())
}

/// A callable kept beyond the call that passed it, such as a route's handler.
pub struct Handler(ZendCallable<'static>);

impl Handler {
    /// Calls it; `what` names it should it not be callable.
    pub(crate) fn call(&self, arguments: Vec<&dyn IntoZvalDyn>, what: &str) -> PhpResult<()> {
        call_handler(&self.0, arguments, what)
    }
}

impl<'a> FromZval<'a> for Handler {
    const TYPE: DataType = DataType::Callable;

    fn from_zval(zval: &'a Zval) -> Option<Self> {
        ZendCallable::new_owned(zval.shallow_clone())
            .ok()
            .map(Handler)
    }
}

/// Calls a handler; one that throws leaves the message unacknowledged, so
/// the broker delivers it again.
fn call_handler(
    handler: &ZendCallable,
    arguments: Vec<&dyn IntoZvalDyn>,
    what: &str,
) -> PhpResult<()> {
    if handler.try_call(arguments).is_err() || ExecutorGlobals::has_exception() {
        return Err(pending_or(&format!("{what} could not be called")));
    }
    Ok(())
}

/// A route's named levels as `['tenant' => '…', …]`.
fn params_array(params: &Params) -> PhpResult<Zval> {
    let mut array = ZendHashTable::new();
    for (name, value) in params {
        array.insert(&**name, value.as_str())?;
    }
    Ok(array.into_zval(false)?)
}

/// An exception PHP already has pending propagates unchanged; this message
/// is only used when there is none.
fn pending_or(message: &str) -> PhpException {
    connection_error(message)
}

/// MQTT 5 subscription options of subscribe() and route(), validated.
fn subscribe_options(
    call: &Signature,
    options: Option<&ZendHashTable>,
    filter: &str,
) -> PhpResult<SubscribeOptions> {
    match options {
        None => Ok(SubscribeOptions::default()),
        Some(array) => {
            let value = arguments::array(call, "options", array)?;
            SubscribeOptions::from_value(&value, filter).or_throw(call)
        }
    }
}

/// `None` waits until a message arrives or stop() is called.
fn deadline_of(call: &Signature, timeout: Option<f64>) -> PhpResult<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(_) => Ok(Some(deadline::after(seconds(
            call,
            timeout,
            Duration::ZERO,
        )?))),
    }
}
