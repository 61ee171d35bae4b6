//! The broker's life: a tokio runtime of its own, rmqtt's server on it, and
//! a graceful stop.
//!
//! Nothing here runs before `start()`: no thread, no runtime, no socket. The
//! runtime and its threads belong to the process that started them; a forked
//! child that inherits a `Broker` forgets it without touching it (the
//! threads are not there), as the connections do (`core::runtime`).

use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rmqtt::context::ServerContext;
use rmqtt::net::Builder;
use rmqtt::server::MqttServer;
use rmqtt::types::{Message, Reason};
use thiserror::Error;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::config::{BrokerConfig, ConfigError, TlsListener};
use crate::hooks::{self, Counters};
use crate::log::EventLog;
use crate::signals::Signals;

/// How long `run()` blocks at most before it lets its caller run, so that
/// PHP's signal handlers run promptly (the binding's contract 4).
pub const WAKE_INTERVAL: Duration = Duration::from_millis(100);
/// "No limit" for a client's queue: rmqtt sizes a channel with it, which
/// refuses usize::MAX; four billion messages are more than memory holds.
const UNLIMITED_QUEUE: usize = u32::MAX as usize;
/// Clients get this long to be disconnected when the broker stops.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// sled, the session and retained store, writes to disk every 500 ms; the
/// store cannot be reached to flush it, so a stop waits for that flush.
const STORE_FLUSH: Duration = Duration::from_millis(1_100);

#[derive(Debug, Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the broker is already running")]
    AlreadyRunning,
    #[error("the broker was started by process {0}: only that process can use it")]
    ForeignProcess(u32),
    #[error("the broker cannot start: {0}")]
    Start(String),
}

/// What `status()` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub listeners: Vec<ListenerInfo>,
    /// Connected clients.
    pub clients: usize,
    /// Sessions: connected clients and persistent sessions kept for disconnected ones.
    pub sessions: usize,
    pub subscriptions: usize,
    pub retained: usize,
    /// PUBLISH packets received from clients.
    pub messages_received: u64,
    /// PUBLISH packets delivered to subscribers.
    pub messages_sent: u64,
    pub uptime: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenerInfo {
    /// "mqtt" or "tls".
    pub name: &'static str,
    pub address: SocketAddr,
}

/// A configured broker, stopped until `start()` or `run()`.
pub struct Broker {
    config: BrokerConfig,
    running: Mutex<Option<Running>>,
}

struct Running {
    pid: u32,
    runtime: Runtime,
    scx: ServerContext,
    server: JoinHandle<()>,
    listeners: Vec<ListenerInfo>,
    counters: Arc<Counters>,
    log: Option<Arc<EventLog>>,
    started: Instant,
}

