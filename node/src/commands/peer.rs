//! `archy peer invite|join|ls|remove`: pairing with other nodes, which then
//! share what they know over gossip; asks the node's API (the running node,
//! or one started for the command).

use std::process::ExitCode;

use anyhow::Context;
use archy_node::api::peers::{Invited, Removed};
use archy_node::federation::PairedPeer;
use archy_node::federation::proof::{MAX_PROOF_BYTES, SplitViewProof};

use super::runtime;
use super::session::Session;
use super::swarm::data_dir;
use crate::cli::{PeerCommand, VerifyProofArgs};
use crate::output::Output;

pub fn run(cmd: PeerCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let data = match &cmd {
        PeerCommand::Invite(a) => &a.data,
        PeerCommand::Join(a) => &a.data,
        PeerCommand::Ls(a) => &a.data,
        PeerCommand::Remove(a) => &a.data,
    };
    let data = data_dir(data)?;
    runtime()?.block_on(async {
        let session = Session::open(&data, |_| {}).await?;
        if matches!(cmd, PeerCommand::Invite(_)) && session.started_here() {
            session.close().await;
            anyhow::bail!(
                "no node runs on {}: an invite is answered by the running node, so start it first (`archy node run`)",
                data.root().display()
            );
        }
        let client = session.client();
        let result = match &cmd {
            PeerCommand::Invite(a) => client
                .post::<_, Invited>(
                    "/api/peers/invite",
                    &serde_json::json!({"expires_secs": a.expires}),
                )
                .await
                .map(|invited| {
                    out.result(&invited, || {
                        format!(
                            "{}\n\nGive it to the node that should pair with this one: `archy peer join INVITE` there. It works once, until {}.",
                            invited.invite,
                            archy_registry::tuf::time::UtcTime::from_unix(
                                i64::try_from(invited.expires).unwrap_or(i64::MAX)
                            )
                        )
                    });
                }),
            PeerCommand::Join(a) => client
                .post::<_, PairedPeer>("/api/peers/join", &serde_json::json!({"invite": a.invite}))
                .await
                .map(|peer| {
                    out.result(&peer, || format!("paired with {}", peer.did));
                }),
            PeerCommand::Ls(_) => client
                .get::<Vec<PairedPeer>>("/api/peers")
                .await
                .map(|peers| out.result(&peers, || peers_text(&peers))),
            PeerCommand::Remove(a) => client
                .delete::<Removed>(&format!("/api/peers/{}", a.did))
                .await
                .map(|removed| {
                    out.result(&removed, || {
                        if removed.was_paired {
                            format!(
                                "removed {}: it stays removed until it is invited again",
                                removed.did
                            )
                        } else {
                            format!(
                                "{} was not paired; it is marked removed all the same",
                                removed.did
                            )
                        }
                    });
                }),
        };
        session.close().await;
        result.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `archy verify-proof FILE`: checks a split-view proof with nothing but
/// the file; exit 1 when it does not hold.
pub fn verify_proof(args: &VerifyProofArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let bytes = archy_registry::files::read_bounded(&args.file, MAX_PROOF_BYTES as u64)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let proof: SplitViewProof = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a split-view proof", args.file.display()))?;
    let verdict = proof.verify();
    let shown = serde_json::json!({
        "valid": verdict.is_ok(),
        "publisher": proof.publisher,
        "version": proof.version,
        "reason": verdict.as_ref().err(),
    });
    out.result(&shown, || match &verdict {
        Ok(()) => format!("valid: {}", proof.alarm()),
        Err(e) => format!("not a valid proof: {e}"),
    });
    Ok(if verdict.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn peers_text(peers: &[PairedPeer]) -> String {
    if peers.is_empty() {
        return "no paired nodes: run `archy peer invite` on one node and `archy peer join INVITE` on the other".into();
    }
    peers
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.did,
                if p.connected {
                    "connected"
                } else {
                    "not connected now"
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
