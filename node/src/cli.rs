//! Flags and subcommands of `archy`, with the help text users see.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A peer of the Archipelago app registry: identities, app manifests,
/// signing and verification, signed catalogs, and a node that shares and
/// fetches releases over iroh.
#[derive(Debug, Parser)]
#[command(
    name = "archy",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log more (-v info, -vv debug, -vvv trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How signatures are checked: `on`, many in one equation (portable
    /// arithmetic); `off`, each alone (the kill switch); `ifma`, batches
    /// with AVX-512 IFMA lanes where the CPU has them. The verdicts are
    /// the same in every mode [default: `signature_batch` in archy.toml
    /// for `node run`, else on].
    #[arg(
        long,
        global = true,
        value_name = "MODE",
        env = "ARCHY_SIGNATURE_BATCH"
    )]
    pub signature_batch: Option<archy_sigbatch::Mode>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect identity keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Scaffold, validate, sign, verify and pack app manifests.
    #[command(subcommand)]
    App(AppCommand),
    /// Publish releases in a signed catalog (a TUF repository) and serve it.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Run this node: serve its blobs and catalogs to peers.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Fetch a release from its publisher's node or any peer, verified
    /// against the publisher's catalog.
    Fetch(FetchArgs),
    /// List, share, receive and garbage-collect the node's blobs.
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Browse the apps discovered on Nostr relays.
    #[command(subcommand)]
    Market(MarketCommand),
    /// How far this node's owner trusts publishers and apps, and why.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Pair with other nodes: they share what they know over gossip.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Review an app: a rating and a few words, signed by your key and
    /// sent to Nostr relays. Each node weighs it by how far its owner
    /// trusts you.
    Review(ReviewArgs),
    /// Check a split-view proof offline: a publisher signed two different
    /// timestamps of one version (exit 1 if the proof does not hold).
    VerifyProof(VerifyProofArgs),
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The proof, as `GET /api/peers/split-views` gives each one (JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The app: PUBLISHER_DID/APP_ID.
    #[arg(value_name = "DID/APP")]
    pub app: String,
    /// 1 to 5 stars.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub rating: u8,
    /// What you say about it (at most 4000 bytes).
    #[arg(long, default_value = "")]
    pub text: String,
    /// Your key file (`archy key new`); its Nostr key signs the review.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A relay to send the review to; repeat for several [default: this
    /// machine's node, ws://127.0.0.1:7447].
    #[arg(long = "relay", value_name = "URL")]
    pub relays: Vec<String>,
    /// Seconds allowed for each relay step (connect, read, each send), 1 to 120.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Print a single-use invite to pair with this node (the node must be
    /// running to answer it).
    Invite(PeerInviteArgs),
    /// Pair with the node that printed INVITE, both ways.
    Join(PeerJoinArgs),
    /// The paired nodes, and which are connected now.
    Ls(PeerLsArgs),
    /// Remove a paired node for good: only a fresh invite pairs it again.
    Remove(PeerRemoveArgs),
}

