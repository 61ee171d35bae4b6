use crate::{framed::Network, Transport};
use crate::{Incoming, MqttState, NetworkOptions, Packet, Request, StateError};
use crate::{MqttOptions, Outgoing};

use crate::framed::AsyncReadWrite;
use crate::shared::{lock, SharedTcp};
use crate::mqttbytes::v4::*;
use flume::{bounded, Receiver, Sender};
use tokio::net::{lookup_host, TcpSocket, TcpStream};
use tokio::select;
use tokio::time::{self, Instant, Sleep};

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[cfg(unix)]
use {std::path::Path, tokio::net::UnixStream};

#[cfg(any(feature = "use-rustls-no-provider", feature = "use-native-tls"))]
use crate::tls;

#[cfg(feature = "websocket")]
use {
    crate::websockets::{split_url, validate_response_headers, UrlError},
    async_tungstenite::tungstenite::client::IntoClientRequest,
    ws_stream_tungstenite::WsStream,
};

#[cfg(feature = "proxy")]
use crate::proxy::ProxyError;

/// Most requests written in one go before the socket is flushed (see `select`).
const MAX_REQUEST_BATCH: usize = 100;

/// Critical errors during eventloop polling
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("Mqtt state: {0}")]
    MqttState(#[from] StateError),
    #[error("Network timeout")]
    NetworkTimeout,
    #[error("Flush timeout")]
    FlushTimeout,
    #[cfg(feature = "websocket")]
    #[error("Websocket: {0}")]
    Websocket(#[from] async_tungstenite::tungstenite::error::Error),
    #[cfg(feature = "websocket")]
    #[error("Websocket Connect: {0}")]
    WsConnect(#[from] http::Error),
    #[cfg(any(feature = "use-rustls-no-provider", feature = "use-native-tls"))]
    #[error("TLS: {0}")]
    Tls(#[from] tls::Error),
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("Connection refused, return code: `{0:?}`")]
    ConnectionRefused(ConnectReturnCode),
    #[error("Expected ConnAck packet, received: {0:?}")]
    NotConnAck(Packet),
    #[error("Requests done")]
    RequestsDone,
    #[cfg(feature = "websocket")]
    #[error("Invalid Url: {0}")]
    InvalidUrl(#[from] UrlError),
    #[cfg(feature = "proxy")]
    #[error("Proxy Connect: {0}")]
    Proxy(#[from] ProxyError),
    #[cfg(feature = "websocket")]
    #[error("Websocket response validation error: ")]
    ResponseValidation(#[from] crate::websockets::ValidationError),
}

/// Eventloop with all the state of a connection
pub struct EventLoop {
    /// Options of the current mqtt connection
    pub mqtt_options: MqttOptions,
    /// Current state of the connection, shared with the threads that write
    /// packets themselves: see `shared_state`.
    state: Arc<Mutex<MqttState>>,
    /// Request stream
    requests_rx: Receiver<Request>,
    /// Requests handle to send requests
    pub(crate) requests_tx: Sender<Request>,
    /// Pending packets from last session
    pub pending: VecDeque<Request>,
    /// Network connection to the broker
    pub network: Option<Network>,
    /// Keep alive time
    keepalive_timeout: Option<Pin<Box<Sleep>>>,
    /// When the PINGRESP of the last PINGREQ is due: 0.4 keep-alive later, so
    /// that a dead link is noticed within 1.4 keep-alives, before the broker
    /// gives up on the client (at 1.5).
    pingresp_deadline: Option<Instant>,
    pub network_options: NetworkOptions,
}

/// Events which can be yielded by the event loop
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Incoming(Incoming),
    Outgoing(Outgoing),
}

impl EventLoop {
    /// New MQTT `EventLoop`
    ///
    /// When connection encounters critical errors (like auth failure), user has a choice to
    /// access and update `options`, `state` and `requests`.
    pub fn new(mqtt_options: MqttOptions, cap: usize) -> EventLoop {
        let (requests_tx, requests_rx) = bounded(cap);
        let pending = VecDeque::new();
        let max_inflight = mqtt_options.inflight;
        let manual_acks = mqtt_options.manual_acks;

        EventLoop {
            mqtt_options,
            state: Arc::new(Mutex::new(MqttState::new(max_inflight, manual_acks))),
            requests_tx,
            requests_rx,
            pending,
            network: None,
            keepalive_timeout: None,
            pingresp_deadline: None,
            network_options: NetworkOptions::new(),
        }
    }

    /// Last session might contain packets which aren't acked. MQTT says these packets should be
    /// republished in the next session. Move pending messages from state to eventloop, drops the
    /// underlying network connection and clears the keepalive timeout if any.
    ///
    /// > NOTE: Use only when EventLoop is blocked on network and unable to immediately handle disconnect.
    /// > Also, while this helps prevent data loss, the pending list length should be managed properly.
    /// > For this reason we recommend setting [`AsycClient`](crate::AsyncClient)'s channel capacity to `0`.
    pub fn clean(&mut self) {
        self.network = None;
        self.keepalive_timeout = None;
        self.pingresp_deadline = None;
        let unacknowledged = lock(&self.state).clean();
        self.pending.extend(unacknowledged);

        // drain requests from channel which weren't yet received
        let mut requests_in_channel: Vec<_> = self.requests_rx.drain().collect();

        requests_in_channel.retain(|request| {
            match request {
                Request::PubAck(_) => false, // Wait for publish retransmission, else the broker could be confused by an unexpected ack
                _ => true,
            }
        });

        self.pending.extend(requests_in_channel);
    }

    /// The protocol state (packet ids, what is in flight, the events not
    /// yet returned by `poll`).
    pub fn state(&self) -> MutexGuard<'_, MqttState> {
        lock(&self.state)
    }

    /// The protocol state, for a thread that writes a packet itself on the
    /// `shared()` connection: it records the packet here first, under this
    /// lock, so that the event loop knows it when the acknowledgement comes.
    pub fn shared_state(&self) -> Arc<Mutex<MqttState>> {
        Arc::clone(&self.state)
    }

    /// The connection, when it is plain TCP: other threads may write whole
    /// packets to it themselves (see `SharedTcp`).
    pub fn shared(&self) -> Option<Arc<SharedTcp>> {
        self.network.as_ref()?.shared.clone()
    }

    /// After DISCONNECT: ends the client's half of the connection, as MQTT
    /// asks, and leaves the broker's half to `poll` until the broker closes it.
    /// Closing the whole socket instead could reset the connection before the
    /// broker read the DISCONNECT, and the broker would publish the will.
    pub async fn close_write(&mut self) -> Result<(), StateError> {
        match self.network.as_mut() {
            Some(network) => network.close_write().await,
            None => Ok(()),
        }
    }

    /// Yields Next notification or outgoing request and periodically pings
    /// the broker. Continuing to poll will reconnect to the broker if there is
    /// a disconnection.
    /// **NOTE** Don't block this while iterating
    pub async fn poll(&mut self) -> Result<Event, ConnectionError> {
        if self.network.is_none() {
            let (network, connack) = match time::timeout(
                Duration::from_secs(self.network_options.connection_timeout()),
                connect(&self.mqtt_options, self.network_options.clone()),
            )
            .await
            {
                Ok(inner) => inner?,
                Err(_) => return Err(ConnectionError::NetworkTimeout),
            };
            // Last session might contain packets which aren't acked. If it's a new session, clear the pending packets.
            if !connack.session_present {
                self.pending.clear();
            }
            self.network = Some(network);

            if self.keepalive_timeout.is_none() && !self.mqtt_options.keep_alive.is_zero() {
                self.keepalive_timeout = Some(Box::pin(time::sleep(self.mqtt_options.keep_alive)));
            }

            return Ok(Event::Incoming(Packet::ConnAck(connack)));
        }

        match self.select().await {
            Ok(v) => Ok(v),
            Err(e) => {
                // MQTT requires that packets pending acknowledgement should be republished on session resume.
                // Move pending messages from state to eventloop.
                self.clean();
                Err(e)
            }
        }
    }

    /// Select on network and requests and generate keepalive pings when necessary
    async fn select(&mut self) -> Result<Event, ConnectionError> {
        let network = self.network.as_mut().unwrap();
        // let await_acks = self.state.await_acks;
        let network_timeout = Duration::from_secs(self.network_options.connection_timeout());

        // Read buffered events from previous polls before calling a new poll
        let buffered = lock(&self.state).events.pop_front();
        if let Some(event) = buffered {
            return Ok(event);
        }

        let mut no_sleep = Box::pin(time::sleep(Duration::ZERO));
        // this loop is necessary since self.incoming.pop_front() might return None. In that case,
        // instead of returning a None event, we try again.
        // Goes round again when the PINGRESP deadline passed after the
        // PINGRESP came, and when another thread freed room in the inflight
        // queue (the select! below is not indented for it, to keep this patch
        // small).
        loop {
        // Flow control (see the requests' branch).
        let (blocked, room) = {
            let state = lock(&self.state);
            let full = state.inflight >= self.mqtt_options.inflight || state.collision.is_some();
            (self.pending.is_empty() && full, state.room())
        };
        break select! {
            // Pull a bunch of packets from network, reply in bunch and yield the first item
            o = network.readb(&self.state) => {
                o?;
                // flush all the acks and return first incoming packet
                match time::timeout(network_timeout, network.flush()).await {
                    Ok(inner) => inner?,
                    Err(_)=> return Err(ConnectionError::FlushTimeout),
                };
                Ok(lock(&self.state).events.pop_front().unwrap())
            },
             // Handles pending and new requests.
            // If available, prioritises pending requests from previous session.
            // Else, pulls next request from user requests channel.
            // If conditions in the below branch are for flow control.
            // The branch is disabled if there's no pending messages and new user requests
            // cannot be serviced due flow control.
            // We read next user user request only when inflight messages are < configured inflight
            // and there are no collisions while handling previous outgoing requests.
            //
            // Flow control is based on ack count. If inflight packet count in the buffer is
            // less than max_inflight setting, next outgoing request will progress. For this
            // to work correctly, broker should ack in sequence (a lot of brokers won't)
            //
            // E.g If max inflight = 5, user requests will be blocked when inflight queue
            // looks like this                 -> [1, 2, 3, 4, 5].
            // If broker acking 2 instead of 1 -> [1, x, 3, 4, 5].
            // This pulls next user request. But because max packet id = max_inflight, next
            // user request's packet id will roll to 1. This replaces existing packet id 1.
            // Resulting in a collision
            //
            // Eventloop can stop receiving outgoing user requests when previous outgoing
            // request collided. I.e collision state. Collision state will be cleared only
            // when correct ack is received
            // Full inflight queue will look like -> [1a, 2, 3, 4, 5].
            // If 3 is acked instead of 1 first   -> [1a, 2, x, 4, 5].
            // After collision with pkid 1        -> [1b ,2, x, 4, 5].
            // 1a is saved to state and event loop is set to collision mode stopping new
            // outgoing requests (along with 1b).
            o = Self::next_request(
                &mut self.pending,
                &self.requests_rx,
                self.mqtt_options.pending_throttle
            ), if !blocked => match o {
                Ok(request) => {
                    let outgoing = lock(&self.state).handle_outgoing_packet(request)?;
                    if let Some(outgoing) = outgoing {
                        network.write(outgoing).await?;
                    }
                    // Write the requests that are ready too and flush them all at once: one
                    // syscall for a batch instead of one per request. Bounded, so that acks
                    // and pings are read in between. Their events are yielded in order.
                    for _ in 1..MAX_REQUEST_BATCH {
                        let request = match Self::try_next_request(
                            &mut self.pending,
                            &self.requests_rx,
                            self.mqtt_options.pending_throttle,
                            {
                                let state = lock(&self.state);
                                state.inflight >= self.mqtt_options.inflight
                                    || state.collision.is_some()
                            },
                        ) {
                            Some(request) => request,
                            None => break,
                        };
                        let outgoing = lock(&self.state).handle_outgoing_packet(request)?;
                        if let Some(outgoing) = outgoing {
                            network.write(outgoing).await?;
                        }
                    }
                    match time::timeout(network_timeout, network.flush()).await {
                        Ok(inner) => inner?,
                        Err(_)=> return Err(ConnectionError::FlushTimeout),
                    };
                    Ok(lock(&self.state).events.pop_front().unwrap())
                }
                Err(_) => Err(ConnectionError::RequestsDone),
            },
            // The requests above are not taken while the inflight queue is full or
            // a collision waits; an acknowledgement that another thread read and
            // handled (`MqttState::handle_incoming_elsewhere`) may end that.
            _ = room.notified(), if blocked => continue,
            // A PINGRESP not there in time: the link is dead. Without this, the next
            // ping (a whole keep-alive later) noticed it.
            _ = time::sleep_until(self.pingresp_deadline.unwrap_or_else(Instant::now)),
                if self.pingresp_deadline.is_some() => {
                self.pingresp_deadline = None;
                if !lock(&self.state).await_pingresp {
                    continue;
                }
                Err(ConnectionError::MqttState(StateError::AwaitPingResp))
            }
            // We generate pings irrespective of network activity. This keeps the ping logic
            // simple. We can change this behavior in future if necessary (to prevent extra pings)
            _ = self.keepalive_timeout.as_mut().unwrap_or(&mut no_sleep),
                if self.keepalive_timeout.is_some() && !self.mqtt_options.keep_alive.is_zero() => {
                let timeout = self.keepalive_timeout.as_mut().unwrap();
                timeout.as_mut().reset(Instant::now() + self.mqtt_options.keep_alive);

                let outgoing = lock(&self.state).handle_outgoing_packet(Request::PingReq(PingReq))?;
                if let Some(outgoing) = outgoing {
                    network.write(outgoing).await?;
                }
                self.pingresp_deadline = Some(Instant::now() + self.mqtt_options.keep_alive * 2 / 5);
                match time::timeout(network_timeout, network.flush()).await {
                    Ok(inner) => inner?,
                    Err(_)=> return Err(ConnectionError::FlushTimeout),
                };
                Ok(lock(&self.state).events.pop_front().unwrap())
            }
        };
        }
    }

    pub fn network_options(&self) -> NetworkOptions {
        self.network_options.clone()
    }

    pub fn set_network_options(&mut self, network_options: NetworkOptions) -> &mut Self {
        self.network_options = network_options;
        self
    }

    async fn next_request(
        pending: &mut VecDeque<Request>,
        rx: &Receiver<Request>,
        pending_throttle: Duration,
    ) -> Result<Request, ConnectionError> {
        if !pending.is_empty() {
            time::sleep(pending_throttle).await;
            // We must call .pop_front() AFTER sleep() otherwise we would have
            // advanced the iterator but the future might be canceled before return
            Ok(pending.pop_front().unwrap())
        } else {
            match rx.recv_async().await {
                Ok(r) => Ok(r),
                Err(_) => Err(ConnectionError::RequestsDone),
            }
        }
    }

    /// The request `next_request` would yield next, if it is ready now and flow
    /// control lets it through: never while the inflight queue is full or a collision
    /// waits (`blocked`), and a throttled pending request waits for `next_request`.
    fn try_next_request(
        pending: &mut VecDeque<Request>,
        rx: &Receiver<Request>,
        pending_throttle: Duration,
        blocked: bool,
    ) -> Option<Request> {
        if blocked {
            None
        } else if !pending.is_empty() {
            if pending_throttle.is_zero() {
                pending.pop_front()
            } else {
                None
            }
        } else {
            rx.try_recv().ok()
        }
    }
}

/// This stream internally processes requests from the request stream provided to the eventloop
/// while also consuming byte stream from the network and yielding mqtt packets as the output of
/// the stream.
/// This function (for convenience) includes internal delays for users to perform internal sleeps
/// between re-connections so that cancel semantics can be used during this sleep
async fn connect(
    mqtt_options: &MqttOptions,
    network_options: NetworkOptions,
) -> Result<(Network, ConnAck), ConnectionError> {
    // connect to the broker
    let mut network = network_connect(mqtt_options, network_options).await?;

    // make MQTT connection request (which internally awaits for ack)
    let connack = mqtt_connect(mqtt_options, &mut network).await?;

    Ok((network, connack))
}

pub(crate) async fn socket_connect(
    host: String,
    network_options: NetworkOptions,
) -> io::Result<TcpStream> {
    let addrs = lookup_host(host).await?;
    let mut last_err = None;

    for addr in addrs {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };

        socket.set_nodelay(network_options.tcp_nodelay)?;

        if let Some(send_buff_size) = network_options.tcp_send_buffer_size {
            socket.set_send_buffer_size(send_buff_size).unwrap();
        }
        if let Some(recv_buffer_size) = network_options.tcp_recv_buffer_size {
            socket.set_recv_buffer_size(recv_buffer_size).unwrap();
        }

        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        {
            if let Some(bind_device) = &network_options.bind_device {
                // call the bind_device function only if the bind_device network option is defined
                // If binding device is None or an empty string it removes the binding,
                // which is causing PermissionDenied errors in AWS environment (lambda function).
                socket.bind_device(Some(bind_device.as_bytes()))?;
            }
        }

        match socket.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                last_err = Some(e);
            }
        };
    }

    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

async fn network_connect(
    options: &MqttOptions,
    network_options: NetworkOptions,
) -> Result<Network, ConnectionError> {
    // Process Unix files early, as proxy is not supported for them.
    #[cfg(unix)]
    if matches!(options.transport(), Transport::Unix) {
        let file = options.broker_addr.as_str();
        let socket = UnixStream::connect(Path::new(file)).await?;
        let network = Network::new(
            socket,
            options.max_incoming_packet_size,
            options.max_outgoing_packet_size,
        );
        return Ok(network);
    }

    // For websockets domain and port are taken directly from `broker_addr` (which is a url).
    let (domain, port) = match options.transport() {
        #[cfg(feature = "websocket")]
        Transport::Ws => split_url(&options.broker_addr)?,
        #[cfg(all(feature = "use-rustls-no-provider", feature = "websocket"))]
        Transport::Wss(_) => split_url(&options.broker_addr)?,
        _ => options.broker_address(),
    };

    // TCP without a proxy, plain or with rustls: shared with the client's
    // threads (with the TLS session, after the handshake).
    #[cfg(feature = "proxy")]
    let proxied = options.proxy().is_some();
    #[cfg(not(feature = "proxy"))]
    let proxied = false;
    let shared = match options.transport() {
        _ if proxied => None,
        Transport::Tcp => {
            let tcp = socket_connect(format!("{domain}:{port}"), network_options.clone()).await?;
            Some(SharedTcp::new(tcp)?)
        }
        #[cfg(feature = "use-rustls-no-provider")]
        Transport::Tls(
            tls_config @ (crate::TlsConfiguration::Simple { .. }
            | crate::TlsConfiguration::Rustls(_)),
        ) => {
            let tcp = socket_connect(format!("{domain}:{port}"), network_options.clone()).await?;
            let (tcp, session) = tls::rustls_session(&options.broker_addr, &tls_config, tcp).await?;
            Some(SharedTcp::with_tls(tcp, session)?)
        }
        _ => None,
    };
    if let Some((shared, stream)) = shared {
        let mut network = Network::new(
            stream,
            options.max_incoming_packet_size,
            options.max_outgoing_packet_size,
        );
        network.shared = Some(shared);
        return Ok(network);
    }

    let tcp_stream: Box<dyn AsyncReadWrite> = {
        #[cfg(feature = "proxy")]
        match options.proxy() {
            Some(proxy) => proxy.connect(&domain, port, network_options).await?,
            None => {
                let addr = format!("{domain}:{port}");
                let tcp = socket_connect(addr, network_options).await?;
                Box::new(tcp)
            }
        }
        #[cfg(not(feature = "proxy"))]
        {
            let addr = format!("{domain}:{port}");
            let tcp = socket_connect(addr, network_options).await?;
            Box::new(tcp)
        }
    };

    let network = match options.transport() {
        Transport::Tcp => Network::new(
            tcp_stream,
            options.max_incoming_packet_size,
            options.max_outgoing_packet_size,
        ),
        #[cfg(any(feature = "use-rustls-no-provider", feature = "use-native-tls"))]
        Transport::Tls(tls_config) => {
            let socket =
                tls::tls_connect(&options.broker_addr, options.port, &tls_config, tcp_stream)
                    .await?;
            Network::new(
                socket,
                options.max_incoming_packet_size,
                options.max_outgoing_packet_size,
            )
        }
        #[cfg(unix)]
        Transport::Unix => unreachable!(),
        #[cfg(feature = "websocket")]
        Transport::Ws => {
            let mut request = options.broker_addr.as_str().into_client_request()?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());

            if let Some(request_modifier) = options.request_modifier() {
                request = request_modifier(request).await;
            }

            let (socket, response) =
                async_tungstenite::tokio::client_async(request, tcp_stream).await?;
            validate_response_headers(response)?;

            Network::new(
                WsStream::new(socket),
                options.max_incoming_packet_size,
                options.max_outgoing_packet_size,
            )
        }
        #[cfg(all(feature = "use-rustls-no-provider", feature = "websocket"))]
        Transport::Wss(tls_config) => {
            let mut request = options.broker_addr.as_str().into_client_request()?;
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());

            if let Some(request_modifier) = options.request_modifier() {
                request = request_modifier(request).await;
            }

            let connector = tls::rustls_connector(&tls_config).await?;

            let (socket, response) = async_tungstenite::tokio::client_async_tls_with_connector(
                request,
                tcp_stream,
                Some(connector),
            )
            .await?;
            validate_response_headers(response)?;

            Network::new(
                WsStream::new(socket),
                options.max_incoming_packet_size,
                options.max_outgoing_packet_size,
            )
        }
    };

    Ok(network)
}

