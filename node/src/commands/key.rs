//! `archy key`: identity key files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use archy_trust::{Identity, keyfile};
use serde::Serialize;

use crate::cli::KeyCommand;
use crate::output::Output;

#[derive(Serialize)]
struct KeyInfo {
    file: String,
    did: String,
    npub: String,
    nostr_pubkey_hex: String,
    tuf_keyid: String,
}

impl KeyInfo {
    fn of(file: &Path, identity: &Identity) -> Self {
        let nostr = identity.nostr_keys().public_key();
        Self {
            file: file.display().to_string(),
            did: identity.did().to_string(),
            npub: identity.npub(),
            nostr_pubkey_hex: nostr.to_hex(),
            tuf_keyid: identity.public_key().tuf_keyid(),
        }
    }

    fn text(&self) -> String {
        format!(
            "did:        {}\nnpub:       {}\ntuf keyid:  {}\nkey file:   {}",
            self.did, self.npub, self.tuf_keyid, self.file
        )
    }
}

pub fn run(cmd: KeyCommand, out: &Output) -> anyhow::Result<ExitCode> {
    match cmd {
        KeyCommand::New { out: path } => {
            let identity = Identity::generate()?;
            keyfile::create(&path, &identity)?;
            let info = KeyInfo::of(&path, &identity);
            out.result(&info, || {
                format!("created a new identity (mode 0600)\n{}", info.text())
            });
        }
        KeyCommand::Show { file } => {
            let identity = keyfile::load(&file).context("cannot use this key")?;
            let info = KeyInfo::of(&file, &identity);
            out.result(&info, || info.text());
        }
    }
    Ok(ExitCode::SUCCESS)
}
