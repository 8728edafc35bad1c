//! How a node is configured: `archy.toml` in the data directory (or the
//! file `--config` names), then `ARCHY_*` environment variables, then
//! command-line flags, each overriding the one before. The defaults are
//! what a node on one machine needs, so the file is optional.
//!
//! This module reads the file and holds the result; the command line lays
//! its flags (which carry the environment variables) over it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use archy_sigbatch::Mode;
use serde::{Deserialize, Serialize};

use crate::embedded_relay;

/// The file a data directory's configuration lives in.
pub const FILE_NAME: &str = "archy.toml";

/// Largest configuration file read (a real one is a few hundred bytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Everything a running node is told, with its defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// How signatures are checked (`on`, `off` or `ifma`); see
    /// [`archy_sigbatch::Mode`].
    #[serde(with = "mode_text")]
    pub signature_batch: Mode,
    /// The iroh endpoint: how peers reach this node.
    pub swarm: SwarmConfig,
    /// The embedded Nostr relay.
    pub relay: RelayConfig,
    /// Following relays for app listings.
    pub discovery: DiscoveryConfig,
    /// Running installed apps under podman.
    pub apps: AppsConfig,
    /// The local HTTP API.
    pub api: ApiConfig,
    /// The demo publisher (`archy node run --demo`).
    pub demo: DemoConfig,
    /// Whose trust graph scores publishers, and how far it reaches.
    pub trust: TrustConfig,
}

/// The trust score's graph: the owner's follows, and theirs, fetched from
/// the relays discovery follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustConfig {
    /// The owner's Nostr key (npub or hex); none means the node key's
    /// derived Nostr key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Hops from the owner whose keys are in the graph, 1 to 4.
    pub depth: u8,
    /// Most keys in the graph.
    pub max_keys: usize,
    /// Most follows (edges) read into the graph.
    pub max_edges: usize,
    /// Keys kept from one follow or mute list.
    pub keys_per_list: usize,
    /// Reports, and separately reviews, kept from one author.
    pub claims_per_key: usize,
    /// Seconds between fetches of the graph.
    pub graph_every: u64,
}

impl TrustConfig {
    /// The owner's Nostr key: the configured one, else (or if it does not
    /// parse, which [`NodeConfig::check`] refuses first) the node key's.
    pub fn owner_key(&self, node: &archy_trust::Identity) -> [u8; 32] {
        self.owner
            .as_deref()
            .and_then(|owner| nostr::PublicKey::parse(owner).ok())
            .unwrap_or_else(|| node.nostr_keys().public_key())
            .to_bytes()
    }
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            owner: None,
            depth: 2,
            max_keys: 100_000,
            max_edges: 5_000_000,
            keys_per_list: 5_000,
            claims_per_key: 100,
            graph_every: 600,
        }
    }
}

/// The iroh endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwarmConfig {
    /// `local` (direct addresses only) or `internet` (also n0's relays and
    /// address lookup).
    pub network: NetworkChoice,
    /// UDP address to listen on; none picks a free port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<SocketAddr>,
    /// Catalog directories this node publishes.
    pub catalogs: Vec<PathBuf>,
    /// Seconds between upkeep passes: re-signing the timestamps of the
    /// catalogs this node publishes (when it holds their key) and
    /// refreshing the catalogs of installed apps' publishers to find
    /// updates. 0 turns upkeep off.
    pub upkeep_every: u64,
    /// Cap on bytes per second served to peers, like `"50MB"` or a number.
    #[serde(with = "size_text", skip_serializing_if = "Option::is_none", default)]
    pub max_upload: Option<u64>,
}

/// Which networks the endpoint uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkChoice {
    /// Direct addresses only.
    #[default]
    Local,
    /// Also public relays and address lookup, for nodes behind NAT.
    Internet,
}

/// The embedded Nostr relay on 127.0.0.1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Whether the node runs it.
    pub enabled: bool,
    /// Its port (0: any free port).
    pub port: u16,
}

/// Discovery of apps on Nostr relays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Whether the node follows relays at all.
    pub enabled: bool,
    /// Relays to follow besides the embedded one.
    pub relays: Vec<String>,
    /// Most events one publisher may create in a minute.
    pub flood_limit: u32,
    /// Percentage of bad signatures past which a relay is cut off.
    pub max_bad_signatures: f64,
}

/// Installed apps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppsConfig {
    /// Whether the node reconciles its apps with podman.
    pub enabled: bool,
    /// Seconds between reconcile passes.
    pub reconcile_every: u64,
    /// The podman API socket; none means the user's rootless socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub podman_socket: Option<PathBuf>,
    /// Use the system (rootful) podman socket.
    pub rootful: bool,
}

