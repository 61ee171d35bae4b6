//! A TCP connection, plain or under TLS, that the event loop shares with the
//! threads that use its client: a thread with a packet ready can write it
//! itself, in order with the event loop's own writes, instead of handing it
//! over through the request channel and waking the event loop for it.
//!
//! Every write, from either side, goes through one lock: bytes one side
//! could not write yet are written before anything else. Under TLS, a packet
//! is sealed into records under that lock too, so records go out in the
//! order they were sealed.
//!
//! Reads go through another lock. The event loop is handed whole packets,
//! so that what was read and not handed over yet always starts at a packet:
//! a thread waiting for one acknowledgement can borrow the reading (`lend`),
//! read the socket itself when the kernel wakes it, and take that packet.
//!
//! The runtime watches the socket through two registrations: one for
//! writing, always there, and one for reading, which a thread that expects
//! only acknowledgements can withdraw for a while (`hush`), so that the
//! runtime's thread is not woken for each of them; that thread then reads
//! them itself at its next call.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;

#[cfg(feature = "use-rustls-no-provider")]
use tokio_rustls::rustls::ClientConnection;

pub struct SharedTcp {
    /// The socket, registered with the runtime for writing only: what
    /// arrives does not wake the runtime through it (see `Reader`).
    stream: AsyncFd<std::net::TcpStream>,
    /// The TLS session over `stream`, if any: records are sealed and opened
    /// under its lock (taken after `unwritten` or `inbound`, never before).
    #[cfg(feature = "use-rustls-no-provider")]
    tls: Option<Mutex<ClientConnection>>,
    /// Accepted and not yet in the kernel's send buffer: written first.
    unwritten: Mutex<BytesMut>,
    /// Read and not yet handed to the event loop.
    inbound: Mutex<Inbound>,
    /// The event loop let go of the connection.
    closed: AtomicBool,
    /// A hush is on (`Inbound::reader` is quiet) and nobody ended it yet
    /// (`listen`), readable without the lock of `inbound`.
    quiet: AtomicBool,
    /// Where the rest of a packet written only in part gets written.
    runtime: Handle,
}

/// How `SharedTcp::write_now` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// All of it is in the kernel's send buffer.
    Now,
    /// Part of it is; the event loop's runtime writes the rest.
    Started,
    /// Nothing was written: other bytes wait ahead of it, the send buffer is
    /// full, or the connection is gone. Hand it to the event loop instead.
    NotNow,
}

impl SharedTcp {
    /// Shares `stream`; the returned `SharedStream` is the event loop's end.
    /// Inside a tokio runtime.
    pub(crate) fn new(stream: TcpStream) -> io::Result<(Arc<SharedTcp>, SharedStream)> {
        Self::share(
            stream,
            #[cfg(feature = "use-rustls-no-provider")]
            None,
        )
    }

    fn share(
        stream: TcpStream,
        #[cfg(feature = "use-rustls-no-provider")] tls: Option<ClientConnection>,
    ) -> io::Result<(Arc<SharedTcp>, SharedStream)> {
        let stream = stream.into_std()?;
        let reader = watch(stream.try_clone()?, Interest::READABLE)?;
        let shared = Arc::new(SharedTcp {
            stream: watch(stream, Interest::WRITABLE)?,
            #[cfg(feature = "use-rustls-no-provider")]
            tls: tls.map(Mutex::new),
            unwritten: Mutex::new(BytesMut::new()),
            inbound: Mutex::new(Inbound {
                reader: Reader::Listening(reader),
                ..Inbound::default()
            }),
            closed: AtomicBool::new(false),
            quiet: AtomicBool::new(false),
            runtime: Handle::current(),
        });
        Ok((shared.clone(), SharedStream(shared)))
    }

    /// Shares `stream` with the TLS session `tls` over it, its handshake
    /// done. Inside a tokio runtime.
    #[cfg(feature = "use-rustls-no-provider")]
    pub(crate) fn with_tls(
        stream: TcpStream,
        mut tls: ClientConnection,
    ) -> io::Result<(Arc<SharedTcp>, SharedStream)> {
        // A packet is sealed whole, however large: the lock of `unwritten`
        // bounds what waits, as over plain TCP.
        tls.set_buffer_limit(None);
        Self::share(stream, Some(tls))
    }

    /// The bytes that carry `packet`: itself over plain TCP; under TLS, its
    /// records, sealed into `sealed` now and due on the wire in this order.
    /// Under the lock of `unwritten`.
    fn wire<'a>(&self, packet: &'a [u8], sealed: &'a mut Vec<u8>) -> io::Result<&'a [u8]> {
        #[cfg(feature = "use-rustls-no-provider")]
        if let Some(tls) = &self.tls {
            let mut tls = lock(tls);
            tls.writer().write_all(packet)?;
            while tls.wants_write() {
                tls.write_tls(sealed)?;
            }
            return Ok(sealed);
        }
        let _ = sealed;
        Ok(packet)
    }

