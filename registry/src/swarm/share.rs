//! Plain file sharing in iroh-blobs' own collection format, so a node
//! interoperates with n0's tools: `sendme receive` fetches what a node
//! shares, and a node fetches what `sendme send` offers.
//!
//! A shared file is a collection (a hash sequence whose first child names
//! the files) pinned as `share/NAME`. Nothing here touches catalogs: a
//! shared file carries no publisher signature, only its BLAKE3 hash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use iroh::EndpointAddr;
use iroh_blobs::api::downloader::{DownloadProgressItem, Downloader};
use iroh_blobs::format::collection::Collection;
use iroh_blobs::ticket::BlobTicket;
use iroh_blobs::{BlobFormat, HashAndFormat};
use n0_future::StreamExt;
use serde::Serialize;

use super::endpoint::NodeEndpoint;
use super::error::Error;
use super::store::{BlobStore, MAX_IN_MEMORY, SMALL_OP, bounded, from_iroh, to_iroh};
use crate::BlobHash;
use crate::catalog::release::sequence_children;

/// Tag prefix of shared files.
pub const SHARE_PIN_PREFIX: &str = "share/";
/// Longest a whole download may take.
const DOWNLOAD_LIMIT: Duration = Duration::from_secs(6 * 3600);
/// Most files taken from one collection.
const MAX_FILES: usize = 10_000;

/// A shared collection.
#[derive(Debug, Clone, Serialize)]
pub struct Share {
    /// Its pin name without the prefix (the file name).
    pub name: String,
    /// The collection's hash.
    pub hash: BlobHash,
}

/// Imports `file` and shares it as a one-file collection named after it.
pub async fn share_file(store: &BlobStore, file: &Path) -> Result<Share, Error> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::store(file.display(), "the file name is not UTF-8 text"))?
        .to_owned();
    let blob = store.import_file(file).await?;
    let collection: Collection = [(name.clone(), to_iroh(blob.blake3))].into_iter().collect();
    let tag = bounded(&name, SMALL_OP, collection.store(store.api()))
        .await?
        .map_err(|e| Error::store(&name, e))?;
    let hash = from_iroh(tag.hash());
    store
        .pin(&format!("{SHARE_PIN_PREFIX}{name}"), hash, true)
        .await?;
    Ok(Share { name, hash })
}

/// Every shared collection.
pub async fn shares(store: &BlobStore) -> Result<Vec<Share>, Error> {
    Ok(store
        .pins()
        .await?
        .into_iter()
        .filter_map(|pin| {
            let name = pin.name.strip_prefix(SHARE_PIN_PREFIX)?.to_owned();
            Some(Share {
                name,
                hash: pin.hash,
            })
        })
        .collect())
}

/// A ticket for `hash` at `addr`, in the form `sendme receive` reads.
pub fn ticket(addr: EndpointAddr, hash: BlobHash) -> String {
    BlobTicket::new(addr, to_iroh(hash), BlobFormat::HashSeq).to_string()
}

/// Downloads what `ticket` names into `store` (pinned as `share/HASH`)
/// over `endpoint`, which learns the ticket's addresses, and writes its
/// files into `out`. Every byte is checked against the ticket's hash as it
/// arrives. Returns the files written.
pub(crate) async fn receive(
    store: &BlobStore,
    endpoint: &NodeEndpoint,
    downloader: &Downloader,
    ticket: &str,
    out: &Path,
    on_progress: &mut (dyn FnMut(u64) + Send),
) -> Result<Vec<PathBuf>, Error> {
    let ticket: BlobTicket = ticket.trim().parse().map_err(|e| Error::Ticket {
        ticket: ticket.chars().take(24).collect(),
        reason: format!("not an iroh blob ticket: {e}"),
    })?;
    endpoint.lookup.add_endpoint_info(ticket.addr().clone());
    let content = ticket.hash_and_format();
    let hash = from_iroh(ticket.hash());
    store
        .pin(
            &format!("{SHARE_PIN_PREFIX}{hash}"),
            hash,
            ticket.format() == BlobFormat::HashSeq,
        )
        .await?;
    let failed = |reason: String| Error::Download {
        what: hash.to_string(),
        reason,
    };
    let download = async {
        let mut stream = downloader
            .download(content, vec![ticket.addr().id])
            .stream()
            .await
            .map_err(|e| failed(e.to_string()))?;
        while let Some(item) = stream.next().await {
            match item {
                DownloadProgressItem::Progress(bytes) => on_progress(bytes),
                DownloadProgressItem::Error(e) => return Err(failed(e.to_string())),
                DownloadProgressItem::DownloadError => {
                    return Err(failed("the provider could not supply it".into()));
                }
                _ => {}
            }
        }
        Ok(())
    };
    bounded(hash, DOWNLOAD_LIMIT, download).await??;
    export(store, content, out).await
}

async fn export(
    store: &BlobStore,
    content: HashAndFormat,
    out: &Path,
) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::store(out.display(), e))?;
    if content.format == BlobFormat::Raw {
        let path = out.join(content.hash.to_hex());
        store.export(from_iroh(content.hash), &path).await?;
        return Ok(vec![path]);
    }
    // The list of children and the names blob are read whole: refuse
    // ones larger than the store reads into memory.
    let sequence = from_iroh(content.hash);
    let names = store
        .get_bytes(sequence, MAX_IN_MEMORY)
        .await
        .map(|children| sequence_children(&children).next())?
        .ok_or_else(|| Error::store(sequence, "an empty collection"))?;
    store.get_bytes(names, MAX_IN_MEMORY).await?;
    let collection = bounded(
        content.hash,
        SMALL_OP,
        Collection::load(content.hash, store.api()),
    )
    .await?
    .map_err(|e| Error::store(content.hash, format!("not a collection: {e}")))?;
    let mut written = Vec::new();
    for (name, hash) in collection.iter().take(MAX_FILES) {
        let path = safe_join(out, name)
            .ok_or_else(|| Error::store(name, "the name leaves the output directory"))?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::store(parent.display(), e))?;
        }
        store.export(from_iroh(*hash), &path).await?;
        written.push(path);
    }
    Ok(written)
}

/// `out/name` if `name` is a relative path of plain segments.
fn safe_join(out: &Path, name: &str) -> Option<PathBuf> {
    let mut path = out.to_owned();
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::safe_join;
    use std::path::Path;

    #[test]
    fn collection_names_cannot_leave_the_output_directory() {
        let out = Path::new("/out");
        assert_eq!(safe_join(out, "a/b.txt"), Some(out.join("a/b.txt")));
        for bad in ["../x", "/etc/passwd", "a//b", "a/./b", ""] {
            assert_eq!(safe_join(out, bad), None, "{bad}");
        }
    }
}
