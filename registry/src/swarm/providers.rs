//! Which node to ask for which part of a release. The first request (the
//! hash sequence) goes to the origin first; child N starts with provider
//! N + 1 (in turn), so a release's blobs are split across providers, and
//! every request falls back to the others. A provider that failed once in
//! this fetch (dead, or caught serving bad bytes) is not asked again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use iroh::EndpointId;
use iroh_blobs::HashAndFormat;
use iroh_blobs::api::downloader::ContentDiscovery;
use n0_future::StreamExt;
use n0_future::stream::{self, Boxed};

/// Providers in order of preference, rotated per request.
#[derive(Debug, Clone)]
pub struct Providers {
    order: Arc<Vec<EndpointId>>,
    next: Arc<AtomicUsize>,
    failed: Arc<Mutex<HashSet<EndpointId>>>,
}

impl Providers {
    /// Providers in order of preference, origin first.
    pub fn new(order: Vec<EndpointId>) -> Self {
        Self {
            order: Arc::new(order),
            next: Arc::new(AtomicUsize::new(0)),
            failed: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The same providers, sharing which have failed, whose next request
    /// starts with the provider at `start` (modulo their number). Each part
    /// of a release gets its own start, so the split does not depend on
    /// the order in which the parts' requests happen to be made.
    pub fn starting_at(&self, start: usize) -> Self {
        Self {
            order: self.order.clone(),
            next: Arc::new(AtomicUsize::new(start)),
            failed: self.failed.clone(),
        }
    }

    /// Stops asking `id` in this fetch.
    pub fn mark_failed(&self, id: EndpointId) {
        if let Ok(mut failed) = self.failed.lock() {
            failed.insert(id);
        }
    }

    /// The order the next request will try, failed providers left out.
    fn next_order(&self) -> Vec<EndpointId> {
        let n = self.order.len();
        if n == 0 {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        self.order[start..]
            .iter()
            .chain(&self.order[..start])
            .copied()
            .collect()
    }
}

impl ContentDiscovery for Providers {
    fn find_providers(&self, _content: HashAndFormat) -> Boxed<EndpointId> {
        let failed = self.failed.clone();
        stream::iter(self.next_order())
            .filter(move |id| failed.lock().map(|f| !f.contains(id)).unwrap_or(true))
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use iroh::SecretKey;

    use super::*;

    fn id(seed: u8) -> EndpointId {
        SecretKey::from_bytes(&[seed; 32]).public()
    }

    #[tokio::test]
    async fn requests_rotate_and_skip_failed_providers() {
        let (a, b, c) = (id(1), id(2), id(3));
        let providers = Providers::new(vec![a, b, c]);
        let content = HashAndFormat::raw(iroh_blobs::Hash::new(b"x"));
        let first: Vec<_> = providers.find_providers(content).collect().await;
        assert_eq!(first, vec![a, b, c], "the origin is asked first");
        let second: Vec<_> = providers.find_providers(content).collect().await;
        assert_eq!(second, vec![b, c, a]);
        providers.mark_failed(c);
        let third: Vec<_> = providers.find_providers(content).collect().await;
        assert_eq!(third, vec![a, b]);
        let part: Vec<_> = providers
            .starting_at(4)
            .find_providers(content)
            .collect()
            .await;
        assert_eq!(
            part,
            vec![b, a],
            "a part starts where it is told; failures are shared"
        );
    }
}