    /// Whether bytes `wire` gave are owed to the connection once made: TLS
    /// records, sealed under the session's next sequence numbers.
    fn sealed(&self) -> bool {
        #[cfg(feature = "use-rustls-no-provider")]
        return self.tls.is_some();
        #[cfg(not(feature = "use-rustls-no-provider"))]
        false
    }

    /// Reads what the socket has into `bytes` with `read` (one read(2) of
    /// the socket); under TLS, what its records carry, every byte of it, so
    /// that nothing waits in the session unseen. `Ok(0)`: the end.
    fn receive(
        self: &Arc<Self>,
        bytes: &mut BytesMut,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        #[cfg(feature = "use-rustls-no-provider")]
        if let Some(tls) = &self.tls {
            return self.receive_tls(tls, bytes, read);
        }
        read_into(bytes, &mut read)
    }

    #[cfg(feature = "use-rustls-no-provider")]
    fn receive_tls(
        self: &Arc<Self>,
        tls: &Mutex<ClientConnection>,
        bytes: &mut BytesMut,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut received = 0;
        loop {
            let mut session = lock(tls);
            loop {
                match read_into(bytes, &mut |spare: &mut [u8]| session.reader().read(spare)) {
                    Ok(0) => return Ok(received),
                    Ok(n) => received += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && received > 0 => {
                        return Ok(received)
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The broker closed TCP without TLS's close_notify.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(received),
                    Err(e) => return Err(e),
                }
            }
            let arrived = session.read_tls(&mut FromRead(&mut read))?;
            let opened = session.process_new_packets();
            let answer = session.wants_write();
            drop(session);
            if answer {
                // An alert, or an answer to a key update: after what waits.
                self.queue_records();
                self.write_later();
            }
            opened.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if arrived == 0 {
                // TCP's end; the session has said all it had.
                return Ok(received);
            }
        }
    }

    /// Moves the records the TLS session has for the broker behind what
    /// waits to be written.
    #[cfg(feature = "use-rustls-no-provider")]
    fn queue_records(&self) {
        let Some(tls) = &self.tls else {
            return;
        };
        let Ok(mut unwritten) = self.unwritten.lock() else {
            return;
        };
        let mut tls = lock(tls);
        let mut records = bytes::BufMut::writer(&mut *unwritten);
        while tls.wants_write() && tls.write_tls(&mut records).is_ok() {}
    }

    /// Writes `packet` (whole packets only) if nothing waits ahead of it.
    /// Never blocks.
    pub fn write_now(self: &Arc<Self>, packet: &[u8]) -> Written {
        if self.closed.load(Ordering::Acquire) {
            return Written::NotNow;
        }
        let Ok(mut unwritten) = self.unwritten.lock() else {
            return Written::NotNow;
        };
        if !unwritten.is_empty() {
            return Written::NotNow;
        }
        let mut sealed = Vec::new();
        let Ok(bytes) = self.wire(packet, &mut sealed) else {
            return Written::NotNow;
        };
        let written = match self.socket().write(bytes) {
            Ok(n) if n == bytes.len() => return Written::Now,
            Ok(n) => n,
            // Sealed records are owed to the connection, written or not.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.sealed() => 0,
            // A full send buffer, or an error the event loop meets as well.
            Err(_) => return Written::NotNow,
        };
        unwritten.extend_from_slice(&bytes[written..]);
        drop(unwritten);
        self.write_later();
        Written::Started
    }

    /// Writes `packet` (whole packets only) now, or after the bytes that wait
    /// ahead of it as soon as the socket takes them: for a packet the protocol
    /// state already counts as sent. Never blocks. Should the connection be
    /// gone, the state's copy goes out again after the reconnect.
    pub fn write_or_queue(self: &Arc<Self>, packet: &[u8]) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut unwritten) = self.unwritten.lock() else {
            return;
        };
        // The event loop meets a broken connection or session itself.
        if self.write_or_keep(&mut unwritten, packet).is_ok() && !unwritten.is_empty() {
            drop(unwritten);
            self.write_later();
        }
    }

    /// Writes `packet` (sealed, under TLS) if nothing waits ahead of it, and
    /// keeps in `unwritten` what the socket does not take now.
    fn write_or_keep(&self, unwritten: &mut BytesMut, packet: &[u8]) -> io::Result<()> {
        let mut sealed = Vec::new();
        let bytes = self.wire(packet, &mut sealed)?;
        if !unwritten.is_empty() {
            unwritten.extend_from_slice(bytes);
            return Ok(());
        }
        match self.socket().write(bytes) {
            Ok(n) => unwritten.extend_from_slice(&bytes[n..]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => unwritten.extend_from_slice(bytes),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The socket, for a thread that waits with poll(2) until it is readable.
    pub fn raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The socket, to read and write past the runtime's idea of its
    /// readiness (never blocks).
    fn socket(&self) -> &std::net::TcpStream {
        self.stream.get_ref()
    }

    /// Reads the socket, and has what arrived acknowledged at once. A broker
    /// that leaves Nagle's algorithm on (Mosquitto's default) holds its next
    /// small packet to us until we acknowledge the last, and the kernel
    /// delays that acknowledgement by up to 40 ms when nothing goes back:
    /// a reply behind the PUBACK of an answer, or a PUBACK behind a message
    /// this connection subscribed to, would wait that long. Not within a
    /// `hush`, where only acknowledgements of our own publishes are
    /// expected, and ours goes out with the next publish: a lender that meets
    /// anything else has it acknowledged then (`Lent::take`).
    fn read_socket(&self, spare: &mut [u8]) -> io::Result<usize> {
        let n = self.socket().read(spare)?;
        if n > 0 && !self.is_quiet() {
            acknowledge_now(self.socket());
        }
        Ok(n)
    }

    /// Lends the reading to the calling thread until the `Lent` is dropped:
    /// the event loop reads nothing meanwhile. `None` while another thread
    /// has it, or the connection is gone.
    pub fn lend(self: &Arc<Self>) -> Option<Lent> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut inbound = self.inbound.lock().ok()?;
        if inbound.lent {
            return None;
        }
        inbound.lent = true;
        Some(Lent {
            shared: Arc::clone(self),
            drained: Cell::new(false),
        })
    }

    /// Nothing accepted is left to write (or the connection is gone).
    pub fn is_drained(&self) -> bool {
        self.closed.load(Ordering::Acquire)
            || self
                .unwritten
                .lock()
                .map_or(true, |unwritten| unwritten.is_empty())
    }

    /// The rest is written on the event loop's runtime.
    fn write_later(self: &Arc<Self>) {
        let shared = Arc::clone(self);
        self.runtime
            .spawn(async move { shared.write_unwritten().await });
    }

    async fn write_unwritten(&self) {
        loop {
            let Ok(mut writable) = self.stream.writable().await else {
                return;
            };
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            let Ok(mut unwritten) = self.unwritten.lock() else {
                return;
            };
            match writable.try_io(|socket| socket.get_ref().write(&unwritten)) {
                Ok(Ok(n)) => unwritten.advance(n),
                // The event loop meets the broken connection itself.
                Ok(Err(_)) => return,
                Err(_would_block) => {}
            }
            if unwritten.is_empty() {
                return;
            }
        }
    }

    /// Withdraws the runtime's watch for reading, for `quiet_for`: what
    /// arrives meanwhile does not wake its thread. For a thread that wrote a
    /// packet and expects only its acknowledgement, which it takes itself
    /// (`lend`), now or at its next call. The event loop still reads what
    /// is there whenever it runs, and a lender that meets anything else
    /// ends the hush; at the end the runtime watches again.
    pub fn hush(self: &Arc<Self>, quiet_for: Duration) {
        let Ok(mut inbound) = self.inbound.lock() else {
            return;
        };
        if !matches!(inbound.reader, Reader::Listening(_)) {
            return;
        }
        if let Reader::Listening(reader) = std::mem::take(&mut inbound.reader) {
            inbound.reader = Reader::Quiet(reader.into_inner());
        }
        self.quiet.store(true, Ordering::Release);
        drop(inbound);
        let shared = Arc::downgrade(self);
        self.runtime.spawn(async move {
            tokio::time::sleep(quiet_for).await;
            if let Some(shared) = shared.upgrade() {
                shared.listen();
            }
        });
    }

    /// The runtime does not watch the socket for reading (`hush`), and
    /// nobody ended that yet (`listen`): what arrived since waits for a
    /// lender, or for `listen`.
    pub fn is_quiet(&self) -> bool {
        self.quiet.load(Ordering::Acquire)
    }

    /// Ends a `hush`: the event loop reads, and watches the socket again.
    pub fn listen(&self) {
        if let Ok(mut inbound) = self.inbound.lock() {
            self.end_hush(&mut inbound);
        }
    }

    fn end_hush(&self, inbound: &mut Inbound) {
        if let Reader::Quiet(_) = inbound.reader {
            inbound.hush_over = true;
            self.quiet.store(false, Ordering::Release);
            if let Waiting::ForSocket(task) = &inbound.waiting {
                task.wake_by_ref();
            }
        }
    }
}

/// The event loop's end of a `SharedTcp`. Dropping it closes the shared
/// side: nothing more is written through `write_now`.
pub struct SharedStream(Arc<SharedTcp>);

impl Drop for SharedStream {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
    }
}

