//! Originals of content the compressor dropped, keyed by the compressor's `key`, so a later
//! `headroom_retrieve` call can be answered. Bounded by entry count and total bytes; the oldest
//! entries go first, so a long session cannot grow the proxy without limit.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use headroom_compress::Retained;

/// A bounded, in-memory, insertion-ordered key → original text store.
#[derive(Debug)]
pub struct RetainedStore {
    inner: Mutex<Inner>,
    max_entries: usize,
    max_bytes: usize,
    /// `headroom_retrieve` calls answered (proxy-side loop and `POST /v1/retrieve`).
    lookups: AtomicU64,
    /// Extra upstream requests the proxy made to continue after answering retrieve calls.
    followups: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, String>,
    order: VecDeque<String>,
    bytes: usize,
}

impl RetainedStore {
    pub fn new(max_entries: usize, max_bytes: usize) -> RetainedStore {
        RetainedStore {
            inner: Mutex::new(Inner::default()),
            max_entries: max_entries.max(1),
            max_bytes,
            lookups: AtomicU64::new(0),
            followups: AtomicU64::new(0),
        }
    }

    /// Store originals; an existing key keeps its first value (keys are content hashes).
    pub fn insert_all(&self, items: Vec<Retained>) {
        if items.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for item in items {
            if item.original.len() > self.max_bytes || inner.map.contains_key(&item.key) {
                continue;
            }
            inner.bytes += item.original.len();
            inner.order.push_back(item.key.clone());
            inner.map.insert(item.key, item.original);
            while inner.map.len() > self.max_entries || inner.bytes > self.max_bytes {
                let Some(old) = inner.order.pop_front() else {
                    break;
                };
                if let Some(v) = inner.map.remove(&old) {
                    inner.bytes -= v.len();
                }
            }
        }
    }

    /// The original text stored under `key`, if still present.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lock().map.get(key).cloned()
    }

    /// [`get`](Self::get) on behalf of a retrieve call, counted in [`lookups`](Self::lookups).
    pub(crate) fn lookup(&self, key: &str) -> Option<String> {
        self.lookups.fetch_add(1, Relaxed);
        self.get(key)
    }

    pub(crate) fn count_followup(&self) {
        self.followups.fetch_add(1, Relaxed);
    }

    /// Retrieve calls answered so far (found or not).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Relaxed)
    }

    /// Follow-up upstream requests made after answering retrieve calls.
    pub fn followups(&self) -> u64 {
        self.followups.load(Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only plain data behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for RetainedStore {
    fn default() -> Self {
        RetainedStore::new(10_000, 64 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(k: &str, v: &str) -> Retained {
        Retained {
            key: k.into(),
            original: v.into(),
        }
    }

    #[test]
    fn evicts_oldest_by_count_and_bytes() {
        let s = RetainedStore::new(2, 10);
        s.insert_all(vec![r("a", "1111"), r("b", "2222"), r("c", "3333")]);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.get("c").as_deref(), Some("3333"));
        s.insert_all(vec![r("d", "4444444")]);
        assert_eq!(s.len(), 1);
        assert_eq!(s.get("d").as_deref(), Some("4444444"));
        s.insert_all(vec![r("big", "xxxxxxxxxxxx")]);
        assert_eq!(s.get("big"), None);
    }
}
