//! The Nostr relay a node runs for itself (nostr-relay-builder's
//! `LocalRelay`) on 127.0.0.1, so one machine can publish and discover
//! apps with no outside relay. Its events are kept in LMDB (nostr-lmdb) in
//! the node's data directory, so they survive a restart.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use nostr_lmdb::NostrLMDB;
use nostr_relay_builder::{LocalRelay, RelayBuilder};

/// The port the embedded relay listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7447;
/// Most the relay's store may grow to (LMDB reserves address space, not
/// disk).
const STORE_BYTES: usize = 4 << 30;
/// Longest the relay may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running embedded relay; it stops when dropped.
pub struct EmbeddedRelay {
    relay: LocalRelay,
    url: String,
}

impl EmbeddedRelay {
    /// Starts the relay on 127.0.0.1:`port` (0 for any free port), its
    /// events kept in the directory `store`.
    pub async fn start(port: u16, store: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(store)
            .map_err(|e| format!("cannot make {}: {e}", store.display()))?;
        let database = NostrLMDB::builder(store)
            .map_size(STORE_BYTES)
            .build()
            .map_err(|e| format!("cannot open its store {}: {e}", store.display()))?;
        let mut builder = RelayBuilder::default()
            .addr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .database(database);
        // Without a port the relay picks a free one and reports it in its
        // URL; port 0 given explicitly would be reported as 0.
        if port != 0 {
            builder = builder.port(port);
        }
        let relay = LocalRelay::new(builder);
        match tokio::time::timeout(START_TIMEOUT, relay.run()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("cannot listen on 127.0.0.1:{port}: {e}")),
            Err(_) => {
                return Err(format!(
                    "did not start within {} s",
                    START_TIMEOUT.as_secs()
                ));
            }
        }
        let url = relay.url().await.to_string();
        Ok(Self { relay, url })
    }

    /// Its `ws://` URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for EmbeddedRelay {
    fn drop(&mut self) {
        self.relay.shutdown();
    }
}