/// The demo publisher: sample apps signed, packed, put in a catalog of its
/// own and listed on the embedded relay, so the marketplace has apps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Whether the node runs the demo publisher.
    pub enabled: bool,
    /// The sample apps' directory (each app a subdirectory with its
    /// manifest.yml and built image.tar).
    pub apps: PathBuf,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            apps: PathBuf::from("apps"),
        }
    }
}

/// The local HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Whether the node serves it.
    pub enabled: bool,
    /// Its address; none means 127.0.0.1:8780, or a free port if another
    /// node holds that one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// Whether `listen` may be an address other machines reach. Off, a
    /// non-loopback address is refused: the API runs apps on this machine.
    pub allow_remote: bool,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        Self {
            network: NetworkChoice::Local,
            bind: None,
            catalogs: Vec::new(),
            upkeep_every: 3600,
            max_upload: None,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: None,
            allow_remote: false,
        }
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            port: embedded_relay::DEFAULT_PORT,
        }
    }
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            relays: Vec::new(),
            flood_limit: 120,
            max_bad_signatures: 10.0,
        }
    }
}

impl Default for AppsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reconcile_every: 30,
            podman_socket: None,
            rootful: false,
        }
    }
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum ConfigSource {
    /// This file was read.
    File(PathBuf),
    /// The data directory has no `archy.toml`: defaults.
    Defaults(PathBuf),
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("configuration file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is larger than any configuration needs.
    #[error(
        "configuration file {path} is {size} bytes, more than the {MAX_FILE_BYTES} a configuration may have"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The file is not valid TOML or has a key or value the node does not
    /// know; the message names the line.
    #[error("configuration file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong and where, from the TOML reader.
        message: String,
    },
    /// A value is out of its range.
    #[error("configuration file {path}: {key} {problem}")]
    OutOfRange {
        /// The file.
        path: String,
        /// The key, like `discovery.max_bad_signatures`.
        key: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

impl NodeConfig {
    /// Reads `explicit` if given (it must exist), else `archy.toml` in
    /// `data_root` if it exists, else the defaults.
    pub fn load(
        data_root: &Path,
        explicit: Option<&Path>,
    ) -> Result<(Self, ConfigSource), ConfigError> {
        let path = explicit
            .map(Path::to_owned)
            .unwrap_or_else(|| data_root.join(FILE_NAME));
        if explicit.is_none() && !path.exists() {
            return Ok((Self::default(), ConfigSource::Defaults(path)));
        }
        let shown = path.display().to_string();
        let size = std::fs::metadata(&path)
            .map_err(|source| ConfigError::Read {
                path: shown.clone(),
                source,
            })?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(ConfigError::TooLarge { path: shown, size });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|e| match e {
            ParseError::Toml(message) => ConfigError::Invalid {
                path: shown.clone(),
                message,
            },
            ParseError::Range { key, problem } => ConfigError::OutOfRange {
                path: shown.clone(),
                key,
                problem,
            },
        })?;
        Ok((config, ConfigSource::File(path)))
    }

    /// Reads a configuration from TOML text and checks its ranges.
    fn parse(text: &str) -> Result<Self, ParseError> {
        let config: Self = toml::from_str(text).map_err(|e| ParseError::Toml(e.to_string()))?;
        config
            .check()
            .map_err(|(key, problem)| ParseError::Range { key, problem })?;
        Ok(config)
    }

    /// Checks the values whose type allows more than the node accepts.
    /// Flags are checked by their parsers; a file is checked here.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let share = self.discovery.max_bad_signatures;
        if !(0.0..=100.0).contains(&share) {
            return Err((
                "discovery.max_bad_signatures",
                format!("is {share}; it is a percentage from 0 to 100"),
            ));
        }
        if self.apps.reconcile_every == 0 {
            return Err((
                "apps.reconcile_every",
                "is 0; it is a number of seconds, at least 1".to_owned(),
            ));
        }
        if self.discovery.flood_limit == 0 {
            return Err((
                "discovery.flood_limit",
                "is 0, which would refuse every event; at least 1".to_owned(),
            ));
        }
        let trust = &self.trust;
        if !(1..=4).contains(&trust.depth) {
            return Err((
                "trust.depth",
                format!("is {}; it is a number of hops from 1 to 4", trust.depth),
            ));
        }
        for (name, value) in [
            ("trust.max_keys", trust.max_keys),
            ("trust.max_edges", trust.max_edges),
            ("trust.keys_per_list", trust.keys_per_list),
            ("trust.claims_per_key", trust.claims_per_key),
        ] {
            if value == 0 {
                return Err((name, "is 0; it is at least 1".to_owned()));
            }
        }
        if trust.graph_every == 0 {
            return Err((
                "trust.graph_every",
                "is 0; it is a number of seconds, at least 1".to_owned(),
            ));
        }
        if let Some(owner) = &trust.owner
            && nostr::PublicKey::parse(owner).is_err()
        {
            return Err((
                "trust.owner",
                format!("is {owner:?}, not a Nostr public key (npub1… or 64 hex digits)"),
            ));
        }
        Ok(())
    }

    /// The configuration as TOML, as `archy node config` prints it.
    pub fn to_toml(&self) -> String {
        // Every field serializes (no maps with non-string keys), so this
        // cannot fail; an empty text would still be a valid configuration.
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Why TOML text is not a configuration.
#[derive(Debug)]
enum ParseError {
    Toml(String),
    Range { key: &'static str, problem: String },
}

/// `signature_batch` as the words the flag takes.
mod mode_text {
    use archy_sigbatch::Mode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Mode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&mode.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Mode, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A size as a number of bytes or as text like `"50MB"`.
mod size_text {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(size: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match size {
            Some(bytes) => s.serialize_u64(*bytes),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Size::deserialize(d)? {
            Size::Bytes(bytes) => Ok(Some(bytes)),
            Size::Text(text) => crate::units::parse_size(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(NodeConfig::parse("").expect("valid"), NodeConfig::default());
    }

    #[test]
    fn a_file_sets_what_it_names_and_keeps_the_rest() {
        let config = NodeConfig::parse(
            "signature_batch = \"off\"\n[swarm]\nmax_upload = \"50MB\"\n[discovery]\nrelays = [\"ws://relay.example\"]\n",
        )
        .expect("valid");
        assert_eq!(config.signature_batch, Mode::Single);
        assert_eq!(config.swarm.max_upload, Some(50_000_000));
        assert_eq!(config.discovery.relays, ["ws://relay.example"]);
        assert_eq!(config.relay, RelayConfig::default());
    }

    #[test]
    fn the_printed_config_reads_back_the_same() {
        let mut config = NodeConfig::default();
        config.swarm.max_upload = Some(1234);
        config.apps.podman_socket = Some("/run/podman/podman.sock".into());
        config.swarm.bind = Some("127.0.0.1:4433".parse().expect("addr"));
        config.api.listen = Some("127.0.0.1:9000".parse().expect("addr"));
        let text = config.to_toml();
        assert_eq!(NodeConfig::parse(&text).expect("valid"), config, "{text}");
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let Err(ParseError::Toml(message)) = NodeConfig::parse("[relay]\nport = 1\nprot = 2\n")
        else {
            panic!("accepted a misspelled key")
        };
        assert!(
            message.contains("prot") && message.contains("line 3"),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_mode_names_the_modes() {
        let Err(ParseError::Toml(message)) = NodeConfig::parse("signature_batch = \"fast\"\n")
        else {
            panic!("accepted an unknown mode")
        };
        assert!(
            message.contains("fast") && message.contains("ifma"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_values_are_refused_by_key() {
        let Err(ParseError::Range { key, .. }) =
            NodeConfig::parse("[discovery]\nmax_bad_signatures = 150.0\n")
        else {
            panic!("accepted 150 %")
        };
        assert_eq!(key, "discovery.max_bad_signatures");
        let Err(ParseError::Range { key, .. }) = NodeConfig::parse("[trust]\nkeys_per_list = 0\n")
        else {
            panic!("accepted lists of no keys")
        };
        assert_eq!(key, "trust.keys_per_list");
        let caps =
            NodeConfig::parse("[trust]\nmax_edges = 10\nclaims_per_key = 3\n").expect("valid");
        assert_eq!((caps.trust.max_edges, caps.trust.claims_per_key), (10, 3));
    }

    #[test]
    fn a_named_file_must_exist_but_the_default_one_may_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (config, source) = NodeConfig::load(dir.path(), None).expect("defaults");
        assert_eq!(config, NodeConfig::default());
        assert!(matches!(source, ConfigSource::Defaults(_)));
        let missing = dir.path().join("other.toml");
        assert!(matches!(
            NodeConfig::load(dir.path(), Some(&missing)),
            Err(ConfigError::Read { .. })
        ));
    }
}
