//! `archy app`: scaffold, validate, sign and verify app manifests.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use archy_node::scaffold;
use archy_registry::manifest::{Diagnostic, ImageRef};
use archy_registry::{Form, Manifest, files, signing};
use archy_trust::envelope::MAX_ENVELOPE_BYTES;
use archy_trust::{Did, keyfile};
use serde::Serialize;

use super::apps::{self, Operation};
use crate::cli::{AppCommand, InitArgs};
use crate::output::Output;

const MANIFEST_FILE: &str = "manifest.yml";

pub fn run(cmd: AppCommand, out: &Output) -> anyhow::Result<ExitCode> {
    match cmd {
        AppCommand::Init(args) => init(args, out),
        AppCommand::Validate { path, published } => validate(&path, published, out),
        AppCommand::Sign {
            path,
            key,
            catalog,
            out: dest,
        } => sign(&path, &key, catalog.as_deref(), dest, out),
        AppCommand::Verify { signed, publisher } => verify(&signed, publisher.as_deref(), out),
        AppCommand::Pack { path, key, data } => super::swarm::pack(&path, &key, &data, out),
        AppCommand::Publish(args) => super::publish::run(args, out),
        AppCommand::Unpublish(args) => super::publish::unpublish(args, out),
        AppCommand::Install(args) => apps::install(args, false, out),
        AppCommand::Update(args) => apps::install(args, true, out),
        AppCommand::Start(app) => apps::operate(app, Operation::Start, out),
        AppCommand::Stop { app, force } => apps::operate(app, Operation::Stop { force }, out),
        AppCommand::Restart(app) => apps::operate(app, Operation::Restart, out),
        AppCommand::Reinstall(app) => apps::operate(app, Operation::Reinstall, out),
        AppCommand::Uninstall { app, purge, force } => {
            apps::operate(app, Operation::Uninstall { purge, force }, out)
        }
        AppCommand::AutoUpdate { app, setting } => {
            apps::auto_update(&app, setting == crate::cli::Switch::On, out)
        }
        AppCommand::Ls(args) => apps::list(args, out),
        AppCommand::Status(app) => apps::status(app, out),
        AppCommand::Reconcile(args) => apps::reconcile(args, out),
        AppCommand::Journal { limit, apps: args } => apps::journal(limit, args, out),
        AppCommand::Render { path, out: dir, .. } => apps::render(&path, dir.as_deref(), out),
        AppCommand::Test { path, apps: args } => apps::test(&path, args, out),
    }
}

/// A directory means the `manifest.yml` inside it.
pub(super) fn manifest_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else {
        path.to_owned()
    }
}

#[derive(Serialize)]
struct Summary {
    id: String,
    version: String,
    title: String,
    publisher: String,
    containers: Vec<String>,
}

impl Summary {
    fn of(m: &Manifest) -> Self {
        Self {
            id: m.id.clone(),
            version: m.version.to_string(),
            title: m.title.clone(),
            publisher: m.publisher.to_string(),
            containers: m.containers.iter().map(|c| c.name.clone()).collect(),
        }
    }

    fn line(&self) -> String {
        format!(
            "{} {} \"{}\", {} container(s): {}",
            self.id,
            self.version,
            self.title,
            self.containers.len(),
            self.containers.join(", ")
        )
    }
}

fn init(args: InitArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let publisher: Did = match (&args.publisher.key, &args.publisher.publisher) {
        (Some(key), _) => keyfile::load(key)?.did(),
        (None, Some(did)) => did.parse()?,
        (None, None) => bail!(
            "give --key FILE or --publisher DID (create a key with `archy key new --out me.key`)"
        ),
    };
    let dir_name = args
        .dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("the app directory needs a name, like ./my-app")?;
    let slug: String = dir_name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let id = args
        .id
        .unwrap_or_else(|| format!("org.example.{}", slug.trim_matches('-')));
    let title = args.title.unwrap_or_else(|| dir_name.to_owned());
    let yaml = scaffold::manifest_yaml(&id, &title, &publisher);
    let path = args.dir.join(MANIFEST_FILE);
    let manifest = Manifest::from_yaml(&yaml, &path.display().to_string(), Form::Source)
        .context("--id or --title does not fit the manifest rules")?;
    fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| f.write_all(yaml.as_bytes()))
        .with_context(|| format!("cannot write {} (it is never overwritten)", path.display()))?;
    let summary = Summary::of(&manifest);
    out.result(&serde_json::json!({ "manifest": path, "app": summary }), || {
        format!(
            "wrote {}\n  {}\nnext: put a `podman save` archive at {}, then `archy app sign {} --key KEY`",
            path.display(),
            summary.line(),
            args.dir.join("image.tar").display(),
            args.dir.display()
        )
    });
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct Problem {
    line: Option<usize>,
    column: Option<usize>,
    path: String,
    message: String,
}