fn poisoned() -> io::Error {
    io::Error::new(io::ErrorKind::Other, "a writer of the connection panicked")
}

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let shared = &self.0;
        let mut inbound = shared.inbound.lock().map_err(|_| poisoned())?;
        let inbound = &mut *inbound;
        inbound.waiting = Waiting::No;
        if std::mem::take(&mut inbound.hush_over) {
            if let Reader::Quiet(socket) = std::mem::take(&mut inbound.reader) {
                inbound.reader = Reader::Listening(watch(socket, Interest::READABLE)?);
            }
            shared.quiet.store(false, Ordering::Release);
        }
        let read = |spare: &mut [u8]| shared.read_socket(spare);
        loop {
            if inbound.lent {
                inbound.waiting = Waiting::ForLender(cx.waker().clone());
                return Poll::Pending;
            }
            let n = inbound.ready(buf.remaining());
            if n > 0 {
                buf.put_slice(&inbound.bytes[..n]);
                inbound.bytes.advance(n);
                return Poll::Ready(Ok(()));
            }
            let received = match &inbound.reader {
                Reader::Listening(reader) => {
                    let Poll::Ready(mut readable) = reader.poll_read_ready(cx)? else {
                        inbound.waiting = Waiting::ForSocket(cx.waker().clone());
                        return Poll::Pending;
                    };
                    let bytes = &mut inbound.bytes;
                    // Nothing to read clears the readiness, and the loop waits.
                    let Ok(received) = readable.try_io(|_| shared.receive(bytes, read)) else {
                        continue;
                    };
                    received?
                }
                // Hushed: what is there now. A lender that meets anything
                // else, or the hush's end, wakes the task.
                Reader::Quiet(_) => match shared.receive(&mut inbound.bytes, read) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        inbound.waiting = Waiting::ForSocket(cx.waker().clone());
                        return Poll::Pending;
                    }
                    received => received?,
                },
                Reader::Gone => {
                    return Poll::Ready(Err(io::Error::other("the socket is not watched")))
                }
            };
            // The end: what is left goes as it is (nothing: the end).
            if received == 0 {
                let n = inbound.bytes.len().min(buf.remaining());
                buf.put_slice(&inbound.bytes[..n]);
                inbound.bytes.advance(n);
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// TCP_QUICKACK: an acknowledgement the kernel holds back goes now, and
/// the next ones go at once until it sees a reply follow a read again.
/// Best effort: without it, only the delay above comes back.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn acknowledge_now(socket: &std::net::TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: a valid descriptor, and an option value of the size given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn acknowledge_now(_socket: &std::net::TcpStream) {}

/// Registers `socket` with the runtime, for `interest` only. Inside a
/// tokio runtime.
fn watch(
    socket: std::net::TcpStream,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::TcpStream>> {
    // SAFETY: a TcpStream owns its descriptor and always reports that one.
    unsafe { AsyncFd::register_with_interest(socket, interest) }.map_err(|e| e.into_parts().1)
}

/// Packets up to this size are handed to the event loop whole; larger ones
/// as they arrive.
const WHOLE_UP_TO: usize = 64 * 1024;

/// Read from the socket and not yet handed to the event loop. Unless
/// `passing`, it starts at a packet.
#[derive(Default)]
struct Inbound {
    bytes: BytesMut,
    /// Bytes still to come of a packet handed over as it arrives.
    passing: usize,
    /// Another thread reads for itself (`Lent`): the event loop waits.
    lent: bool,
    /// The event loop's task while it waits to read.
    waiting: Waiting,
    /// The socket again, for the runtime to watch for reading.
    reader: Reader,
    /// A hush ended (`SharedTcp::listen`): the event loop watches again.
    hush_over: bool,
    /// A lender met the connection's end (or an error).
    ended: bool,
}

/// The runtime's watch of the socket for reading.
#[derive(Default)]
enum Reader {
    Listening(AsyncFd<std::net::TcpStream>),
    /// Withdrawn (`SharedTcp::hush`) until the hush ends (`listen`).
    Quiet(std::net::TcpStream),
    /// Only while one becomes the other, or if watching again failed.
    #[default]
    Gone,
}

/// What the event loop's task waits for, if it waits to read.
#[derive(Default)]
enum Waiting {
    #[default]
    No,
    /// The reading to come back from a lender.
    ForLender(Waker),
    /// The runtime to report the socket readable. A lender that read what
    /// it would have reported wakes the task instead, and so does the end
    /// of a hush.
    ForSocket(Waker),
}

/// Reads into the spare room of `bytes`, made at least 8 KiB, with `read`.
fn read_into(
    bytes: &mut BytesMut,
    read: &mut impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    bytes.reserve(8 * 1024);
    let spare = bytes.spare_capacity_mut();
    // SAFETY: `read` only writes into the buffer (read(2), or a copy of
    // plaintext), and only the bytes it wrote are marked initialised below.
    let spare = unsafe { &mut *(spare as *mut [std::mem::MaybeUninit<u8>] as *mut [u8]) };
    let n = read(spare)?;
    // SAFETY: `read` wrote `n` bytes.
    unsafe { bytes.set_len(bytes.len() + n) };
    Ok(n)
}

/// A read function as `io::Read`, for the TLS session to read records with.
#[cfg(feature = "use-rustls-no-provider")]
struct FromRead<'a, F>(&'a mut F);

#[cfg(feature = "use-rustls-no-provider")]
impl<F: FnMut(&mut [u8]) -> io::Result<usize>> Read for FromRead<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (self.0)(buf)
    }
}

