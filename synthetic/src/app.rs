//! Apps of any size made on the spot, for benchmarks and swarm tests: a
//! valid manifest and one `podman save`-layout archive (docker-archive) per
//! container, whose layer holds a file of pseudo-random bytes (BLAKE3's
//! output stream of a seed, so two runs with one seed make identical files)
//! and, for an app that must run, a static busybox.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use archy_trust::Did;
use sha2::{Digest, Sha256};

/// Bytes written per step.
const CHUNK: usize = 1 << 20;

/// Writes an app `id` at `version` published by `publisher` into `dir`:
/// `manifest.yml` and `image-N.tar` of about `sizes[N]` bytes each. Its
/// images load into podman but hold no programs, so the app cannot run.
/// Returns the manifest's path.
pub fn write_app(
    dir: &Path,
    publisher: &Did,
    id: &str,
    version: &str,
    sizes: &[u64],
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for (n, size) in sizes.iter().enumerate() {
        let seed = format!("{id}/{version}/{n}");
        write_archive(&dir.join(image_name(n)), &seed, *size, None)?;
    }
    write_manifest(dir, publisher, id, version, sizes.len())
}

/// Like [`write_app`] with one image of about `size` bytes that also
/// holds the static `busybox` at `/bin/busybox`, so the app installs and
/// runs under podman (its container sleeps).
pub fn write_runnable_app(
    dir: &Path,
    publisher: &Did,
    id: &str,
    version: &str,
    size: u64,
    busybox: &Path,
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let seed = format!("{id}/{version}/0");
    write_archive(&dir.join(image_name(0)), &seed, size, Some(busybox))?;
    write_manifest(dir, publisher, id, version, 1)
}

fn image_name(n: usize) -> String {
    format!("image-{n}.tar")
}

fn write_manifest(
    dir: &Path,
    publisher: &Did,
    id: &str,
    version: &str,
    images: usize,
) -> io::Result<PathBuf> {
    let mut containers = String::new();
    for n in 0..images {
        let name = image_name(n);
        containers +=
            &format!("  - name: c{n}\n    image: {name}\n    command: [sleep, \"3600\"]\n");
    }
    let manifest = format!(
        "manifest_version: 1\nid: {id}\nversion: {version}\ntitle: Synthetic {id}\n\
         summary: Made for benchmarks and tests\npublisher: {publisher}\n\
         license: MIT\ncontainers:\n{containers}"
    );
    let path = dir.join("manifest.yml");
    std::fs::write(&path, manifest)?;
    Ok(path)
}

/// A docker-archive whose one layer holds `data.bin`, `size` pseudo-random
/// bytes seeded by `seed`, and, given `busybox`, `/bin/busybox` with the
/// `sh` and `sleep` links. The layer is written beside `path` first (the
/// archive's entry needs its size), then removed.
fn write_archive(path: &Path, seed: &str, size: u64, busybox: Option<&Path>) -> io::Result<()> {
    let layer_path = path.with_extension("layer.tmp");
    let diff_id = write_layer(&layer_path, seed, size, busybox)?;
    let written = (|| {
        let mut out = tar::Builder::new(BufWriter::with_capacity(CHUNK, File::create(path)?));
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/sh"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff_id}"]}},"comment":"{seed}"}}"#
        );
        let manifest = r#"[{"Config":"config.json","RepoTags":["localhost/synthetic:latest"],"Layers":["layer.tar"]}]"#;
        append(
            &mut out,
            "manifest.json",
            manifest.len() as u64,
            0o644,
            manifest.as_bytes(),
        )?;
        append(
            &mut out,
            "config.json",
            config.len() as u64,
            0o644,
            config.as_bytes(),
        )?;
        let layer = File::open(&layer_path)?;
        append(&mut out, "layer.tar", layer.metadata()?.len(), 0o644, layer)?;
        out.into_inner()?.flush()
    })();
    let _ = std::fs::remove_file(&layer_path);
    written
}

/// Writes the layer; returns its SHA-256 in hex, the image's `diff_id`.
fn write_layer(path: &Path, seed: &str, size: u64, busybox: Option<&Path>) -> io::Result<String> {
    let file = BufWriter::with_capacity(CHUNK, File::create(path)?);
    let mut out = tar::Builder::new(Hashing {
        inner: file,
        hasher: Sha256::new(),
    });
    if let Some(busybox) = busybox {
        let program = File::open(busybox)?;
        let size = program.metadata()?.len();
        append(&mut out, "bin/busybox", size, 0o755, program)?;
        for applet in ["sh", "sleep"] {
            let mut link = tar::Header::new_gnu();
            link.set_entry_type(tar::EntryType::Symlink);
            link.set_size(0);
            link.set_mode(0o777);
            link.set_mtime(0);
            out.append_link(&mut link, format!("bin/{applet}"), "busybox")?;
        }
    }
    let mut stream = blake3::Hasher::new().update(seed.as_bytes()).finalize_xof();
    let data = RandomReader {
        stream: &mut stream,
        left: size,
    };
    append(&mut out, "data.bin", size, 0o644, data)?;
    let mut hashing = out.into_inner()?;
    hashing.inner.flush()?;
    Ok(hex::encode(hashing.hasher.finalize()))
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn append(
    out: &mut tar::Builder<impl Write>,
    name: &str,
    size: u64,
    mode: u32,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_cksum();
    out.append_data(&mut header, name, data)
}

/// `left` bytes of a BLAKE3 output stream.
struct RandomReader<'a> {
    stream: &'a mut blake3::OutputReader,
    left: u64,
}

impl Read for RandomReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        self.stream.fill(&mut buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synthetic_app_signs_and_its_archives_are_as_large_as_asked() {
        let dir = tempfile::tempdir().unwrap();
        let identity = archy_trust::Identity::from_seed(&[5; 32]);
        let manifest = write_app(
            dir.path(),
            &identity.did(),
            "org.example.big",
            "1.0.0",
            &[100_000, 10],
        )
        .unwrap();
        let signed = archy_registry::signing::sign(&manifest, &identity).unwrap();
        assert_eq!(signed.manifest.containers.len(), 2);
        let size = std::fs::metadata(dir.path().join("image-0.tar"))
            .unwrap()
            .len();
        assert!(size > 100_000 && size < 110_000, "{size}");
    }

    #[test]
    fn a_runnable_app_has_busybox_and_its_links_in_its_layer() {
        let dir = tempfile::tempdir().unwrap();
        let busybox = dir.path().join("busybox");
        std::fs::write(&busybox, b"#!not really busybox").unwrap();
        let identity = archy_trust::Identity::from_seed(&[6; 32]);
        let app = dir.path().join("app");
        write_runnable_app(
            &app,
            &identity.did(),
            "org.example.run",
            "1.0.0",
            1000,
            &busybox,
        )
        .unwrap();
        let mut archive = tar::Archive::new(File::open(app.join("image-0.tar")).unwrap());
        let mut layer = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("layer.tar") {
                entry.read_to_end(&mut layer).unwrap();
            }
        }
        let names: Vec<String> = tar::Archive::new(&layer[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["bin/busybox", "bin/sh", "bin/sleep", "data.bin"]);
        assert!(!app.join("image-0.layer.tmp").exists());
    }
}