async fn mqtt_connect(
    options: &MqttOptions,
    network: &mut Network,
) -> Result<ConnAck, ConnectionError> {
    let mut connect = Connect::new(options.client_id());
    connect.keep_alive = options.keep_alive().as_secs() as u16;
    connect.clean_session = options.clean_session();
    connect.last_will = options.last_will();
    connect.login = options.credentials();

    // send mqtt connect packet
    network.write(Packet::Connect(connect)).await?;
    network.flush().await?;

    // validate connack
    match network.read().await? {
        Incoming::ConnAck(connack) if connack.code == ConnectReturnCode::Success => Ok(connack),
        Incoming::ConnAck(connack) => Err(ConnectionError::ConnectionRefused(connack.code)),
        packet => Err(ConnectionError::NotConnAck(packet)),
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::mqttbytes::QoS;
    use bytes::BytesMut;
    use futures_util::FutureExt;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    /// A connection on which nothing arrives and which records every write.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Recorder {
        fn writes(&self) -> usize {
            self.writes.lock().unwrap().len()
        }

        /// Packet ids of the publishes written, in order.
        fn pkids(&self) -> Vec<u16> {
            let mut stream = BytesMut::from(&self.writes.lock().unwrap().concat()[..]);
            let mut pkids = Vec::new();
            while !stream.is_empty() {
                match Packet::read(&mut stream, 1024).unwrap() {
                    Packet::Publish(publish) => pkids.push(publish.pkid),
                    packet => panic!("Unexpected packet: {:?}", packet),
                }
            }
            pkids
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Pending
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.lock().unwrap().push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn connected_eventloop(inflight: u16, recorder: &Recorder) -> EventLoop {
        let mut options = MqttOptions::new("test", "localhost", 1883);
        options.set_inflight(inflight);
        let mut eventloop = EventLoop::new(options, 200);
        eventloop.network = Some(Network::new(recorder.clone(), 1024, 1024));
        eventloop
    }

    fn publish(qos: QoS) -> Request {
        Request::Publish(Publish::new("hello/world", qos, vec![1, 2, 3]))
    }

    #[tokio::test]
    async fn ready_requests_should_be_written_with_one_flush_and_yielded_in_order() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(10, &recorder);
        for _ in 0..5 {
            eventloop
                .requests_tx
                .send(publish(QoS::AtLeastOnce))
                .unwrap();
        }

        for pkid in 1..=5 {
            let event = eventloop.poll().await.unwrap();
            assert_eq!(event, Event::Outgoing(Outgoing::Publish(pkid)));
        }
        assert_eq!(recorder.writes(), 1);
        assert_eq!(recorder.pkids(), vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn request_batch_should_stop_at_full_inflight_queue() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(3, &recorder);
        for _ in 0..5 {
            eventloop
                .requests_tx
                .send(publish(QoS::AtLeastOnce))
                .unwrap();
        }

        for pkid in 1..=3 {
            let event = eventloop.poll().await.unwrap();
            assert_eq!(event, Event::Outgoing(Outgoing::Publish(pkid)));
        }
        // no ack yet: the other two wait in the channel
        assert!(eventloop.poll().now_or_never().is_none());
        assert_eq!(eventloop.requests_rx.len(), 2);
        assert_eq!(recorder.writes(), 1);
        assert_eq!(recorder.pkids(), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn request_batch_should_be_bounded() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(10, &recorder);
        let count = MAX_REQUEST_BATCH + MAX_REQUEST_BATCH / 2;
        for _ in 0..count {
            eventloop
                .requests_tx
                .send(publish(QoS::AtMostOnce))
                .unwrap();
        }

        eventloop.poll().await.unwrap();
        assert_eq!(recorder.writes(), 1);
        assert_eq!(eventloop.requests_rx.len(), count - MAX_REQUEST_BATCH);

        for _ in 1..count {
            eventloop.poll().await.unwrap();
        }
        assert_eq!(recorder.writes(), 2);
        assert!(eventloop.requests_rx.is_empty());
    }

    /// A thread that writes publishes itself also reads their acknowledgements
    /// itself at times; the event loop, which took no requests while the
    /// inflight queue was full, must learn that the queue has room again.
    #[tokio::test]
    async fn an_ack_handled_by_another_thread_lets_waiting_requests_through() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(3, &recorder);
        for _ in 0..4 {
            eventloop
                .requests_tx
                .send(publish(QoS::AtLeastOnce))
                .unwrap();
        }
        for pkid in 1..=3 {
            let event = eventloop.poll().await.unwrap();
            assert_eq!(event, Event::Outgoing(Outgoing::Publish(pkid)));
        }

        let state = eventloop.shared_state();
        let reader = std::thread::spawn(move || {
            // After the event loop went back to waiting.
            std::thread::sleep(Duration::from_millis(50));
            let puback = Incoming::PubAck(PubAck::new(1));
            lock(&state).handle_incoming_elsewhere(puback).unwrap()
        });
        let event = time::timeout(Duration::from_secs(5), eventloop.poll())
            .await
            .expect("the event loop did not take the request the freed room let through");
        let (events, answer) = reader.join().unwrap();
        assert_eq!(events, vec![Event::Incoming(Incoming::PubAck(PubAck::new(1)))]);
        assert_eq!(answer, None);
        // The queue's room, the channel's request; the ack was not the event loop's.
        assert_eq!(event.unwrap(), Event::Outgoing(Outgoing::Publish(1)));
        assert!(eventloop.state().events.is_empty());
        assert_eq!(recorder.pkids(), vec![1, 2, 3, 1]);
    }

    #[tokio::test]
    async fn pending_requests_should_be_batched_before_new_ones() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(10, &recorder);
        let mut resent = Publish::new("hello/world", QoS::AtLeastOnce, vec![1, 2, 3]);
        resent.pkid = 7;
        eventloop.pending.push_back(Request::Publish(resent));
        eventloop
            .requests_tx
            .send(publish(QoS::AtLeastOnce))
            .unwrap();

        assert_eq!(
            eventloop.poll().await.unwrap(),
            Event::Outgoing(Outgoing::Publish(7))
        );
        assert_eq!(
            eventloop.poll().await.unwrap(),
            Event::Outgoing(Outgoing::Publish(1))
        );
        assert_eq!(recorder.writes(), 1);
        assert_eq!(recorder.pkids(), vec![7, 1]);
    }

    #[tokio::test]
    async fn throttled_pending_requests_should_not_be_batched() {
        let recorder = Recorder::default();
        let mut eventloop = connected_eventloop(10, &recorder);
        eventloop
            .mqtt_options
            .set_pending_throttle(Duration::from_millis(1));
        for _ in 0..3 {
            eventloop.pending.push_back(publish(QoS::AtLeastOnce));
        }

        for pkid in 1..=3 {
            let event = eventloop.poll().await.unwrap();
            assert_eq!(event, Event::Outgoing(Outgoing::Publish(pkid)));
        }
        assert_eq!(recorder.writes(), 3);
    }
}
