//! Invites: what `archy peer invite` prints and `archy peer join` takes.
//! An invite names the inviting node (its ticket: DID and addresses), the
//! federation's gossip topic, a single-use nonce and an expiry, signed by
//! the inviting node's DID. Spelled `archyinvite` + base58 of the signed
//! envelope, so it survives copy and paste.

use archy_registry::swarm::NodeTicket;
use archy_trust::envelope::{Payload, Signed};
use archy_trust::{Did, Identity};
use serde::{Deserialize, Serialize};

/// How an invite starts.
pub const INVITE_PREFIX: &str = "archyinvite";
/// Longest invite read.
const MAX_INVITE_LEN: usize = 8 * 1024;

/// What an invite says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// The inviting node's ticket.
    pub ticket: String,
    /// The federation's gossip topic, hex.
    pub topic: String,
    /// Single use: the inviting node marks it used when redeemed.
    pub nonce: String,
    /// Unix seconds after which it is refused.
    pub expires: u64,
}

impl Payload for Invite {
    const TYPE: &'static str = "archy/invite";
}

/// An invite that could not be read or is not what it claims.
#[derive(Debug, thiserror::Error)]
#[error("this invite {0}")]
pub struct InviteError(String);

/// An invite checked against its signer: signed by the DID of the node
/// its ticket names.
#[derive(Debug, Clone)]
pub struct ReadInvite {
    /// What it says.
    pub invite: Invite,
    /// The inviting node.
    pub inviter: NodeTicket,
    /// Its nonce.
    pub nonce: [u8; 16],
    /// Its topic.
    pub topic: [u8; 32],
}

/// Writes an invite to `ticket`'s node, signed by `identity` (that node's).
pub fn write(
    identity: &Identity,
    ticket: &NodeTicket,
    topic: [u8; 32],
    nonce: [u8; 16],
    expires: u64,
) -> Result<String, InviteError> {
    let invite = Invite {
        ticket: ticket.to_string(),
        topic: hex::encode(topic),
        nonce: hex::encode(nonce),
        expires,
    };
    let signed = Signed::sign(&invite, identity)
        .map_err(|e| InviteError(format!("could not be signed: {e}")))?;
    Ok(format!(
        "{INVITE_PREFIX}{}",
        bs58::encode(signed.trim_ascii_end()).into_string()
    ))
}

/// Reads `text` as an invite and checks its signature: by the DID its
/// ticket names. Whether it is fresh is for the inviting node to say.
pub fn read(text: &str) -> Result<ReadInvite, InviteError> {
    let text = text.trim();
    if text.len() > MAX_INVITE_LEN {
        return Err(InviteError(format!(
            "is longer than {MAX_INVITE_LEN} characters"
        )));
    }
    let body = text.strip_prefix(INVITE_PREFIX).ok_or_else(|| {
        InviteError(format!(
            "does not start with '{INVITE_PREFIX}': copy the whole invite"
        ))
    })?;
    let bytes = bs58::decode(body)
        .into_vec()
        .map_err(|e| InviteError(format!("is not base58 after its prefix: {e}")))?;
    let signed = Signed::<Invite>::verify(&bytes, None)
        .map_err(|e| InviteError(format!("is not validly signed: {e}")))?;
    let invite = signed.payload().clone();
    let inviter: NodeTicket = invite
        .ticket
        .parse()
        .map_err(|e| InviteError(format!("names no node: {e}")))?;
    if inviter.did() != signed.signer() {
        return Err(InviteError(format!(
            "is signed by {}, not by the node it names ({})",
            signed.signer(),
            inviter.did()
        )));
    }
    let nonce = decode_hex::<16>(&invite.nonce, "nonce")?;
    let topic = decode_hex::<32>(&invite.topic, "topic")?;
    Ok(ReadInvite {
        invite,
        inviter,
        nonce,
        topic,
    })
}

fn decode_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], InviteError> {
    let bytes =
        hex::decode(text).map_err(|e| InviteError(format!("has a {what} that is not hex: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| InviteError(format!("has a {what} that is not {N} bytes")))
}

impl ReadInvite {
    /// Whether the inviting node is `did`.
    pub fn is_from(&self, did: &Did) -> bool {
        self.inviter.did() == did
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iroh::{EndpointAddr, SecretKey};

    fn ticket(identity: &Identity) -> NodeTicket {
        let secret = SecretKey::from_bytes(&identity.endpoint_secret());
        NodeTicket::new(identity.did(), EndpointAddr::new(secret.public())).unwrap()
    }

    #[test]
    fn an_invite_reads_back_and_a_tampered_or_foreign_one_does_not() {
        let alice = Identity::from_seed(&[1; 32]);
        let text = write(&alice, &ticket(&alice), [7; 32], [9; 16], 100).unwrap();
        let read = read(&text).unwrap();
        assert_eq!(
            (read.topic, read.nonce, read.invite.expires),
            ([7; 32], [9; 16], 100)
        );
        assert!(read.is_from(&alice.did()));

        // Signed by bob, naming alice's node.
        let bob = Identity::from_seed(&[2; 32]);
        let forged = write(&bob, &ticket(&alice), [7; 32], [9; 16], 100).unwrap();
        let err = super::read(&forged).unwrap_err().to_string();
        assert!(err.contains("not by the node it names"), "{err}");

        let mut bytes = bs58::decode(&text[INVITE_PREFIX.len()..])
            .into_vec()
            .unwrap();
        let at = bytes.windows(3).position(|w| w == b"100").unwrap();
        bytes[at] = b'9';
        let tampered = format!("{INVITE_PREFIX}{}", bs58::encode(bytes).into_string());
        let err = super::read(&tampered).unwrap_err().to_string();
        assert!(err.contains("not validly signed"), "{err}");
        assert!(super::read("archy123").is_err());
    }
}
