//! The starter manifest for `archy app init`: valid as written, with a
//! comment on every field so a newcomer can edit it without the spec open.

use archy_trust::Did;

/// Text of a valid source-form `manifest.yml` for an app `id` published by
/// `publisher`. The image archive it names is built by the developer.
pub fn manifest_yaml(id: &str, title: &str, publisher: &Did) -> String {
    format!(
        r#"# App manifest v1 — field reference: docs/manifest-spec.md
manifest_version: 1
# Reverse-DNS id, unique to your app.
id: {id}
# Semantic version of this release.
version: 0.1.0
title: {title}
summary: One line that says what {title} does
publisher: {publisher}
license: MIT
containers:
  - name: web
    # A `podman save` archive next to this file; `archy app sign` replaces
    # it with the archive's BLAKE3 hash and image id.
    image: image.tar
    command: [serve, -p, "8080", -h, /www]
    ports:
      - container: 8080
    health:
      http:
        port: 8080
        path: /
    stop_grace_secs: 5
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_registry::{Form, Manifest};

    #[test]
    fn scaffold_is_a_valid_source_manifest() {
        let did = archy_trust::Identity::from_seed(&[4; 32]).did();
        let yaml = manifest_yaml("org.example.my-app", "My app", &did);
        let manifest = Manifest::from_yaml(&yaml, "manifest.yml", Form::Source).unwrap();
        assert_eq!(manifest.publisher, did);
    }
}
