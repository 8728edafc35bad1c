//! App icons, at `/icons/{did}/{app}`: the icon its signed manifest names,
//! when the node holds that blob (its own apps and every app it installed
//! do: the icon travels in the release), else a monogram drawn here (the
//! title's first letter on a colour taken from the app id), so a card never
//! shows a broken image.
//!
//! An icon is the publisher's bytes: it is served only if it reads as PNG,
//! JPEG, GIF, WebP or SVG, with `nosniff` and a sandboxing CSP, so an SVG
//! opened on its own cannot run script in the node's origin.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Viewer;
use crate::node::Node;
use crate::trust::manifest_payload;
use archy_discovery::market::{Answer, Query};
use archy_registry::BlobHash;
use archy_registry::signing::MAX_ICON_BYTES;

/// Where the pages find the icon of `app` of `did`; `version` makes a
/// new release's icon a new URL, so browsers may keep each for a day.
pub fn icon_path(did: &str, app: &str, version: &str) -> String {
    format!("/icons/{did}/{app}?v={version}")
}

/// What the page needs of a listing's manifest to draw its icon.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Iconed {
    title: String,
    icon: Option<IconBlob>,
}

#[derive(Debug, Deserialize)]
struct IconBlob {
    blake3: BlobHash,
    size: u64,
}

/// Serves the icon of `app` of `did`.
pub async fn serve(
    _viewer: Viewer,
    State(node): State<Node>,
    Path((did, app)): Path<(String, String)>,
) -> Response {
    let manifest = listed_manifest(&node, &did, &app).await;
    let title = manifest
        .as_ref()
        .map_or_else(|| app.clone(), |m| m.title.clone());
    if let Some(IconBlob { blake3, size }) = manifest.and_then(|m| m.icon)
        && size <= MAX_ICON_BYTES
        && let Some(bytes) = held(&node, blake3).await
        && let Some(kind) = image_kind(&bytes)
    {
        return image(kind, bytes);
    }
    image("image/svg+xml", monogram_svg(&title, &app).into_bytes())
}

/// The manifest of the listing, if the market has it.
async fn listed_manifest(node: &Node, did: &str, app: &str) -> Option<Iconed> {
    let market = node.market()?.clone();
    let query = Query::Show {
        did: did.to_owned(),
        app_id: app.to_owned(),
    };
    let answer = tokio::task::spawn_blocking(move || market.answer(&query))
        .await
        .ok()?;
    match answer {
        Answer::Listing {
            detail: Some(detail),
        } => Some(manifest_payload(detail.listing.manifest.get())),
        _ => None,
    }
}

/// The icon's bytes if the node holds the whole blob.
async fn held(node: &Node, hash: BlobHash) -> Option<Vec<u8>> {
    match node.blobs().status(hash).await {
        Ok((_, true)) => node.blobs().get_bytes(hash, MAX_ICON_BYTES).await.ok(),
        _ => None,
    }
}

/// The image type `bytes` start as, if one a browser shows as an icon.
fn image_kind(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(512)];
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if String::from_utf8_lossy(head).contains("<svg") {
        Some("image/svg+xml")
    } else {
        None
    }
}

fn image(kind: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "private, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ),
        ],
        bytes,
    )
        .into_response()
}

/// A monogram: `title`'s first letter, white on a colour taken from
/// `app_id`, so apps without an icon still tell apart at a glance.
fn monogram_svg(title: &str, app_id: &str) -> String {
    let letter: String = title
        .chars()
        .find(|c| c.is_alphanumeric())
        .map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect());
    let letter = maud::html! { (letter) }.into_string();
    let hue = u32::from(blake3::hash(app_id.as_bytes()).as_bytes()[0]) * 360 / 256;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48"><rect width="48" height="48" rx="10" fill="hsl({hue},45%,32%)"/><text x="24" y="32" text-anchor="middle" font-family="sans-serif" font-size="22" font-weight="700" fill="#ffffff">{letter}</text></svg>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_are_served_as_icons() {
        assert_eq!(image_kind(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_kind(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(image_kind(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            image_kind(b"<?xml version=\"1.0\"?><svg xmlns=\"\"/>"),
            Some("image/svg+xml")
        );
        assert_eq!(image_kind(b"<html><script>"), None);
        assert_eq!(image_kind(b""), None);
    }

    #[test]
    fn a_monogram_escapes_its_letter_and_keeps_its_colour() {
        let svg = monogram_svg("<b>old", "org.example.x");
        assert!(svg.contains(">B</text>"), "{svg}");
        assert_eq!(svg, monogram_svg("Bold", "org.example.x"));
        assert!(monogram_svg("", "a.b").contains(">?</text>"));
    }
}