impl Inbound {
    /// How many bytes to hand the event loop now, at most `room`: whole
    /// packets, or the next part of one too large to hold whole.
    fn ready(&mut self, room: usize) -> usize {
        if self.passing > 0 {
            let n = self.passing.min(self.bytes.len()).min(room);
            self.passing -= n;
            return n;
        }
        let mut whole = 0;
        loop {
            match packet_len(&self.bytes[whole..]) {
                Some(Ok(len)) if whole + len <= self.bytes.len() && whole + len <= room => {
                    whole += len;
                }
                Some(Ok(len)) if whole == 0 && (len > WHOLE_UP_TO || len > room) => {
                    let n = self.bytes.len().min(room);
                    self.passing = len - n;
                    return n;
                }
                // Malformed: the event loop's decoder says so.
                Some(Err(())) if whole == 0 => {
                    self.passing = usize::MAX;
                    return self.bytes.len().min(room);
                }
                _ => return whole,
            }
        }
    }

    /// The packet at the start, if it arrived whole.
    fn first_packet(&self) -> Option<usize> {
        if self.passing > 0 {
            return None;
        }
        match packet_len(&self.bytes)? {
            Ok(len) if len <= self.bytes.len() => Some(len),
            _ => None,
        }
    }
}

/// The length of the packet `bytes` starts with, once its fixed header
/// arrived; `Err` for a remaining length longer than MQTT allows.
fn packet_len(bytes: &[u8]) -> Option<Result<usize, ()>> {
    let mut remaining = 0usize;
    for i in 0..4 {
        let byte = *bytes.get(1 + i)?;
        remaining |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(Ok(1 + (i + 1) + remaining));
        }
    }
    Some(Err(()))
}

