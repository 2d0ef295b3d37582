// SPDX-License-Identifier: GPL-2.0
//! Thin safe wrapper around kernel TCP/IPv4 sockets (`include/linux/net.h`).
//!
//! Every blocking call has a timeout (set with [`TcpSocket::set_timeouts`]),
//! so the threads using them can notice they were asked to stop.

use crate::extra as raw;
use crate::proto::identity::Ipv4;
use core::ptr;
use kernel::{bindings, error::to_result, prelude::*};

/// `SHUT_RDWR` for kernel_sock_shutdown.
const SHUT_RDWR: u32 = 2;
/// How long a sender with a (non-fatal) signal pending retries a full
/// socket buffer (as the send timeout would let it wait).
const SIGNAL_RETRY_MS: u32 = 2000;
const ERESTARTSYS: i32 = -512;
/// Most buffers one stream write takes: a frame's header and body parts
/// and up to 65 pieces of pages (a 256 KiB frame of page data sent from
/// where the pages are, see `send_queue::Frame::more`).
pub(crate) const MAX_SEND_PARTS: usize = 72;

/// What a receive returned.
pub(crate) enum Received {
    /// This many bytes (at least one).
    Data(usize),
    /// The receive timeout expired with nothing read.
    TimedOut,
    /// The peer closed the connection.
    Closed,
}

/// A kernel TCP socket; shut down and released on drop.
pub(crate) struct TcpSocket {
    sock: *mut bindings::socket,
}

// SAFETY: kernel sockets may be used from any thread; the socket layer
// locks internally. Concurrent sends are serialised by the callers.
unsafe impl Send for TcpSocket {}
// SAFETY: as above.
unsafe impl Sync for TcpSocket {}

impl TcpSocket {
    fn new() -> Result<TcpSocket> {
        let mut sock: *mut bindings::socket = ptr::null_mut();
        // SAFETY: `sock` is a valid out-pointer.
        to_result(unsafe { raw::ssi_tcp_socket_create(&raw mut sock) })?;
        let s = TcpSocket { sock };
        // SAFETY: `sock` is a live socket we own.
        unsafe { raw::ssi_sock_tune(s.sock) };
        Ok(s)
    }

    /// A socket listening on `0.0.0.0:port`.
    pub(crate) fn listen(port: u16, backlog: i32) -> Result<TcpSocket> {
        let s = TcpSocket::new()?;
        // SAFETY: `s.sock` is a live socket we own.
        unsafe {
            to_result(raw::ssi_sock_bind_any(s.sock, port))?;
            to_result(bindings::kernel_listen(s.sock, backlog))?;
        }
        Ok(s)
    }

    /// Accepts a connection, or `None` when the receive timeout expired.
    pub(crate) fn accept(&self) -> Result<Option<TcpSocket>> {
        let mut new: *mut bindings::socket = ptr::null_mut();
        // SAFETY: `self.sock` is a live listening socket; `new` an out-pointer.
        let r = unsafe { bindings::kernel_accept(self.sock, &raw mut new, 0) };
        match r {
            0 => {
                let s = TcpSocket { sock: new };
                // SAFETY: `new` is the accepted live socket, now owned by `s`.
                unsafe { raw::ssi_sock_tune(s.sock) };
                Ok(Some(s))
            }
            e if e == -(bindings::EAGAIN as i32) => Ok(None),
            e => Err(Error::from_errno(e)),
        }
    }

    /// Connects to `addr:port`, waiting at most `timeout_ms`.
    pub(crate) fn connect(addr: Ipv4, port: u16, timeout_ms: u32) -> Result<TcpSocket> {
        let s = TcpSocket::new()?;
        s.set_timeouts(timeout_ms, timeout_ms);
        // SAFETY: `s.sock` is a live socket we own.
        to_result(unsafe { raw::ssi_sock_connect(s.sock, addr.to_bits(), port) })?;
        Ok(s)
    }

    /// Receive and send timeouts in milliseconds (0: none).
    pub(crate) fn set_timeouts(&self, rcv_ms: u32, snd_ms: u32) {
        // SAFETY: `self.sock` is live.
        unsafe { raw::ssi_sock_set_timeouts(self.sock, rcv_ms, snd_ms) };
    }

    /// The peer's address.
    pub(crate) fn peer_addr(&self) -> Ipv4 {
        // SAFETY: `self.sock` is live.
        Ipv4::from_bits(unsafe { raw::ssi_sock_peer_addr(self.sock) })
    }

    /// Sends all of `parts`, in order, as one stream write.
    pub(crate) fn send_all(&self, parts: &[&[u8]]) -> Result {
        self.send_all_chained(parts, &[])
    }

