//! Streaming passthrough. Each frame the upstream yields is handed to the client as soon as it
//! arrives: nothing here buffers, parses or waits for a full event. When the client goes away,
//! hyper drops this body, which drops the upstream body and so closes the upstream connection;
//! that is how a client disconnect cancels the upstream request.
//!
//! If the upstream breaks mid-stream, an SSE response gets one final `event: error` in the
//! provider's shape (a half-finished SSE stream would otherwise just stop without a reason);
//! other bodies are aborted so the client sees a truncated transfer, not a "complete" one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;

use crate::reply;
use crate::route::Provider;
use crate::server::Shared;
use crate::upstream::{Body, BoxError};

/// Upstream response body → client, counting bytes into the stats.
pub(crate) struct Relay {
    /// The upstream body, boxed so the retrieval loop can hand over a spliced stream.
    inner: Body,
    /// `Some` for `text/event-stream`: inject an error event on failure.
    sse: bool,
    provider: Provider,
    shared: Arc<Shared>,
    bytes: u64,
    done: bool,
}

impl Relay {
    pub(crate) fn new(inner: Body, sse: bool, provider: Provider, shared: Arc<Shared>) -> Relay {
        Relay {
            inner,
            sse,
            provider,
            shared,
            bytes: 0,
            done: false,
        }
    }
}

impl HttpBody for Relay {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(err)) => {
                self.done = true;
                self.shared.stats.error(self.provider);
                tracing::warn!(provider = self.provider.as_str(), error = %err, "upstream stream failed mid-way");
                if self.sse {
                    let event = reply::sse_error_event(
                        self.provider,
                        &format!("Headroom proxy: the upstream stream was interrupted ({err})"),
                    );
                    self.bytes += event.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(event))))
                } else {
                    Poll::Ready(Some(Err(err)))
                }
            }
            None => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || (!self.sse && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.sse {
            SizeHint::default()
        } else {
            self.inner.size_hint()
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stats.response_bytes(self.provider, self.bytes);
        if !self.done {
            tracing::debug!(
                provider = self.provider.as_str(),
                "client went away mid-response; upstream request cancelled"
            );
        }
    }
}

/// Client request body → upstream, counting bytes (for routes that are never buffered).
pub(crate) struct Counted {
    /// Bytes already read from `inner` before the proxy decided to stream (sent first).
    prefix: Option<Bytes>,
    inner: Incoming,
    provider: Provider,
    shared: Arc<Shared>,
    bytes: u64,
}

impl Counted {
    pub(crate) fn new(inner: Incoming, provider: Provider, shared: Arc<Shared>) -> Counted {
        Counted::with_prefix(Bytes::new(), inner, provider, shared)
    }

    /// `prefix`, then the rest of `inner`: a body the proxy began to buffer, then streamed.
    pub(crate) fn with_prefix(
        prefix: Bytes,
        inner: Incoming,
        provider: Provider,
        shared: Arc<Shared>,
    ) -> Counted {
        Counted {
            prefix: (!prefix.is_empty()).then_some(prefix),
            inner,
            provider,
            shared,
            bytes: 0,
        }
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            self.bytes += prefix.len() as u64;
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(err)) => Poll::Ready(Some(Err(Box::new(err)))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let extra = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + extra);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + extra);
        }
        hint
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.shared.stats.body_bytes(self.provider, self.bytes);
    }
}
