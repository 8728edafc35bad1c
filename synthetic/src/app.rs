//! Apps of any size made on the spot, for benchmarks and swarm tests: a
//! valid manifest and one `podman save`-layout archive (docker-archive) per
//! container, whose layer is pseudo-random bytes (BLAKE3's output stream
//! of a seed, so two runs with one seed make identical files).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use archy_trust::Did;

/// Bytes written per step.
const CHUNK: usize = 1 << 20;

/// Writes an app `id` at `version` published by `publisher` into `dir`:
/// `manifest.yml` and `image-N.tar` of about `sizes[N]` bytes each.
/// Returns the manifest's path.
pub fn write_app(
    dir: &Path,
    publisher: &Did,
    id: &str,
    version: &str,
    sizes: &[u64],
) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut containers = String::new();
    for (n, size) in sizes.iter().enumerate() {
        let name = format!("image-{n}.tar");
        write_archive(&dir.join(&name), &format!("{id}/{version}/{n}"), *size)?;
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

/// A docker-archive with one layer of `size` pseudo-random bytes (plus
/// tar headers) seeded by `seed`.
fn write_archive(path: &Path, seed: &str, size: u64) -> io::Result<()> {
    let mut out = tar::Builder::new(BufWriter::with_capacity(CHUNK, File::create(path)?));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["/bin/true"]}},"comment":"{seed}"}}"#
    );
    let manifest = r#"[{"Config":"config.json","RepoTags":["localhost/synthetic:latest"],"Layers":["layer.bin"]}]"#;
    append(
        &mut out,
        "manifest.json",
        manifest.len() as u64,
        manifest.as_bytes(),
    )?;
    append(
        &mut out,
        "config.json",
        config.len() as u64,
        config.as_bytes(),
    )?;
    let mut stream = blake3::Hasher::new().update(seed.as_bytes()).finalize_xof();
    let layer = RandomReader {
        stream: &mut stream,
        left: size,
    };
    append(&mut out, "layer.bin", size, layer)?;
    out.into_inner()?.flush()
}

fn append(
    out: &mut tar::Builder<BufWriter<File>>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
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
}