/// What `Lent::take` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrived {
    /// The packet that was wanted, taken out of the stream.
    Wanted(Bytes),
    /// Another packet is next: it is the event loop's.
    Other,
    /// Nothing whole yet.
    Nothing,
    /// The connection ended or failed.
    Closed,
}

/// The reading of a `SharedTcp`, lent to one thread (`SharedTcp::lend`).
/// Dropping it gives it back to the event loop.
pub struct Lent {
    shared: Arc<SharedTcp>,
    /// The last read took less than it could: the socket had no more then.
    drained: Cell<bool>,
}

impl Lent {
    /// The next `take` reads nothing from the socket: what the lender waits
    /// for was just asked for and cannot be there yet, so a read would only
    /// find it empty. It takes only what was read before; poll(2) tells the
    /// lender when to call it again.
    pub fn just_asked(&self) {
        self.drained.set(true);
    }

    /// Reads what the socket has (never waits) and takes the next packet if
    /// `wanted` says so. `Closed` too once the event loop let go of the
    /// connection. Right after a read that emptied the socket, `Nothing`
    /// comes without another read; the next call reads again.
    pub fn take(&self, wanted: impl FnOnce(&[u8]) -> bool) -> Arrived {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Arrived::Closed;
        }
        let Ok(mut inbound) = shared.inbound.lock() else {
            return Arrived::Closed;
        };
        loop {
            if let Some(len) = inbound.first_packet() {
                if !wanted(&inbound.bytes[..len]) {
                    if shared.is_quiet() {
                        // More than acknowledgements came, which the hush
                        // assumed would not: more may follow. Acknowledged at
                        // once, and the runtime reads what comes.
                        acknowledge_now(shared.socket());
                        shared.end_hush(&mut inbound);
                    }
                    return Arrived::Other;
                }
                return Arrived::Wanted(inbound.bytes.split_to(len).freeze());
            }
            if inbound.passing > 0 {
                return Arrived::Other;
            }
            if self.drained.replace(false) {
                return Arrived::Nothing;
            }
            // Straight from the kernel: tokio's idea of the socket's
            // readiness waits for the event loop's thread to run.
            let read = |spare: &mut [u8]| {
                let n = shared.read_socket(spare)?;
                self.drained.set(n < spare.len());
                Ok(n)
            };
            match shared.receive(&mut inbound.bytes, read) {
                Ok(0) => {
                    inbound.ended = true;
                    return Arrived::Closed;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Arrived::Nothing,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    inbound.ended = true;
                    return Arrived::Closed;
                }
            }
        }
    }
}