#[derive(Debug, Args)]
pub struct PeerInviteArgs {
    /// How long the invite stays valid: 30s, 15m, 12h, 7d (at most 30d).
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub expires: u64,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct PeerJoinArgs {
    /// The invite (`archyinvite…`) another node printed.
    pub invite: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct PeerLsArgs {
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct PeerRemoveArgs {
    /// The peer's DID.
    pub did: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// A publisher's or an app's score, band and reasons.
    Explain(TrustExplainArgs),
    /// The follow graph the score stands on.
    #[command(subcommand)]
    Graph(TrustGraphCommand),
    /// Trust a publisher by your own word (it leaves the block list).
    Allow(TrustDidArgs),
    /// Never install from a publisher, whatever its score (it leaves the
    /// allow list).
    Block(TrustDidArgs),
    /// Take a publisher off your allow and block lists.
    Unblock(TrustDidArgs),
}

#[derive(Debug, Args)]
pub struct TrustDidArgs {
    /// The publisher's DID.
    pub did: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum TrustGraphCommand {
    /// Its size, the caps it hit, and the last fetch from the relays.
    Stats(MarketStatsArgs),
}

#[derive(Debug, Args)]
pub struct TrustExplainArgs {
    /// A publisher's DID, or DID/APP_ID for one of its apps.
    #[arg(value_name = "DID[/APP]")]
    pub target: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Every app indexed, by title.
    List(MarketListArgs),
    /// Apps whose title, summary, categories or id match every word,
    /// best first (the last word also matches as a prefix).
    Search(MarketSearchArgs),
    /// One app in full: listing, publisher, pinned root and signed manifest.
    Show(MarketShowArgs),
    /// What discovery has seen: sizes, outcomes, rejections by reason,
    /// relays and their cursors, refused roots.
    Stats(MarketStatsArgs),
}

#[derive(Debug, Args)]
pub struct MarketListArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// Only apps in this category.
    #[arg(long, value_name = "NAME")]
    pub category: Option<String>,
    /// Listings to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Listings to show (at most 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct MarketSearchArgs {
    /// The words to look for.
    #[arg(required = true)]
    pub query: Vec<String>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Only apps in this category.
    #[arg(long, value_name = "NAME")]
    pub category: Option<String>,
    /// Results to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Results to show (at most 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, Args)]
pub struct MarketShowArgs {
    /// PUBLISHER_DID/APP_ID.
    pub app: String,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct MarketStatsArgs {
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Where the node keeps its key, state and blobs.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// The node's data directory [default: $ARCHY_DATA_DIR, else
    /// $XDG_DATA_HOME/archy, else ~/.local/share/archy].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Which networks the node's endpoint uses.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NetworkArg {
    /// Direct addresses only (this host and LAN); no relay, no lookup service.
    Local,
    /// Also n0's public relays and address lookup, for nodes behind NAT.
    Internet,
}

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Start the node and print its ticket; runs until Ctrl-C.
    Run(NodeRunArgs),
    /// Print the configuration `node run` would use with the same flags:
    /// archy.toml (or --config), then ARCHY_* variables, then flags.
    Config(NodeRunArgs),
    /// Print the API's bearer token (made now if the node never ran).
    Token {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// The node's newest operations (installs, updates, fetches, packs,
    /// collections…), newest first, running or ended.
    Operations {
        /// How many to show, at most 1000.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        data: DataDirArg,
    },
}

/// How `archy node run` is configured. Each setting left out here comes
/// from its `ARCHY_*` variable, else archy.toml, else its default; the
/// defaults are in `archy node config`'s output.
#[derive(Debug, Args)]
pub struct NodeRunArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    /// The configuration file [default: archy.toml in the data directory,
    /// if there is one].
    #[arg(long, value_name = "FILE", env = "ARCHY_CONFIG")]
    pub config: Option<PathBuf>,
    /// The node's key [default: node.key in the data directory, made on first use].
    /// A publisher runs its origin node with its own key.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A catalog directory this node publishes; repeat for several
    /// (replaces `swarm.catalogs`).
    #[arg(
        long = "catalog",
        value_name = "DIR",
        env = "ARCHY_CATALOGS",
        value_delimiter = ','
    )]
    pub catalogs: Vec<PathBuf>,
    /// UDP address to listen on [default: a free port on 127.0.0.1 with
    /// --network local, on every interface with --network internet].
    #[arg(long, value_name = "ADDR", env = "ARCHY_BIND")]
    pub bind: Option<std::net::SocketAddr>,
    /// Networks to use [default: local].
    #[arg(long, value_enum, env = "ARCHY_NETWORK")]
    pub network: Option<NetworkArg>,
    /// Cap on the bytes per second served to peers, like 50MB or 1.5GiB.
    #[arg(long, value_name = "RATE", env = "ARCHY_MAX_UPLOAD",
          value_parser = archy_node::units::parse_size)]
    pub max_upload: Option<u64>,
    /// Seconds between upkeep passes (re-signing the node's own catalogs'
    /// timestamps, finding updates of installed apps); 0 turns it off
    /// [default: 3600].
    #[arg(long, value_name = "SECS", env = "ARCHY_UPKEEP_EVERY")]
    pub upkeep_every: Option<u64>,
    /// Write the ticket to this file once the node is up (for scripts).
    #[arg(long, value_name = "FILE")]
    pub ticket_file: Option<PathBuf>,
    /// The podman API socket [default: the user's rootless socket,
    /// $XDG_RUNTIME_DIR/podman/podman.sock].
    #[arg(long, value_name = "PATH", env = "ARCHY_PODMAN_SOCKET")]
    pub podman_socket: Option<PathBuf>,
    /// Use the system (rootful) podman socket, /run/podman/podman.sock.
    #[arg(long, conflicts_with = "podman_socket")]
    pub rootful: bool,
    /// Seconds between reconcile passes over the installed apps [default: 30].
    #[arg(long, value_name = "SECS", env = "ARCHY_RECONCILE_EVERY",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub reconcile_every: Option<u64>,
    /// Do not reconcile apps (a node that only serves blobs and catalogs).
    #[arg(long, env = "ARCHY_NO_APPS")]
    pub no_apps: bool,
    /// Port of the embedded Nostr relay on 127.0.0.1, 0 for any free port
    /// [default: 7447].
    #[arg(long, value_name = "PORT", env = "ARCHY_RELAY_PORT")]
    pub relay_port: Option<u16>,
    /// Do not run the embedded Nostr relay.
    #[arg(long, env = "ARCHY_NO_RELAY")]
    pub no_relay: bool,
    /// A relay to discover apps from, besides the embedded one; repeat for
    /// several (replaces `discovery.relays`).
    #[arg(
        long = "discover-from",
        value_name = "URL",
        env = "ARCHY_DISCOVER_FROM",
        value_delimiter = ','
    )]
    pub discover_from: Vec<String>,
    /// Do not discover apps (no relay is followed, `archy market` shows
    /// what was indexed before).
    #[arg(long, env = "ARCHY_NO_DISCOVERY")]
    pub no_discovery: bool,
    /// Most events one publisher may have created in one minute; more are
    /// refused as a flood [default: 120].
    #[arg(long, value_name = "N", env = "ARCHY_FLOOD_LIMIT",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_limit: Option<u32>,
    /// The Nostr key (npub or hex) whose follows decide whom this node
    /// trusts [default: the node key's own Nostr key].
    #[arg(long, value_name = "NPUB", env = "ARCHY_OWNER")]
    pub owner: Option<String>,
    /// Run a demo publisher: sign and pack the sample apps under its own
    /// key (demo/ in the data directory), serve them from its catalog and
    /// list them on the embedded relay, so the marketplace has apps.
    #[arg(long, env = "ARCHY_DEMO")]
    pub demo: bool,
    /// The sample apps for --demo [default: ./apps].
    #[arg(long, value_name = "DIR", env = "ARCHY_DEMO_APPS")]
    pub demo_apps: Option<PathBuf>,
    /// Address of the local HTTP API [default: 127.0.0.1:8780, or a free
    /// port if another node holds it]. An address other machines reach
    /// also needs `api.allow_remote = true` in archy.toml.
    #[arg(long, value_name = "ADDR", env = "ARCHY_API")]
    pub api: Option<std::net::SocketAddr>,
    /// Do not serve the HTTP API.
    #[arg(long, env = "ARCHY_NO_API", conflicts_with = "api")]
    pub no_api: bool,
    /// Percentage of a relay connection's events with bad signatures past
    /// which the relay is cut off (reconnected after a backoff that doubles
    /// with each cut); judged once it sent 50 events [default: 10].
    #[arg(long, value_name = "PERCENT", env = "ARCHY_MAX_BAD_SIGNATURES",
          value_parser = percentage)]
    pub max_bad_signatures: Option<f64>,
}

