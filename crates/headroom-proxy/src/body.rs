//! Reading a request body the proxy must buffer (to compress it), without letting a slow or
//! huge sender decide how much memory the proxy holds.
//!
//! Each frame hyper hands over is a slice of a larger read buffer; keeping the frames (as a
//! generic `collect()` does) pins a whole buffer for every one-byte frame: twenty connections
//! trickling 3 KB each grew the proxy by 241 MiB. Here every frame is copied into one growing
//! buffer and dropped at once, so memory is the body's size. A sender that goes quiet between
//! frames for longer than the idle timeout gets 408 instead of holding its buffer forever.
//!
//! All buffered bodies together draw on one [`Budget`] of bytes. A body that does not fit is
//! not refused: what was read so far and the rest of the stream are forwarded uncompressed, so
//! four concurrent 95 MB requests cost the proxy streaming buffers, not 400 MB — and the tool
//! still gets its answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes all buffered request bodies may hold at once.
#[derive(Debug, Clone)]
pub(crate) struct Budget(Arc<Semaphore>);

impl Budget {
    pub(crate) fn new(bytes: usize) -> Budget {
        Budget(Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))))
    }

    /// `n` more bytes, now or never.
    fn take(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(n).ok()?;
        self.0.clone().try_acquire_many_owned(n).ok()
    }
}

/// A body held in memory, with its share of the budget (released when dropped).
#[derive(Debug)]
pub(crate) struct Buffered {
    pub(crate) bytes: Bytes,
    pub(crate) _permit: Option<OwnedSemaphorePermit>,
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// More than the limit arrived (or was announced).
    TooLarge,
    /// Nothing arrived for the idle timeout.
    Idle,
    /// The connection failed or the client aborted.
    Failed,
    /// The budget is spent: forward `prefix` and then `rest` as they are.
    OverBudget { prefix: Bytes, rest: Incoming },
}

/// The first allocation for a body that announced its length: enough for typical requests
/// in one step, small enough that a lying `Content-Length` costs nothing.
const FIRST_RESERVE: usize = 256 * 1024;

/// Read all of `body` into one buffer of at most `max` bytes; fail when no frame arrives for
/// `idle`.
pub(crate) async fn read(
    mut body: Incoming,
    declared: Option<u64>,
    max: usize,
    idle: Duration,
    budget: &Budget,
) -> Result<Buffered, ReadError> {
    if declared.is_some_and(|n| n > max as u64) {
        return Err(ReadError::TooLarge);
    }
    // A declared length is reserved whole up front; a chunked body frame by frame.
    let mut permit = match declared {
        Some(n) => match budget.take(n as usize) {
            Some(p) => Some(p),
            None => {
                return Err(ReadError::OverBudget {
                    prefix: Bytes::new(),
                    rest: body,
                })
            }
        },
        None => None,
    };
    let reserve = declared.map_or(0, |n| (n as usize).min(FIRST_RESERVE));
    let mut buf: Vec<u8> = Vec::with_capacity(reserve);
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(ReadError::Idle),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(ReadError::Failed),
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing we forward on a buffered route.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > max {
            return Err(ReadError::TooLarge);
        }
        let need = buf.len() + data.len();
        let held = permit.as_ref().map_or(0, |p| p.num_permits());
        if need > held {
            match budget.take(need - held) {
                Some(p) => match permit.as_mut() {
                    Some(held) => held.merge(p),
                    None => permit = Some(p),
                },
                None => {
                    buf.extend_from_slice(&data);
                    return Err(ReadError::OverBudget {
                        prefix: Bytes::from(buf),
                        rest: body,
                    });
                }
            }
        }
        buf.extend_from_slice(&data);
    }
    buf.shrink_to_fit();
    Ok(Buffered {
        bytes: Bytes::from(buf),
        _permit: permit,
    })
}
