//! A connection's socket as the status port drives it ([`Guarded`]): every
//! write that moves bytes counts as the connection's progress (its slot's
//! stamp, which decides who is closed first at the connection cap), and a
//! write that cannot move any for the write timeout fails, so that a client
//! that never reads is dropped instead of holding its response (and its
//! slot) for as long as it stays.
//!
//! It sits under TLS (when the port speaks it) and under hyper: whatever
//! writes, the bytes reach the socket here.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::slots::Slot;

/// A socket whose writes stamp progress and time out when stalled.
pub(super) struct Guarded<S> {
    inner: S,
    slot: Arc<Slot>,
    write_timeout: Duration,
    /// Armed when a write could not move a byte, disarmed when one moves:
    /// the time since the client last took anything.
    stall: Option<Pin<Box<Sleep>>>,
}

impl<S> Guarded<S> {
    pub(super) fn new(inner: S, slot: Arc<Slot>, write_timeout: Duration) -> Self {
        Self {
            inner,
            slot,
            write_timeout,
            stall: None,
        }
    }

    /// A write ended: when it moved bytes, that is progress, and the stall
    /// (if any) is over. A flush that is ready is not progress (a socket's
    /// always is), so only writes reset the stall.
    fn wrote(&mut self, result: io::Result<usize>) -> io::Result<usize> {
        if let Ok(written) = &result
            && *written > 0
        {
            self.slot.progressed();
            self.stall = None;
        }
        result
    }

    /// A write could not move anything: pending until the client takes
    /// something, an error once it took nothing for the write timeout.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.write_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client took none of its response for {} s",
                    timeout.as_secs_f64()
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(result) => Poll::Ready(this.wrote(result)),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => Poll::Ready(this.wrote(result)),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.stalled(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.stalled(cx),
        }
    }
}