impl From<&Diagnostic> for Problem {
    fn from(d: &Diagnostic) -> Self {
        Self {
            line: d.pos.map(|p| p.line),
            column: d.pos.map(|p| p.column),
            path: d.path.clone(),
            message: d.message.clone(),
        }
    }
}

fn validate(path: &Path, published: bool, out: &Output) -> anyhow::Result<ExitCode> {
    let file = manifest_path(path);
    let form = if published {
        Form::Published
    } else {
        Form::Source
    };
    match Manifest::load(&file, form) {
        Ok(manifest) => {
            let summary = Summary::of(&manifest);
            out.result(
                &serde_json::json!({ "file": file, "valid": true, "app": summary }),
                || format!("{}: valid\n  {}", file.display(), summary.line()),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(diagnostics) => {
            let problems: Vec<Problem> = diagnostics.items.iter().map(Problem::from).collect();
            if out.is_json() {
                out.result(
                    &serde_json::json!({ "file": file, "valid": false, "problems": problems }),
                    String::new,
                );
            } else {
                eprintln!("{diagnostics}");
                eprintln!("{}: {} problem(s)", file.display(), problems.len());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Serialize)]
struct SignedImage {
    container: String,
    blake3: String,
    size: u64,
    image_id: String,
}

fn sign(
    path: &Path,
    key: &Path,
    catalog: Option<&Path>,
    dest: Option<PathBuf>,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let identity = keyfile::load(key)?;
    let file = manifest_path(path);
    let signers = match catalog {
        Some(dir) => archy_registry::catalog::Repository::open(dir)?.signers()?,
        None => signing::Signers::default(),
    };
    let signed = signing::sign_for(&file, &identity, &signers)?;
    let dest = dest.unwrap_or_else(|| file.with_file_name(signing::SIGNED_MANIFEST_FILE));
    write_atomically(&dest, &signed.envelope)?;
    let images: Vec<SignedImage> = signed
        .manifest
        .containers
        .iter()
        .filter_map(|c| match &c.image {
            ImageRef::Published { blake3, size, id } => Some(SignedImage {
                container: c.name.clone(),
                blake3: blake3.to_string(),
                size: *size,
                image_id: id.to_string(),
            }),
            ImageRef::Archive(_) => None,
        })
        .collect();
    let summary = Summary::of(&signed.manifest);
    out.result(
        &serde_json::json!({ "signed_manifest": dest, "app": summary, "images": images }),
        || {
            let mut text = format!("signed {}\n  wrote {}\n", summary.line(), dest.display());
            for i in &images {
                text += &format!(
                    "  {}: blake3 {} ({} bytes), image {}\n",
                    i.container, i.blake3, i.size, i.image_id
                );
            }
            text
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written signed manifest behind.
fn write_atomically(dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    files::write_atomically(dest, bytes).with_context(|| format!("cannot write {}", dest.display()))
}

fn verify(path: &Path, publisher: Option<&str>, out: &Output) -> anyhow::Result<ExitCode> {
    let expected: Option<Did> = publisher
        .map(str::parse)
        .transpose()
        .context("--publisher")?;
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_ENVELOPE_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
    match signing::verify(&bytes, expected.as_ref()) {
        Ok(manifest) => {
            let summary = Summary::of(&manifest);
            out.result(
                &serde_json::json!({ "file": path, "valid": true, "app": summary }),
                || {
                    format!(
                        "{}: authentic, signed by {}\n  {}",
                        path.display(),
                        summary.publisher,
                        summary.line()
                    )
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            if out.is_json() {
                out.result(
                    &serde_json::json!({ "file": path, "valid": false, "error": err.to_string() }),
                    String::new,
                );
            } else {
                eprintln!("{}: NOT VALID: {err}", path.display());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