/// A percentage from 0 to 100.
fn percentage(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("'{text}' is not a percentage from 0 to 100")),
    }
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// What to fetch: PUBLISHER_DID/APP_ID, or PUBLISHER_DID/APP_ID@VERSION.
    /// Without a version, the newest release not yanked.
    pub release: String,
    /// The publisher's own node (asked first).
    #[arg(long, value_name = "TICKET")]
    pub origin: Option<String>,
    /// Another node that may have the release; repeat for several. Without
    /// --origin and --provider, the nodes remembered from earlier fetches.
    #[arg(long = "provider", value_name = "TICKET")]
    pub providers: Vec<String>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Networks to use.
    #[arg(long, value_enum, default_value = "local")]
    pub network: NetworkArg,
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// List every blob in the store, with size and what pins it.
    Ls {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Remove every blob that no pinned release, installed app or share needs.
    Gc {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Share a file as an iroh collection; `archy node run` then prints a
    /// ticket `sendme receive` accepts.
    Share {
        /// The file to share.
        file: PathBuf,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Download what an iroh blob ticket names (for example one printed by
    /// `sendme send`) and write its files into DIR.
    Get {
        /// The blob ticket.
        ticket: String,
        /// Directory to write the files into.
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Create a catalog in DIR whose root lists the given keys.
    Init {
        /// Directory to create the catalog in (must not hold one).
        dir: PathBuf,
        /// A publisher key file; repeat for several keys.
        #[arg(long = "key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
        /// Signatures each role needs [default: 1].
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        #[command(flatten)]
        expiries: ExpiryArgs,
    },
    /// Publish a signed manifest (manifest.signed.json) as a release.
    Add {
        /// The catalog directory.
        dir: PathBuf,
        /// The signed manifest, from `archy app sign`.
        signed_manifest: PathBuf,
        /// Catalog key file(s) to sign with.
        #[arg(long = "key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Mark a release yanked: still listed, no longer offered for installs.
    Yank {
        /// The catalog directory.
        dir: PathBuf,
        /// App id.
        app: String,
        /// Version to yank.
        #[arg(value_name = "VERSION")]
        app_version: String,
        /// Why, shown to users of the release.
        #[arg(long)]
        reason: String,
        /// Catalog key file(s) to sign with.
        #[arg(long = "key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Replace the catalog's keys: a new root signed by old and new keys.
    RotateKey {
        /// The catalog directory.
        dir: PathBuf,
        /// Current key file(s).
        #[arg(long = "old-key", value_name = "FILE", required = true)]
        old_keys: Vec<PathBuf>,
        /// New key file(s).
        #[arg(long = "new-key", value_name = "FILE", required = true)]
        new_keys: Vec<PathBuf>,
        /// Signatures each role needs after the rotation [default: 1].
        #[arg(long, default_value_t = 1)]
        threshold: u64,
    },
    /// Re-sign what is close to expiry (always the timestamp).
    Refresh {
        /// The catalog directory.
        dir: PathBuf,
        /// Catalog key file(s) to sign with.
        #[arg(long = "key", value_name = "FILE", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Show keys, role versions and expiries, and releases.
    Show {
        /// The catalog directory.
        dir: PathBuf,
    },
    /// Serve the catalog's metadata and release documents.
    Serve {
        /// The catalog directory.
        dir: PathBuf,
        /// Serve over HTTP on this address (e.g. 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        http: std::net::SocketAddr,
    },
}

/// How long each role's metadata stays valid, like `1d`, `12h`, `90d`.
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    /// Root lifetime.
    #[arg(long, default_value = "365d", value_parser = parse_duration)]
    pub root_expiry: u64,
    /// Targets lifetime.
    #[arg(long, default_value = "90d", value_parser = parse_duration)]
    pub targets_expiry: u64,
    /// Snapshot lifetime.
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub snapshot_expiry: u64,
    /// Timestamp lifetime: short, so a frozen catalog is noticed quickly.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    pub timestamp_expiry: u64,
}

/// Reads `30s`, `15m`, `12h`, `7d` or `2w` as seconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("'{text}' needs a unit: s, m, h, d or w (like 12h)")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number followed by a unit"))?;
    match n.checked_mul(scale) {
        Some(0) | None => Err(format!(
            "'{text}' must be more than zero and less than forever"
        )),
        Some(seconds) => Ok(seconds),
    }
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new identity key file (mode 0600; never overwrites).
    New {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Show a key's public identity: DID, Nostr npub and TUF key id.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Write a valid starter manifest.yml into DIR.
    Init(InitArgs),
    /// Check a manifest; exit 1 listing every problem if it is invalid.
    Validate {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// Expect the published form (images named by hash) instead of the source form.
        #[arg(long)]
        published: bool,
    },
    /// Hash the app's image archives and sign its manifest, writing manifest.signed.json.
    Sign {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// The publisher's key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The publisher's catalog: after a key rotation, a key its current
        /// root lists signs for the publisher its first root named.
        #[arg(long, value_name = "DIR")]
        catalog: Option<PathBuf>,
        /// Where to write the signed manifest [default: manifest.signed.json next to the manifest].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign the manifest and store the release (signed manifest + image
    /// archives + icon) in the node's blob store under one hash.
    Pack {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// The publisher's key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Verify a signed manifest; exit 1 if it is not authentic and valid.
    Verify {
        /// The signed manifest (manifest.signed.json).
        signed: PathBuf,
        /// Require this publisher DID.
        #[arg(long, value_name = "DID")]
        publisher: Option<String>,
    },
    /// Announce a signed app on Nostr relays: the publisher's DID binding,
    /// the catalog's state (with --catalog) and the app's listing, signed
    /// with the Nostr key derived from the identity. Reports each relay's
    /// answer; an unchanged app is not sent again.
    Publish(PublishArgs),
    /// Withdraw an app's listing from Nostr relays: a NIP-09 deletion,
    /// signed with the identity's Nostr key. Relays drop the listing and
    /// nodes take it out of their market. Releases already in catalogs are
    /// not touched (yank them with `archy catalog yank`).
    Unpublish(UnpublishArgs),
    /// Install an app under podman: fetch and verify a published release,
    /// or (with --dev) a local app directory. Waits until it is healthy.
    Install(InstallArgs),
    /// Replace an installed app with a newer release, keeping its data; if
    /// the new one does not become healthy, the old one runs again.
    Update(InstallArgs),
    /// Start an installed app that was stopped.
    Start(AppRef),
    /// Stop an app; it stays stopped until `archy app start`.
    Stop {
        #[command(flatten)]
        app: AppRef,
        /// Stop it even though other installed apps depend on it.
        #[arg(long)]
        force: bool,
    },
    /// Stop and start an app.
    Restart(AppRef),
    /// Remove and recreate an app's containers from the same release,
    /// keeping its data.
    Reinstall(AppRef),
    /// Remove an app. Its data and secrets are kept unless --purge.
    Uninstall {
        #[command(flatten)]
        app: AppRef,
        /// Also delete the app's data and secrets.
        #[arg(long)]
        purge: bool,
        /// Remove it even though other installed apps depend on it.
        #[arg(long)]
        force: bool,
    },
    /// Let an installed app update itself (or stop it): when upkeep finds
    /// a newer release in its publisher's catalog, the node installs it,
    /// rolling back if it does not become healthy. Off by default.
    AutoUpdate {
        #[command(flatten)]
        app: AppRef,
        /// on or off.
        #[arg(value_enum)]
        setting: Switch,
    },
    /// List installed apps.
    Ls(AppsArgs),
    /// Show an app and the state and health of each of its containers.
    Status(AppRef),
    /// The operation journal, newest last: what ran, when, and how it ended
    /// ("interrupted" when the node died during it).
    Journal {
        /// Show at most this many entries.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        apps: AppsArgs,
    },
    /// Compare what should run with what podman has and fix the difference
    /// (the running node does this periodically).
    Reconcile(AppsArgs),
    /// Write Podman Quadlet units (.container, .network, .volume) for an
    /// app directory, to run it under systemd without the node.
    Render {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        /// Write Quadlet units (the only format so far).
        #[arg(long, required = true)]
        quadlet: bool,
        /// Directory to write the units into [default: DIR/quadlet].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run the generic lifecycle matrix on a local app directory (install,
    /// reachable, stop, start, restart, uninstall, reinstall, data
    /// survives, purge) and print a pass/fail table. Exit 1 if a step fails.
    Test {
        /// A manifest.yml, or the app directory holding one.
        path: PathBuf,
        #[command(flatten)]
        apps: AppsArgs,
    },
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The app directory, holding manifest.signed.json (`archy app sign` or `pack`).
    pub path: PathBuf,
    /// The publisher's key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A relay to publish to; repeat for several [default: this machine's
    /// node, ws://127.0.0.1:7447].
    #[arg(long = "relay", value_name = "URL")]
    pub relays: Vec<String>,
    /// The publisher's catalog directory, to announce its current state.
    #[arg(long, value_name = "DIR")]
    pub catalog: Option<PathBuf>,
    /// A category for the listing; repeat for several (at most 8).
    #[arg(long = "category", value_name = "NAME")]
    pub categories: Vec<String>,
    /// A node ticket that serves the release; repeat for several.
    #[arg(long = "provider", value_name = "TICKET")]
    pub providers: Vec<String>,
    /// The publisher's display name.
    #[arg(long, default_value = "")]
    pub name: String,
    /// A line about the publisher.
    #[arg(long, default_value = "")]
    pub about: String,
    /// Seconds allowed for each relay step (connect, read, each send), 1 to 120.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct UnpublishArgs {
    /// The app id.
    pub app_id: String,
    /// The publisher's key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// A relay to send the deletion to; repeat for several [default: this
    /// machine's node, ws://127.0.0.1:7447].
    #[arg(long = "relay", value_name = "URL")]
    pub relays: Vec<String>,
    /// Why, for people reading the relay.
    #[arg(long, default_value = "withdrawn by its publisher")]
    pub reason: String,
    /// Seconds allowed for each relay step (connect, read, each send), 1 to 120.
    #[arg(long, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub timeout: u64,
}

/// Which podman the node drives.
#[derive(Debug, Clone, Args)]
pub struct PodmanArgs {
    /// The podman API socket [default: the user's rootless socket,
    /// $XDG_RUNTIME_DIR/podman/podman.sock].
    #[arg(long, value_name = "PATH", env = "ARCHY_PODMAN_SOCKET")]
    pub podman_socket: Option<PathBuf>,
    /// Use the system (rootful) podman socket, /run/podman/podman.sock.
    #[arg(long, conflicts_with = "podman_socket")]
    pub rootful: bool,
}

/// The data directory and podman of app commands.
#[derive(Debug, Args)]
pub struct AppsArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub podman: PodmanArgs,
}

/// An installed app, by id.
#[derive(Debug, Args)]
pub struct AppRef {
    /// The app id, such as org.archipelago.hello-web.
    pub id: String,
    #[command(flatten)]
    pub apps: AppsArgs,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// PUBLISHER_DID/APP_ID[@VERSION] to fetch and verify, or with --dev an
    /// app directory (or its manifest.yml).
    pub app: String,
    /// Install a local, unpublished app directory; it is marked as dev.
    #[arg(long)]
    pub dev: bool,
    /// The publisher's own node (asked first).
    #[arg(long, value_name = "TICKET")]
    pub origin: Option<String>,
    /// Another node that may have the release; repeat for several.
    #[arg(long = "provider", value_name = "TICKET")]
    pub providers: Vec<String>,
    /// Networks to fetch over.
    #[arg(long, value_enum, default_value = "local")]
    pub network: NetworkArg,
    /// Install although your trust in the app is below "known" (see
    /// `archy trust explain DID/APP`); the decision is journaled. A blocked
    /// app is never installed.
    #[arg(long)]
    pub trust_anyway: bool,
    #[command(flatten)]
    pub apps: AppsArgs,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Publisher {
    /// The publisher's key file (its DID becomes the manifest's publisher).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// The publisher's DID, when the key is kept elsewhere.
    #[arg(long, value_name = "DID")]
    pub publisher: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the app in (created if missing).
    pub dir: PathBuf,
    /// Reverse-DNS app id [default: org.example.<directory name>].
    #[arg(long)]
    pub id: Option<String>,
    /// Display title [default: the directory name].
    #[arg(long)]
    pub title: Option<String>,
    #[command(flatten)]
    pub publisher: Publisher,
}

/// A setting turned on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}
