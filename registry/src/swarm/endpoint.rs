//! The node's iroh endpoint. Its secret key is the node identity, so its
//! endpoint id is the node's DID key.

use std::net::SocketAddr;
use std::time::Duration;

use archy_trust::Identity;
use iroh::address_lookup::MemoryLookup;
use iroh::endpoint::{QuicTransportConfig, presets};
use iroh::{Endpoint, RelayMode, SecretKey};

use super::error::Error;
use super::store::bounded;
use super::ticket::NodeTicket;

/// How long binding the endpoint may take.
const BIND_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no traffic for this long is dead; keep-alives every
/// [`KEEP_ALIVE`] keep healthy ones open, so a provider that vanishes
/// mid-transfer costs seconds, not half a minute.
const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
const KEEP_ALIVE: Duration = Duration::from_secs(1);
/// How long closing may wait for peers to acknowledge. A dial to a dead
/// node still pending would otherwise hold the close for seconds.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Which networks the endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Direct addresses only: no relays, no address lookup service. What
    /// tests and a single machine use; nothing leaves the host or LAN.
    Local,
    /// n0's relays and DNS address lookup, for nodes behind NATs.
    Internet,
}

/// How to start the endpoint.
#[derive(Debug, Clone)]
pub struct EndpointOptions {
    /// Networks to use.
    pub network: Network,
    /// Address to bind (port 0 picks one); by default all interfaces
    /// (internet) or 127.0.0.1 (local).
    pub bind: Option<SocketAddr>,
}

/// A bound endpoint and the address book it dials from.
#[derive(Debug, Clone)]
pub struct NodeEndpoint {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Addresses of peers learnt from tickets.
    pub lookup: MemoryLookup,
    identity_did: archy_trust::Did,
}

impl NodeEndpoint {
    /// Binds an endpoint whose key is `identity`.
    pub async fn bind(identity: &Identity, options: &EndpointOptions) -> Result<Self, Error> {
        let lookup = MemoryLookup::new();
        let secret = SecretKey::from_bytes(&identity.endpoint_secret());
        let transport = QuicTransportConfig::builder()
            .max_idle_timeout(Some(
                IDLE_TIMEOUT
                    .try_into()
                    .map_err(|e| Error::Endpoint(format!("idle timeout: {e}")))?,
            ))
            .keep_alive_interval(KEEP_ALIVE)
            .build();
        let mut builder = match options.network {
            Network::Local => Endpoint::builder(presets::Minimal).relay_mode(RelayMode::Disabled),
            Network::Internet => Endpoint::builder(presets::N0),
        }
        .secret_key(secret)
        .transport_config(transport)
        .address_lookup(lookup.clone());
        let bind = options.bind.or(match options.network {
            Network::Local => Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            Network::Internet => None,
        });
        if let Some(addr) = bind {
            builder = builder
                .clear_ip_transports()
                .bind_addr(addr)
                .map_err(|e| Error::Endpoint(format!("bind address {addr}: {e}")))?;
        }
        let endpoint = bounded("binding the endpoint", BIND_TIMEOUT, builder.bind())
            .await?
            .map_err(|e| Error::Endpoint(e.to_string()))?;
        Ok(Self {
            endpoint,
            lookup,
            identity_did: identity.did(),
        })
    }

    /// Remembers where the node of `ticket` is, so it can be dialled by id.
    pub fn learn(&self, ticket: &NodeTicket) {
        self.lookup.add_endpoint_info(ticket.addr().clone());
    }

    /// This node's ticket, with the addresses it is bound to now.
    pub fn ticket(&self) -> Result<NodeTicket, Error> {
        NodeTicket::new(self.identity_did.clone(), self.endpoint.addr())
    }

    /// Closes the endpoint, telling peers.
    pub async fn close(&self) {
        if bounded("closing the endpoint", CLOSE_TIMEOUT, self.endpoint.close())
            .await
            .is_err()
        {
            tracing::debug!("peers did not acknowledge the close in time");
        }
    }
}
