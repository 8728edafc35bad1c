//! Synthetic publishers and their events, real in every respect (keys,
//! TUF root, DID binding, signed manifests, Schnorr signatures) but made in
//! memory: for the discovery benchmark, which needs 100 k listings, and for
//! tests that need events a relay would never pass on.

use archy_registry::Manifest;
use archy_registry::manifest::Form;
use archy_registry::tuf::sign_metadata;
use archy_trust::{Identity, Signed};
use nostr::{Event, Timestamp};
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use archy_discovery::protocol::{CatalogContent, ListingContent};
use archy_discovery::publish::{self, PublishError};

/// A failure to make a synthetic event.
#[derive(Debug, thiserror::Error)]
pub enum SyntheticError {
    /// Signing or encoding.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The manifest or root.
    #[error("{0}")]
    Document(String),
}

/// A TUF `root.json` of `version` listing `keys` for every role
/// (threshold 1), signed by `signers`.
pub fn root_json(
    version: u64,
    keys: &[&Identity],
    signers: &[&Identity],
) -> Result<String, SyntheticError> {
    let key_map: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .map(|k| (k.did().tuf_keyid().to_owned(), k.public_key().tuf_key()))
        .collect();
    let ids: Vec<String> = keys
        .iter()
        .map(|k| k.did().tuf_keyid().to_owned())
        .collect();
    let role = json!({"keyids": ids, "threshold": 1});
    let signed = json!({
        "_type": "root",
        "spec_version": "1.0.31",
        "version": version,
        "expires": "2040-01-01T00:00:00Z",
        "consistent_snapshot": true,
        "keys": key_map,
        "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
    });
    let bytes =
        sign_metadata(&signed, signers).map_err(|e| SyntheticError::Document(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| SyntheticError::Document(e.to_string()))
}

/// A publisher: its identity, binding and single-key root.
pub struct SyntheticPublisher {
    /// Its identity.
    pub identity: Identity,
    /// Its binding envelope.
    pub binding: serde_json::Value,
    /// Its `root.json`.
    pub root: String,
}

impl SyntheticPublisher {
    /// A publisher named `name` under `identity`, its binding valid until
    /// `expires`.
    pub fn new(identity: Identity, name: &str, expires: u64) -> Result<Self, SyntheticError> {
        let binding = publish::binding(&identity, name, "synthetic", expires)?;
        let root = root_json(1, &[&identity], &[&identity])?;
        Ok(Self {
            identity,
            binding,
            root,
        })
    }

    /// The `archy:publisher` event.
    pub fn publisher_event(&self, at: u64) -> Result<Event, SyntheticError> {
        Ok(publish::publisher_event(
            &self.identity,
            &self.binding,
            Timestamp::from_secs(at),
        )?)
    }

    /// The `archy:catalog` event announcing `root`.
    pub fn catalog_event_with(&self, root: &str, at: u64) -> Result<Event, SyntheticError> {
        let content = CatalogContent {
            binding: self.binding.clone(),
            root_version: archy_registry::tuf::metadata::signed_version(root.as_bytes())
                .map_err(SyntheticError::Document)?,
            root_sha256: hex::encode(Sha256::digest(root.as_bytes())),
            root: root.to_owned(),
            timestamp: json!({"signed": {"version": 1}}),
        };
        Ok(publish::catalog_event(
            &self.identity,
            &content,
            Timestamp::from_secs(at),
        )?)
    }

    /// The `archy:catalog` event announcing its own root.
    pub fn catalog_event(&self, at: u64) -> Result<Event, SyntheticError> {
        self.catalog_event_with(&self.root, at)
    }

    /// A listing of `app_id` with a signed manifest.
    pub fn listing(
        &self,
        app_id: &str,
        title: &str,
        summary: &str,
        categories: &[&str],
    ) -> Result<ListingContent, SyntheticError> {
        let manifest = signed_manifest(&self.identity, app_id, title, summary)?;
        let binding = serde_json::value::to_raw_value(&self.binding)
            .map_err(|e| SyntheticError::Document(e.to_string()))?;
        Ok(ListingContent {
            binding,
            app_id: app_id.to_owned(),
            title: title.to_owned(),
            summary: summary.to_owned(),
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            icon: None,
            version: "1.0.0".into(),
            release: hex::encode(blake3::hash(app_id.as_bytes()).as_bytes()),
            size: 1024,
            manifest,
            providers: vec![],
        })
    }

    /// The event of `listing`.
    pub fn listing_event(
        &self,
        listing: &ListingContent,
        at: u64,
    ) -> Result<Event, SyntheticError> {
        Ok(publish::listing_event(
            &self.identity,
            listing,
            Timestamp::from_secs(at),
        )?)
    }
}

/// A published manifest of `app_id`, version 1.0.0, signed by `identity`.
pub fn signed_manifest(
    identity: &Identity,
    app_id: &str,
    title: &str,
    summary: &str,
) -> Result<Box<RawValue>, SyntheticError> {
    let digest = hex::encode(blake3::hash(app_id.as_bytes()).as_bytes());
    let yaml = format!(
        r#"
manifest_version: 1
id: {app_id}
version: 1.0.0
title: {title:?}
summary: {summary:?}
publisher: {did}
license: MIT
containers:
  - name: web
    image: {{blake3: "{digest}", size: 10, id: "sha256:{digest}"}}
"#,
        did = identity.did()
    );
    let manifest = Manifest::from_yaml(&yaml, "synthetic.yml", Form::Published)
        .map_err(|e| SyntheticError::Document(e.to_string()))?;
    let envelope =
        Signed::sign(&manifest, identity).map_err(|e| SyntheticError::Document(e.to_string()))?;
    String::from_utf8(envelope)
        .map_err(|e| e.to_string())
        .and_then(|text| RawValue::from_string(text).map_err(|e| e.to_string()))
        .map_err(SyntheticError::Document)
}