    /// Sends all of `parts` then all of `more` (at most
    /// [`MAX_SEND_PARTS`] in all), in order, as one stream write.
    pub(crate) fn send_all_chained(&self, parts: &[&[u8]], more: &[&[u8]]) -> Result {
        let count = parts.len() + more.len();
        if count > MAX_SEND_PARTS {
            return Err(EINVAL);
        }
        let mut vecs = [bindings::kvec { iov_base: ptr::null_mut(), iov_len: 0 }; MAX_SEND_PARTS];
        let mut total = 0usize;
        for (v, p) in vecs.iter_mut().zip(Iterator::chain(parts.iter(), more)) {
            v.iov_base = p.as_ptr().cast_mut().cast();
            v.iov_len = p.len();
            total += p.len();
        }
        let mut sent = 0usize;
        let mut waited_ms = 0u32;
        // The first kvec not wholly sent; it is advanced past what of it was.
        let mut first = 0usize;
        while sent < total {
            while vecs[first].iov_len == 0 {
                first += 1;
            }
            // SAFETY: zeroed msghdr is the documented "no address, no
            // control" message; the kvecs point into `parts` and `more`,
            // alive here.
            let r = unsafe {
                let mut msg: bindings::msghdr = core::mem::zeroed();
                msg.msg_flags = (bindings::MSG_NOSIGNAL) as _;
                bindings::kernel_sendmsg(self.sock, &raw mut msg, vecs.as_mut_ptr().add(first), count - first, total - sent)
            };
            if r == -(bindings::EAGAIN as i32) {
                return Err(crate::kernel_ext::etimedout());
            }
            if r == -(bindings::EINTR as i32) || r == -ERESTARTSYS {
                // A sender with a signal pending (a task work of a migrating
                // process, a caller about to be interrupted): the socket
                // returns at once while its buffer is full. A frame is never
                // left half-written for that: wait a little, uninterruptibly,
                // within the send timeout; only a fatal signal gives up.
                let fatal = crate::kernel_ext::fatal_signal_pending();
                if fatal || waited_ms >= SIGNAL_RETRY_MS {
                    return Err(if fatal { EINTR } else { crate::kernel_ext::etimedout() });
                }
                crate::kernel_ext::msleep(2);
                waited_ms += 2;
                continue;
            }
            if r <= 0 {
                return Err(if r == 0 { EPIPE } else { Error::from_errno(r) });
            }
            sent += r as usize;
            // Skip what was sent.
            let mut done = r as usize;
            while done > 0 {
                let v = &mut vecs[first];
                let n = done.min(v.iov_len);
                // SAFETY: `n` <= iov_len, so the result stays inside (or
                // at the end of) the caller's slice.
                v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n).cast() };
                v.iov_len -= n;
                done -= n;
                if v.iov_len == 0 && first + 1 < count {
                    first += 1;
                }
            }
        }
        Ok(())
    }

    /// Receives up to `buf.len()` bytes into `buf`.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> Result<Received> {
        // SAFETY: the kernel writes only the bytes it received into the
        // region, so `buf` stays initialized.
        unsafe { self.recv_raw(buf.as_mut_ptr(), buf.len()) }
    }

    /// Receives up to `want` bytes at the end of `v`, into its spare
    /// capacity (not zeroed first), and adds them to its length.
    pub(crate) fn recv_append(&self, v: &mut KVec<u8>, want: usize) -> Result<Received> {
        let spare = v.spare_capacity_mut();
        let want = want.min(spare.len());
        // SAFETY: `spare` is writable memory of `v` of at least `want` bytes.
        let r = unsafe { self.recv_raw(spare.as_mut_ptr().cast(), want) }?;
        if let Received::Data(n) = r {
            // SAFETY: the kernel wrote `n` <= `want` bytes just past the
            // initialized part of `v`, within its capacity.
            unsafe { v.set_len(v.len() + n) };
        }
        Ok(r)
    }

    /// One `kernel_recvmsg` of up to `len` bytes at `buf`.
    ///
    /// # Safety
    ///
    /// `buf` must be valid for writes of `len` bytes and not otherwise
    /// accessed during the call.
    unsafe fn recv_raw(&self, buf: *mut u8, len: usize) -> Result<Received> {
        if len == 0 {
            return Ok(Received::Data(0));
        }
        let mut v = bindings::kvec { iov_base: buf.cast(), iov_len: len };
        // SAFETY: the kvec points at `len` writable bytes (the caller's
        // promise); `msg` is a zeroed msghdr, as kernel_recvmsg expects.
        let r = unsafe {
            let mut msg: bindings::msghdr = core::mem::zeroed();
            bindings::kernel_recvmsg(self.sock, &raw mut msg, &raw mut v, 1, len, 0)
        };
        match r {
            0 => Ok(Received::Closed),
            r if r > 0 => Ok(Received::Data((r as usize).min(len))),
            r if r == -(bindings::EAGAIN as i32) => Ok(Received::TimedOut),
            r => Err(Error::from_errno(r)),
        }
    }

    /// Wakes up every thread blocked on the socket; later calls fail.
    pub(crate) fn shutdown(&self) {
        // SAFETY: `self.sock` is live.
        unsafe { bindings::kernel_sock_shutdown(self.sock, SHUT_RDWR) };
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        // SAFETY: we own the socket; nothing uses it after this.
        unsafe {
            bindings::kernel_sock_shutdown(self.sock, SHUT_RDWR);
            bindings::sock_release(self.sock);
        }
    }
}
