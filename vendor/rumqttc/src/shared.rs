//! A plain TCP connection the event loop shares with the threads that use
//! its client: a thread with a packet ready can write it itself, in order
//! with the event loop's own writes, instead of handing it over through the
//! request channel and waking the event loop for it.
//!
//! Every write, from either side, goes through one lock: bytes one side
//! could not write yet are written before anything else.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;

pub struct SharedTcp {
    stream: TcpStream,
    /// Accepted and not yet in the kernel's send buffer: written first.
    unwritten: Mutex<BytesMut>,
    /// The event loop let go of the connection.
    closed: AtomicBool,
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
    pub(crate) fn new(stream: TcpStream) -> (Arc<SharedTcp>, SharedStream) {
        let shared = Arc::new(SharedTcp {
            stream,
            unwritten: Mutex::new(BytesMut::new()),
            closed: AtomicBool::new(false),
            runtime: Handle::current(),
        });
        (shared.clone(), SharedStream(shared))
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
        match self.stream.try_write(packet) {
            Ok(n) if n == packet.len() => Written::Now,
            Ok(n) => {
                unwritten.extend_from_slice(&packet[n..]);
                drop(unwritten);
                self.write_later();
                Written::Started
            }
            // A full send buffer, or an error the event loop meets as well.
            Err(_) => Written::NotNow,
        }
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
        if unwritten.is_empty() {
            match self.stream.try_write(packet) {
                Ok(n) if n == packet.len() => return,
                Ok(n) => unwritten.extend_from_slice(&packet[n..]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    unwritten.extend_from_slice(packet)
                }
                // The event loop meets the broken connection itself.
                Err(_) => return,
            }
        } else {
            unwritten.extend_from_slice(packet);
        }
        drop(unwritten);
        self.write_later();
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
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            {
                let Ok(mut unwritten) = self.unwritten.lock() else {
                    return;
                };
                if unwritten.is_empty() {
                    return;
                }
                match self.stream.try_write(&unwritten) {
                    Ok(n) => unwritten.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The event loop meets the broken connection itself.
                    Err(_) => return,
                }
                if unwritten.is_empty() {
                    return;
                }
            }
            if self.stream.writable().await.is_err() {
                return;
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
        loop {
            match self.0.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.0.stream.poll_read_ready(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
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
        if unwritten.is_empty() {
            match self.0.stream.try_write(buf) {
                Ok(n) => unwritten.extend_from_slice(&buf[n..]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => unwritten.extend_from_slice(buf),
                Err(e) => return Poll::Ready(Err(e)),
            }
        } else {
            unwritten.extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            {
                let mut unwritten = self.0.unwritten.lock().map_err(|_| poisoned())?;
                if unwritten.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                match self.0.stream.try_write(&unwritten) {
                    Ok(n) => {
                        unwritten.advance(n);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            ready!(self.0.stream.poll_write_ready(cx))?;
        }
    }

    /// The socket closes when both ends let go of it.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// Locks the protocol state an event loop shares with the threads that
/// write packets themselves (see `EventLoop::shared_state`). A thread that
/// panicked while holding it left it as consistent as any single call does.
pub fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