impl Broker {
    pub fn new(config: BrokerConfig) -> Broker {
        Broker {
            config,
            running: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Listens and returns: the broker runs on threads of its own until
    /// `stop()`. A bad certificate, a store that cannot be opened or an
    /// address in use is refused before any client can connect.
    pub fn start(&self) -> Result<(), BrokerError> {
        let mut running = self.lock()?;
        if running.is_some() {
            return Err(BrokerError::AlreadyRunning);
        }
        *running = Some(Running::start(&self.config)?);
        Ok(())
    }

    /// Whether it runs, started by this process.
    pub fn is_running(&self) -> bool {
        matches!(self.lock(), Ok(running) if running.is_some())
    }

    /// The plain listener's port, else the TLS listener's: the one picked when
    /// the option said port 0. `None` while stopped.
    pub fn port(&self) -> Result<Option<u16>, BrokerError> {
        Ok(self
            .lock()?
            .as_ref()
            .and_then(|running| running.listeners.first())
            .map(|listener| listener.address.port()))
    }

    pub fn status(&self) -> Result<Option<Status>, BrokerError> {
        let running = self.lock()?;
        Ok(running.as_ref().map(Running::status))
    }

    /// Stops accepting, disconnects every client (a persistent session stays,
    /// with its queued messages, in the store), writes the store to disk and
    /// ends the broker's threads. False when it was not running.
    pub fn stop(&self) -> Result<bool, BrokerError> {
        let running = self.lock()?.take();
        Ok(match running {
            Some(running) => {
                running.stop(self.config.persistence.is_some());
                true
            }
            None => false,
        })
    }

    /// Starts unless running, then blocks until `stop()` (from `tick`, such as
    /// a PHP signal handler) or SIGTERM / SIGINT, which stop it gracefully.
    /// `tick` runs at least every `WAKE_INTERVAL`; its error stops the broker
    /// and is returned. While it blocks, SIGTERM and SIGINT are the broker's:
    /// their previous handlers are back when it returns.
    pub fn run<E>(&self, mut tick: impl FnMut() -> Result<(), E>) -> Result<(), RunError<E>> {
        if !self.is_running() {
            self.start().map_err(RunError::Broker)?;
        }
        let signals = Signals::catch().map_err(RunError::Broker)?;
        loop {
            std::thread::sleep(WAKE_INTERVAL);
            if signals.caught() {
                self.stop().map_err(RunError::Broker)?;
                return Ok(());
            }
            if let Err(error) = tick() {
                self.stop().map_err(RunError::Broker)?;
                return Err(RunError::Tick(error));
            }
            if !self.is_running() {
                return Ok(());
            }
        }
    }

    /// The running state, if this process started it. A poisoned lock means
    /// a panic while starting or stopping; the state is still consistent
    /// (it is replaced whole), so it is used as is.
    fn lock(&self) -> Result<MutexGuard<'_, Option<Running>>, BrokerError> {
        let guard = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_ref() {
            Some(running) if running.pid != std::process::id() => {
                Err(BrokerError::ForeignProcess(running.pid))
            }
            _ => Ok(guard),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(running) = running {
            if running.pid == std::process::id() {
                running.stop(self.config.persistence.is_some());
            } else {
                // A forked child: the runtime's threads live in the parent only,
                // and dropping it here would wait for them forever.
                std::mem::forget(running);
            }
        }
    }
}

#[derive(Debug, Error)]
pub enum RunError<E> {
    #[error(transparent)]
    Broker(BrokerError),
    #[error("stopped because the caller failed")]
    Tick(E),
}

impl Running {
    fn start(config: &BrokerConfig) -> Result<Running, BrokerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("mqtt-broker")
            .enable_all()
            .build()
            .map_err(|e| BrokerError::Start(format!("cannot start its threads: {e}")))?;
        let counters = Arc::new(Counters::default());
        let log = match &config.log {
            Some(path) => Some(Arc::new(EventLog::open(path).map_err(|e| {
                BrokerError::Config(ConfigError::Unusable {
                    path: "log".to_owned(),
                    problem: format!("cannot be opened: {e}"),
                })
            })?)),
            None => None,
        };
        let started = runtime.block_on(serve(config, Arc::clone(&counters), log.clone()));
        match started {
            Ok((scx, server, listeners)) => {
                if let Some(log) = &log {
                    for listener in &listeners {
                        log.write(format_args!(
                            "listening on {} ({})",
                            listener.address, listener.name
                        ));
                    }
                }
                Ok(Running {
                    pid: std::process::id(),
                    runtime,
                    scx,
                    server,
                    listeners,
                    counters,
                    log,
                    started: Instant::now(),
                })
            }
            Err(error) => {
                runtime.shutdown_timeout(Duration::from_millis(200));
                Err(error)
            }
        }
    }

    fn status(&self) -> Status {
        let scx = &self.scx;
        let (subscriptions, retained) = self.runtime.block_on(async {
            let subscriptions = scx.extends.router().await.routes().count();
            let retained = scx.extends.retain().await.count().await;
            (subscriptions, retained)
        });
        Status {
            listeners: self.listeners.clone(),
            clients: count(scx.connections.count()),
            sessions: count(scx.sessions.count()),
            subscriptions: count(subscriptions),
            retained: count(retained),
            messages_received: self.counters.received.load(Ordering::Relaxed),
            messages_sent: self.counters.sent.load(Ordering::Relaxed),
            uptime: self.started.elapsed(),
        }
    }

    fn stop(self, persistent: bool) {
        let Running {
            runtime,
            scx,
            server,
            log,
            ..
        } = self;
        // Closes the listening sockets: nobody new gets in.
        server.abort();
        runtime.block_on(async {
            let _ = server.await;
            close_connections(&scx).await;
            if persistent {
                tokio::time::sleep(STORE_FLUSH).await;
            }
        });
        runtime.shutdown_timeout(Duration::from_millis(500));
        if let Some(log) = log {
            log.write(format_args!("stopped"));
        }
    }
}

/// Connections end as if the network had closed them: each session goes
/// offline the way it would then, a persistent one into the store.
async fn close_connections(scx: &ServerContext) {
    let senders: Vec<_> = scx
        .extends
        .shared()
        .await
        .iter()
        .filter_map(|entry| entry.tx())
        .collect();
    for sender in senders {
        let _ = sender.unbounded_send(Message::Closed(Reason::from_static(
            "the broker is stopping",
        )));
    }
    let deadline = Instant::now() + CLOSE_TIMEOUT;
    while scx.connections.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Served = (ServerContext, JoinHandle<()>, Vec<ListenerInfo>);

async fn serve(
    config: &BrokerConfig,
    counters: Arc<Counters>,
    log: Option<Arc<EventLog>>,
) -> Result<Served, BrokerError> {
    let mut context = ServerContext::new().mqtt_max_sessions(config.max_connections as isize);
    for (plugin, toml) in plugin_configs(config) {
        context = context.plugins_config_map_add(plugin, toml);
    }
    let scx = context.build().await;
    if config.persistence.is_some() {
        rmqtt_session_storage::register(&scx, true, false)
            .await
            .map_err(|e| store_error(config, "sessions", e))?;
    }
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(|e| store_error(config, "retained messages", e))?;
    rmqtt_shared_subscription::register(&scx, true, false)
        .await
        .map_err(|e| BrokerError::Start(format!("shared subscriptions: {e}")))?;
    hooks::register(&scx, config, counters, log).await;

    let mut server = MqttServer::new(scx.clone());
    let mut listeners = Vec::new();
    if let Some(address) = config.listen {
        let listener = listener(config, "mqtt", address)
            .bind()
            .map_err(|e| cannot_listen("listen", address, e))?
            .tcp()
            .map_err(|e| cannot_listen("listen", address, e))?;
        listeners.push(ListenerInfo {
            name: "mqtt",
            address: listener.local_addr().unwrap_or(address),
        });
        server = server.listener_by_id(listener, 1);
    }
    if let Some(tls) = &config.tls {
        let listener = tls_listener(config, tls)?;
        listeners.push(ListenerInfo {
            name: "tls",
            address: listener.local_addr().unwrap_or(tls.listen),
        });
        server = server.listener_by_id(listener, 2);
    }
    let server = server.build();
    let handle = tokio::spawn(async move {
        let _ = server.run().await;
    });
    Ok((scx, handle, listeners))
}

fn listener(config: &BrokerConfig, name: &str, address: SocketAddr) -> Builder {
    Builder::new()
        .name(name)
        .laddr(address)
        // As Mosquitto: a restarted broker gets its port back while the last
        // one's connections linger in TIME_WAIT. A port another process
        // listens on is still refused.
        .reuseaddr(Some(true))
        .nodelay(true)
        .max_connections(config.max_connections)
        .max_packet_size(config.max_packet_size)
        .max_inflight(NonZeroU16::new(config.max_inflight_messages).unwrap_or(NonZeroU16::MIN))
        .max_mqueue_len(config.max_queued_messages.unwrap_or(UNLIMITED_QUEUE))
        // As MQTT 3.1.1 and Mosquitto: a message waits for its subscriber as
        // long as it takes (MQTT 5 clients give messages an expiry of their own),
        // and a 3.1.1 client's persistent session lasts until it cleans it
        // (MQTT 5 clients ask for their session expiry; this is MQTT 5's "never").
        .message_expiry_interval(Duration::ZERO)
        .session_expiry_interval(Duration::from_secs(u64::from(u32::MAX)))
        .allow_anonymous(config.allow_anonymous)
}

fn tls_listener(
    config: &BrokerConfig,
    tls: &TlsListener,
) -> Result<rmqtt::net::Listener, BrokerError> {
    crate::certificates::check(tls)?;
    let mut builder = listener(config, "tls", tls.listen)
        .tls_cert(Some(path_text(&tls.cert_file)))
        .tls_key(Some(path_text(&tls.key_file)));
    if let Some(ca_file) = &tls.ca_file {
        builder = builder
            .tls_cross_certificate(true)
            .tls_client_ca_certs(Some(path_text(ca_file)));
    }
    builder
        .bind()
        .map_err(|e| cannot_listen("tls.listen", tls.listen, e))?
        .tls()
        .map_err(|e| {
            BrokerError::Config(ConfigError::Unusable {
                path: "tls.key_file".to_owned(),
                problem: format!("cannot be used with tls.cert_file: {e}"),
            })
        })
}

/// Memory each store keeps of its disk data; rmqtt's own default is 3 GB.
const SLED_CACHE: &str = "storage.sled.cache_capacity = \"32M\"\n";

/// The plugins' configuration files, as rmqtt reads them: TOML, by plugin name.
fn plugin_configs(config: &BrokerConfig) -> Vec<(&'static str, String)> {
    let mut configs = Vec::new();
    let retained = match &config.persistence {
        Some(dir) => {
            configs.push((
                "rmqtt-session-storage",
                format!(
                    "storage.type = \"sled\"\nstorage.sled.path = {}\n{SLED_CACHE}",
                    toml_string(&dir.join("sessions"))
                ),
            ));
            format!(
                "storage.type = \"sled\"\nstorage.sled.path = {}\n{SLED_CACHE}",
                toml_string(&dir.join("retained"))
            )
        }
        None => "storage.type = \"ram\"\n".to_owned(),
    };
    // A retained message stays until replaced or cleared, as in Mosquitto: without
    // a TTL of its own the retainer would take the message expiry, which is
    // "never" here and "at once" to it.
    configs.push((
        "rmqtt-retainer",
        format!(
            "{retained}max_payload_size = \"{}B\"\nretained_message_ttl = \"0s\"\n",
            config.max_packet_size
        ),
    ));
    configs.push((
        "rmqtt-shared-subscription",
        "strategy = \"round_robin\"\n".to_owned(),
    ));
    configs
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(path: &Path) -> String {
    let mut quoted = String::from("\"");
    for c in path.to_string_lossy().chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", c as u32)),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn store_error(config: &BrokerConfig, what: &str, error: impl std::fmt::Display) -> BrokerError {
    match &config.persistence {
        Some(dir) => BrokerError::Config(ConfigError::Unusable {
            path: "persistence".to_owned(),
            problem: format!(
                "cannot be opened for the {what} in {} ({error}); a directory serves one broker at a time",
                dir.display()
            ),
        }),
        None => BrokerError::Start(format!("{what}: {error}")),
    }
}

fn cannot_listen(option: &str, address: SocketAddr, error: impl std::fmt::Display) -> BrokerError {
    BrokerError::Config(ConfigError::Unusable {
        path: option.to_owned(),
        problem: format!("cannot listen on {address}: {error}"),
    })
}

/// rmqtt's counters are signed; a negative one would be a bug of theirs, shown as 0.
fn count(n: impl TryInto<usize>) -> usize {
    n.try_into().unwrap_or(0)
}

/// Up to four threads: plenty for a development or small deployment broker,
/// and it leaves the host's other cores to the PHP workers beside it.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().min(4))
        .unwrap_or(2)
}