impl Drop for Lent {
    /// Gives the reading back, and wakes the event loop if it waited for
    /// it, or if what the lender read (or met: the end) is for it: the
    /// runtime, having found nothing left in the socket, or not watching it
    /// (`hush`), would not.
    fn drop(&mut self) {
        let Ok(mut inbound) = self.shared.inbound.lock() else {
            return;
        };
        inbound.lent = false;
        let for_it = !inbound.bytes.is_empty() || inbound.ended;
        let hushed = matches!(inbound.reader, Reader::Quiet(_)) && !inbound.hush_over;
        match &inbound.waiting {
            // Hushed, and nothing for it: it waits as if it had found the
            // socket empty, for a lender or the hush's end to wake it.
            Waiting::ForLender(task) if hushed && !for_it => {
                let task = task.clone();
                inbound.waiting = Waiting::ForSocket(task);
            }
            Waiting::ForLender(task) => task.wake_by_ref(),
            Waiting::ForSocket(task) if for_it => task.wake_by_ref(),
            _ => {}
        }
    }
}

impl AsyncWrite for SharedStream {
    /// Takes all of `buf`: what the kernel does not take now is written by
    /// `poll_flush`, before anything written after it.
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut unwritten = self.0.unwritten.lock().map_err(|_| poisoned())?;
        self.0.write_or_keep(&mut unwritten, buf)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.0.unwritten.lock().map_err(|_| poisoned())?.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let mut writable = ready!(self.0.stream.poll_write_ready(cx))?;
            let mut unwritten = self.0.unwritten.lock().map_err(|_| poisoned())?;
            match writable.try_io(|socket| socket.get_ref().write(&unwritten)) {
                Ok(Ok(n)) => unwritten.advance(n),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {}
            }
        }
    }

    /// Writes what waits (under TLS, then its close_notify), then ends the
    /// write half (a FIN); the socket closes when both ends let go of it.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        #[cfg(feature = "use-rustls-no-provider")]
        if let Some(tls) = &self.0.tls {
            // Once: a second call sends nothing more.
            lock(tls).send_close_notify();
            self.0.queue_records();
        }
        ready!(self.as_mut().poll_flush(cx))?;
        match self.0.socket().shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Locks the protocol state an event loop shares with the threads that
