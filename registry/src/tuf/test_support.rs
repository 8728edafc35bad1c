//! Catalogs for the client's tests: a real catalog made by the publisher's
//! editor, a client store beside it, and a transport that records what the
//! client asked for.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use archy_trust::Identity;

use super::{
    DirStore, FetchError, Limits, LocalTransport, MetadataStore, Timestamped, Transport, Updater,
    UtcTime,
};
use crate::catalog::{Expiries, Repository};
use crate::image_archive::fixtures;
use crate::signing;

/// Runs a future to completion on a small runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A [`LocalTransport`] that remembers every metadata file name asked for.
#[derive(Clone)]
pub struct Recording {
    inner: LocalTransport,
    /// Answer like `archy catalog serve`: name the newest root version
    /// with the timestamp.
    pub names_root: bool,
    /// Metadata file names, in the order fetched.
    pub fetched: Arc<Mutex<Vec<String>>>,
}

impl Recording {
    /// Records the calls made to `inner`.
    pub fn new(inner: LocalTransport) -> Self {
        Self {
            inner,
            names_root: false,
            fetched: Arc::default(),
        }
    }
}

impl Transport for Recording {
    async fn fetch_metadata(&self, file_name: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.fetched.lock().unwrap().push(file_name.to_owned());
        self.inner.fetch_metadata(file_name, max_len).await
    }

    async fn fetch_timestamp(&self, max_len: u64) -> Result<Timestamped, FetchError> {
        let bytes = self.fetch_metadata("timestamp.json", max_len).await?;
        let newest_root = self.names_root.then(|| {
            let root = self.inner.fetch_metadata("root.json", 1 << 20);
            let root: serde_json::Value =
                serde_json::from_slice(&futures_ready(root).unwrap()).unwrap();
            root["signed"]["version"].as_u64().unwrap()
        });
        Ok(Timestamped { bytes, newest_root })
    }

    async fn fetch_target(&self, path: &str, max_len: u64) -> Result<Vec<u8>, FetchError> {
        self.inner.fetch_target(path, max_len).await
    }
}

/// The output of a future that completes at once (the local transport's).
fn futures_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the local transport never waits"),
    }
}

/// A publisher's catalog and a client that trusts its first root.
pub struct Setup {
    /// Holds everything.
    pub dir: tempfile::TempDir,
    /// The publisher keys.
    pub keys: Vec<Identity>,
    /// The catalog.
    pub repo: Repository,
    /// The time the catalog was made.
    pub now: UtcTime,
}

impl Setup {
    /// A catalog held by `keys` with `threshold`, default expiries.
    pub fn new(keys: Vec<Identity>, threshold: u64) -> Self {
        Self::with_expiries(keys, threshold, Expiries::default())
    }

    /// A catalog held by `keys` with `threshold`, its roles valid for
    /// `expiries`.
    pub fn with_expiries(keys: Vec<Identity>, threshold: u64, expiries: Expiries) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let now = UtcTime::now();
        let repo =
            Repository::init(&dir.path().join("repo"), &keys, threshold, expiries, now).unwrap();
        let client = DirStore::new(dir.path().join("client"));
        client
            .save(
                "root",
                &std::fs::read(repo.metadata_dir().join("1.root.json")).unwrap(),
            )
            .unwrap();
        Self {
            dir,
            keys,
            repo,
            now,
        }
    }

    /// A catalog held by one key.
    pub fn single() -> Self {
        Self::new(vec![Identity::from_seed(&[7; 32])], 1)
    }

    /// Publishes version `version` of a small app; returns its target path.
    pub fn publish(&self, version: &str) -> String {
        self.publish_as(version, &self.keys[0], &self.keys)
    }

    /// Publishes version `version` of the first key's app, its manifest
    /// signed by `signer` and the catalog by `keys` (after a rotation).
    pub fn publish_as(&self, version: &str, signer: &Identity, keys: &[Identity]) -> String {
        let app = self.dir.path().join(format!("app-{version}"));
        std::fs::create_dir_all(&app).unwrap();
        fixtures::docker_archive(&app.join("web.tar"));
        std::fs::write(
            app.join("manifest.yml"),
            format!(
                "manifest_version: 1\nid: org.example.web\nversion: {version}\ntitle: Web\nsummary: A page\n\
                 publisher: {}\nlicense: MIT\ncontainers:\n  - name: web\n    image: web.tar\n",
                self.keys[0].did()
            ),
        )
        .unwrap();
        let signers = self.repo.signers().unwrap();
        let signed = signing::sign_for(&app.join("manifest.yml"), signer, &signers).unwrap();
        self.repo
            .add_release(keys, &signed.envelope, self.now)
            .unwrap()
            .target
    }

    /// A metadata file of the catalog.
    pub fn meta(&self, name: &str) -> PathBuf {
        self.repo.metadata_dir().join(name)
    }

    /// A fresh client process, as of `now`.
    pub fn client_at(&self, now: UtcTime) -> (Updater<Recording>, Arc<Mutex<Vec<String>>>) {
        self.client_with(now, false)
    }

    /// A fresh client process, as of `now`, whose source names its newest
    /// root version with the timestamp when `names_root`.
    pub fn client_with(
        &self,
        now: UtcTime,
        names_root: bool,
    ) -> (Updater<Recording>, Arc<Mutex<Vec<String>>>) {
        let mut transport = Recording::new(LocalTransport::new(self.repo.dir()));
        transport.names_root = names_root;
        let fetched = transport.fetched.clone();
        let store = Arc::new(DirStore::new(self.dir.path().join("client")));
        let updater = Updater::at_time(store, transport, Limits::default(), now).unwrap();
        (updater, fetched)
    }

    /// A fresh client process, now.
    pub fn client(&self) -> Updater<Recording> {
        self.client_at(self.now).0
    }

    /// A refresh by a fresh client process.
    pub fn refresh(&self) -> Result<(), super::Error> {
        block_on(self.client().refresh())
    }
}
