//! A node ticket: how one node tells others where to reach it. It carries
//! the node's DID and its iroh endpoint address (direct addresses, relay);
//! the endpoint id is the DID's key, and reading a ticket checks that.
//!
//! Spelled `archy` + base58 of a small JSON object, so it survives copy and
//! paste, shells and URLs.

use std::fmt;
use std::str::FromStr;

use archy_trust::Did;
use iroh::{EndpointAddr, EndpointId};
use serde::{Deserialize, Serialize};

use super::error::Error;

/// Prefix of every node ticket.
pub const TICKET_PREFIX: &str = "archy";
/// Longest ticket read.
const MAX_TICKET_LEN: usize = 4096;

/// A node's DID and endpoint address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTicket {
    did: Did,
    addr: EndpointAddr,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    did: String,
    addr: EndpointAddr,
}

impl NodeTicket {
    /// The ticket of the node `did` reachable at `addr`. Fails if `addr`
    /// is not the endpoint of `did`'s key.
    pub fn new(did: Did, addr: EndpointAddr) -> Result<Self, Error> {
        if addr.id != endpoint_id_of(&did)? {
            return Err(Error::Ticket {
                ticket: did.to_string(),
                reason: format!(
                    "endpoint {} is not the endpoint of {did}",
                    addr.id.fmt_short()
                ),
            });
        }
        Ok(Self { did, addr })
    }

    /// The node's DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// Where to reach it.
    pub fn addr(&self) -> &EndpointAddr {
        &self.addr
    }

    /// Its endpoint id (the DID's key).
    pub fn endpoint_id(&self) -> EndpointId {
        self.addr.id
    }
}

/// The iroh endpoint id of a DID: the same Ed25519 key.
pub fn endpoint_id_of(did: &Did) -> Result<EndpointId, Error> {
    EndpointId::from_bytes(&did.public_key().to_bytes()).map_err(|e| Error::Ticket {
        ticket: did.to_string(),
        reason: format!("its key is not a valid endpoint id: {e}"),
    })
}

impl fmt::Display for NodeTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = Wire {
            did: self.did.to_string(),
            addr: self.addr.clone(),
        };
        let json = serde_json::to_vec(&wire).map_err(|_| fmt::Error)?;
        write!(f, "{TICKET_PREFIX}{}", bs58::encode(json).into_string())
    }
}

impl FromStr for NodeTicket {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let shown: String = text.chars().take(24).collect();
        let bad = |reason: String| Error::Ticket {
            ticket: shown.clone(),
            reason,
        };
        if text.len() > MAX_TICKET_LEN {
            return Err(bad(format!("longer than {MAX_TICKET_LEN} characters")));
        }
        let body = text
            .strip_prefix(TICKET_PREFIX)
            .ok_or_else(|| bad(format!("a node ticket starts with '{TICKET_PREFIX}'")))?;
        let json = bs58::decode(body)
            .into_vec()
            .map_err(|e| bad(format!("not base58: {e}")))?;
        let wire: Wire =
            serde_json::from_slice(&json).map_err(|e| bad(format!("unreadable content: {e}")))?;
        let did: Did = wire
            .did
            .parse()
            .map_err(|e| bad(format!("bad DID '{}': {e}", wire.did)))?;
        Self::new(did, wire.addr).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use archy_trust::Identity;

    use super::*;

    fn ticket(seed: u8) -> NodeTicket {
        let did = Identity::from_seed(&[seed; 32]).did();
        let addr = EndpointAddr::new(endpoint_id_of(&did).unwrap())
            .with_ip_addr(SocketAddr::from(([127, 0, 0, 1], 4242)));
        NodeTicket::new(did, addr).unwrap()
    }

    #[test]
    fn a_ticket_reads_back_as_itself() {
        let t = ticket(1);
        let text = t.to_string();
        assert!(text.starts_with("archy"));
        assert_eq!(text.parse::<NodeTicket>().unwrap(), t);
    }

    #[test]
    fn an_address_of_another_key_is_refused() {
        let did = Identity::from_seed(&[1; 32]).did();
        let other = Identity::from_seed(&[2; 32]).did();
        let addr = EndpointAddr::new(endpoint_id_of(&other).unwrap());
        let err = NodeTicket::new(did, addr).unwrap_err().to_string();
        assert!(err.contains("is not the endpoint of"), "{err}");
    }

    #[test]
    fn garbage_says_what_is_wrong() {
        for (text, expected) in [
            ("hello", "starts with 'archy'"),
            ("archy0OIl", "not base58"),
            ("archy2NEpo7TZRRrLZSi2U", "unreadable content"),
        ] {
            let err = text.parse::<NodeTicket>().unwrap_err().to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