/// write packets themselves (see `EventLoop::shared_state`). A thread that
/// panicked while holding it left it as consistent as any single call does.
pub fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_packets_length_is_known_once_its_fixed_header_arrived() {
        assert_eq!(packet_len(&[0x40, 0x02]), Some(Ok(4)));
        assert_eq!(packet_len(&[0x30, 0x80, 0x01]), Some(Ok(1 + 2 + 128)));
        assert_eq!(packet_len(&[0x30]), None);
        assert_eq!(packet_len(&[0x30, 0x80]), None);
        assert_eq!(packet_len(&[0x30, 0xff, 0xff, 0xff, 0xff]), Some(Err(())));
    }

    #[test]
    fn the_event_loop_is_handed_whole_packets_and_large_ones_in_parts() {
        let mut inbound = Inbound::default();
        // A PUBACK, then the start of a 7-byte PUBLISH.
        inbound
            .bytes
            .extend_from_slice(&[0x40, 0x02, 0x00, 0x01, 0x30, 0x05, 0x00]);
        assert_eq!(inbound.first_packet(), Some(4));
        assert_eq!(inbound.ready(1024), 4);
        inbound.bytes.advance(4);
        assert_eq!((inbound.first_packet(), inbound.ready(1024)), (None, 0));

        inbound.bytes.extend_from_slice(&[0x01, b't', b'x', b'y']);
        assert_eq!(inbound.first_packet(), Some(7));
        // Less room than the packet: it goes in parts, and nothing is a
        // packet's start until its last part went.
        assert_eq!(inbound.ready(5), 5);
        inbound.bytes.advance(5);
        assert_eq!((inbound.passing, inbound.first_packet()), (2, None));
        assert_eq!(inbound.ready(1024), 2);
        inbound.bytes.advance(2);
        assert_eq!(inbound.passing, 0);

        // Larger than is held whole: handed over as it arrives.
        let mut large = vec![0x30, 0x80, 0x80, 0x08];
        large.extend_from_slice(&[0; 100]);
        inbound.bytes.extend_from_slice(&large);
        assert_eq!(inbound.ready(1 << 20), large.len());
        assert_eq!(inbound.passing, 4 + 131_072 - large.len());
    }

    /// A broker's end and a shared client's end of one loopback connection,
    /// with an event loop that reads the shared end on a runtime of its own
    /// thread and hands over what it reads.
    struct Looped {
        broker: std::net::TcpStream,
        shared: Arc<SharedTcp>,
        read: std::sync::mpsc::Receiver<Vec<u8>>,
        /// How many times the event loop ran.
        polls: Arc<std::sync::atomic::AtomicUsize>,
    }

    fn looped() -> Looped {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (broker, _) = listener.accept().unwrap();
        client.set_nonblocking(true).unwrap();
        let (shared, mut stream) = {
            let _runtime = runtime.enter();
            SharedTcp::new(tokio::net::TcpStream::from_std(client).unwrap()).unwrap()
        };
        let (hand_over, read) = std::sync::mpsc::channel();
        let polls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let polled = Arc::clone(&polls);
        std::thread::spawn(move || {
            runtime.block_on(std::future::poll_fn(|cx| loop {
                polled.fetch_add(1, Ordering::SeqCst);
                let mut bytes = [0; 256];
                let mut buf = ReadBuf::new(&mut bytes);
                match ready!(Pin::new(&mut stream).poll_read(cx, &mut buf)) {
                    Ok(()) if !buf.filled().is_empty() => {
                        if hand_over.send(buf.filled().to_vec()).is_err() {
                            return Poll::Ready(());
                        }
                    }
                    _ => return Poll::Ready(()),
                }
            }))
        });
        // The event loop waits for the socket, its reads done.
        std::thread::sleep(std::time::Duration::from_millis(50));
        Looped {
            broker,
            shared,
            read,
            polls,
        }
    }

    impl Looped {
        fn send(&mut self, bytes: &[u8]) {
            std::io::Write::write_all(&mut self.broker, bytes).unwrap();
        }

        /// What the event loop read, `len` bytes in all.
        fn receive(&self, len: usize) -> Vec<u8> {
            let mut received = Vec::new();
            while received.len() < len {
                let more = self.read.recv_timeout(std::time::Duration::from_secs(5));
                received.extend(more.expect("the event loop read nothing"));
            }
            received
        }

        fn polls(&self) -> usize {
            self.polls.load(Ordering::SeqCst)
        }

        /// Waits up to a second for the lender's next packet.
        fn take(&self, lent: &Lent, wanted: &[u8]) -> Arrived {
            for _ in 0..1000 {
                match lent.take(|packet| packet == wanted) {
                    Arrived::Nothing => std::thread::sleep(std::time::Duration::from_millis(1)),
                    arrived => return arrived,
                }
            }
            Arrived::Nothing
        }
    }

    const PUBACK: [u8; 4] = [0x40, 0x02, 0x00, 0x01];
    const PUBLISH: [u8; 5] = [0x30, 0x03, 0x00, 0x01, b't'];

    #[test]
    fn the_event_loop_reads_again_after_any_number_of_lendings() {
        let mut looped = looped();
        for _ in 0..3 {
            drop(looped.shared.lend().unwrap());
        }
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
    }

    #[test]
    fn a_packet_before_the_lenders_goes_to_the_event_loop_when_the_reading_comes_back() {
        let mut looped = looped();
        let lent = looped.shared.lend().unwrap();
        assert!(
            looped.shared.lend().is_none(),
            "lent to one thread at a time"
        );
        looped.send(&[&PUBLISH[..], &PUBACK].concat());
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Other);
        assert!(looped.read.try_recv().is_err(), "read while lent");
        drop(lent);
        let arrived = looped.receive(PUBLISH.len() + PUBACK.len());
        assert_eq!(arrived, [&PUBLISH[..], &PUBACK].concat());
    }

    #[test]
    fn a_packet_after_the_lenders_goes_to_the_event_loop_when_the_reading_comes_back() {
        let mut looped = looped();
        let lent = looped.shared.lend().unwrap();
        looped.send(&[&PUBACK[..], &PUBLISH].concat());
        let wanted = looped.take(&lent, &PUBACK);
        assert_eq!(wanted, Arrived::Wanted(Bytes::from_static(&PUBACK)));
        drop(lent);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
    }

    #[test]
    fn a_lender_that_just_asked_takes_what_was_read_before_and_reads_on_its_next_call() {
        let mut looped = looped();
        let lent = looped.shared.lend().unwrap();
        looped.send(&[&PUBACK[..], &PUBACK].concat());
        std::thread::sleep(std::time::Duration::from_millis(20));
        lent.just_asked();
        assert_eq!(lent.take(|_| true), Arrived::Nothing, "read the socket");
        let puback = Arrived::Wanted(Bytes::from_static(&PUBACK));
        assert_eq!(lent.take(|_| true), puback);
        lent.just_asked();
        assert_eq!(lent.take(|_| true), puback, "the second, read before");
    }

    #[test]
    fn a_hushed_event_loop_is_not_woken_by_what_a_lender_takes_and_anything_else_ends_the_hush() {
        let mut looped = looped();
        let polls = looped.polls();
        looped.shared.hush(std::time::Duration::from_secs(60));
        assert!(looped.shared.is_quiet());
        for _ in 0..20 {
            looped.send(&PUBACK);
            let lent = looped.shared.lend().unwrap();
            let wanted = looped.take(&lent, &PUBACK);
            assert_eq!(wanted, Arrived::Wanted(Bytes::from_static(&PUBACK)));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(looped.polls(), polls, "woken while hushed");

        looped.send(&PUBLISH);
        let lent = looped.shared.lend().unwrap();
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Other);
        drop(lent);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);

        // That ended the hush: the event loop reads what comes itself.
        assert!(!looped.shared.is_quiet(), "more than acknowledgements came");
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);

        // And so does listen().
        looped.shared.hush(std::time::Duration::from_secs(60));
        assert!(looped.shared.is_quiet());
        looped.shared.listen();
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
        assert!(
            !looped.shared.is_quiet(),
            "watched again once the hush ended"
        );
    }

    #[test]
    fn a_hush_ends_after_its_time() {
        let mut looped = looped();
        looped.shared.hush(std::time::Duration::from_millis(20));
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
        assert!(!looped.shared.is_quiet());
    }

    #[test]
    fn a_lender_that_meets_the_end_wakes_a_hushed_event_loop() {
        let looped = looped();
        looped.shared.hush(std::time::Duration::from_secs(60));
        looped.broker.shutdown(std::net::Shutdown::Both).unwrap();
        let lent = looped.shared.lend().unwrap();
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Closed);
        drop(lent);
        let ended = looped.read.recv_timeout(std::time::Duration::from_secs(5));
        assert_eq!(ended, Err(std::sync::mpsc::RecvTimeoutError::Disconnected));
    }

    /// Segments the broker's end sent that the client's kernel has not
    /// acknowledged yet.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn unacknowledged(broker: &std::net::TcpStream) -> u32 {
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: a valid descriptor, and room for the option's value.
        let done = unsafe {
            libc::getsockopt(
                broker.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        assert_eq!(done, 0, "{}", io::Error::last_os_error());
        info.tcpi_unacked
    }

    /// Questions and answers, as with publishSync(): the client answers
    /// right after it reads, so its kernel starts to delay acknowledgements
    /// in the hope of sending them with an answer.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn answer_a_few(looped: &mut Looped) {
        for _ in 0..4 {
            looped.send(&PUBLISH);
            assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
            assert_eq!(looped.shared.write_now(&PUBACK), Written::Now);
            let mut answer = [0; PUBACK.len()];
            std::io::Read::read_exact(&mut looped.broker, &mut answer).unwrap();
        }
    }

    /// Until the broker's end has its acknowledgement, for up to 30 ms: less
    /// than the 40 ms the kernel delays one at the least.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn acknowledged_soon(broker: &std::net::TcpStream) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(30);
        while unacknowledged(broker) > 0 {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        true
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn what_the_event_loop_reads_is_acknowledged_at_once() {
        let mut looped = looped();
        answer_a_few(&mut looped);
        // Nothing goes back this time: a broker with Nagle's algorithm on
        // holds its next packet until this one is acknowledged.
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
        assert!(acknowledged_soon(&looped.broker));
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn what_a_lender_reads_is_acknowledged_at_once() {
        let mut looped = looped();
        answer_a_few(&mut looped);
        let lent = looped.shared.lend().unwrap();
        // A message this connection subscribed to, ahead of the awaited PUBACK.
        looped.send(&PUBLISH);
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Other);
        assert!(acknowledged_soon(&looped.broker));
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn a_hushed_lender_has_anything_but_its_acknowledgements_acknowledged_at_once() {
        let mut looped = looped();
        answer_a_few(&mut looped);
        looped.shared.hush(std::time::Duration::from_secs(60));
        let lent = looped.shared.lend().unwrap();
        // An UNSUBACK, say, ahead of the awaited PUBACK.
        looped.send(&PUBLISH);
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Other);
        assert!(acknowledged_soon(&looped.broker));
    }

    #[test]
    fn a_lender_meets_the_end_after_part_of_a_packet() {
        let mut looped = looped();
        let lent = looped.shared.lend().unwrap();
        looped.send(&PUBLISH[..2]);
        looped.broker.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(looped.take(&lent, &PUBACK), Arrived::Closed);
    }

    #[test]
    fn a_hushed_event_loop_that_ran_while_the_reading_was_lent_sleeps_on() {
        let mut looped = looped();
        looped.shared.hush(std::time::Duration::from_secs(60));
        let lent = looped.shared.lend().unwrap();
        // Woken for something else (a request, say) while the reading is lent.
        if let Waiting::ForSocket(task) = &looped.shared.inbound.lock().unwrap().waiting {
            task.wake_by_ref();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let polls = looped.polls();
        looped.send(&PUBACK);
        let wanted = looped.take(&lent, &PUBACK);
        assert_eq!(wanted, Arrived::Wanted(Bytes::from_static(&PUBACK)));
        drop(lent);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(looped.polls(), polls, "woken by the lending's end");

        looped.shared.listen();
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
    }

    #[test]
    fn a_hush_while_the_reading_is_lent_outlasts_the_lending() {
        let mut looped = looped();
        let polls = looped.polls();
        let lent = looped.shared.lend().unwrap();
        looped.shared.hush(std::time::Duration::from_secs(60));
        looped.send(&PUBACK);
        let wanted = looped.take(&lent, &PUBACK);
        assert_eq!(wanted, Arrived::Wanted(Bytes::from_static(&PUBACK)));
        drop(lent);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(looped.polls(), polls, "woken while hushed");
        assert!(looped.shared.is_quiet());
        looped.shared.listen();
        looped.send(&PUBLISH);
        assert_eq!(looped.receive(PUBLISH.len()), PUBLISH);
    }
}
