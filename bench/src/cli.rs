//! Flags and subcommands of `archy-bench`, with the help text users see.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// System benchmarks of archy: real processes on loopback (the `archy`
/// binary, a relay, podman), figures printed, never asserted. The
/// micro-benchmarks (manifest, signatures, event reading, search, the
/// trust score) are criterion benches: `cargo bench -p archy-registry`,
/// `-p archy-sigbatch`, `-p archy-trust`, `-p archy-discovery`.
#[derive(Debug, Parser)]
#[command(name = "archy-bench", version, arg_required_else_help = true)]
pub struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The `archy` binary to drive [default: `archy` next to this
    /// executable, as cargo builds it into target/<profile>/].
    #[arg(long, global = true, value_name = "PATH", env = "ARCHY_BIN")]
    pub archy: Option<PathBuf>,
    /// How this process checks signatures (the discovery ingest runs
    /// here): `on`, `off` or `ifma`, as `archy --signature-batch`.
    #[arg(
        long,
        global = true,
        value_name = "MODE",
        env = "ARCHY_SIGNATURE_BATCH",
        default_value = "on"
    )]
    pub signature_batch: archy_sigbatch::Mode,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Federation: a catalog update on disk until every paired node holds
    /// it, through gossiped heads.
    Federation {
        /// Paired nodes following the catalog.
        #[arg(long, default_value_t = 10)]
        nodes: usize,
        /// Updates to time.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// TUF client: first refresh of a large catalog, and refreshes of an
    /// unchanged one, over HTTP on loopback.
    Catalog {
        /// Releases in the synthetic catalog.
        #[arg(long, default_value_t = 10_000)]
        targets: usize,
        /// Refreshes of the unchanged catalog to measure.
        #[arg(long, default_value_t = 200)]
        refreshes: usize,
    },
    /// One provider to one fetcher on loopback: `archy fetch`, sendme and
    /// plain HTTP on the same file; then one release from two capped
    /// providers (`archy node run --max-upload`).
    Fetch {
        /// Size of the file, like 1GiB.
        #[arg(long, default_value = "1GiB", value_parser = archy_node::units::parse_size)]
        size: u64,
        /// Upload cap of each provider in the two-provider run.
        #[arg(long, default_value = "50MB", value_parser = archy_node::units::parse_size)]
        cap: u64,
        /// Size of each blob in the two-provider run.
        #[arg(long, default_value = "256MiB", value_parser = archy_node::units::parse_size)]
        capped_size: u64,
        /// Where to put the test files [default: a temporary directory].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Discovery at market scale: ingest of synthetic listings from a relay
    /// on loopback (events/s), ranked search latency over them (p50, p99),
    /// and the memory with all of them indexed.
    Discovery {
        /// Listings the relay serves.
        #[arg(long, default_value_t = 100_000)]
        listings: usize,
        /// Publishers they come from.
        #[arg(long, default_value_t = 1000)]
        publishers: usize,
        /// Searches to time.
        #[arg(long, default_value_t = 2000)]
        queries: usize,
        /// Seconds allowed for the relay process to make its listings and
        /// start, and again for each ingest.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// Run the ingest on one CPU (the first) and the relay on another:
        /// what one core ingests.
        #[arg(long)]
        one_core: bool,
        /// Ingests to run, each into a fresh index; the median is the
        /// figure (shared machines change speed from minute to minute).
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// With --one-core: also check Schnorr signatures in a thread beside
        /// the ingest, on its core, and compare the two per CPU second (a
        /// machine that changes speed during the ingest changes both).
        #[arg(long, requires = "one_core")]
        alongside: bool,
    },
    /// The relay `discovery` runs in a child process: makes the listings,
    /// serves them and prints its URL.
    #[command(hide = true)]
    DiscoveryRelay {
        #[arg(long)]
        listings: usize,
        #[arg(long)]
        publishers: usize,
        /// The CPU to keep to.
        #[arg(long)]
        cpu: Option<usize>,
    },
    /// The node's API under load: `GET /api/market` over a market of
    /// verified listings at a fixed request rate, driven by `oha`, against
    /// a static JSON file of the same size served by the same server.
    Market {
        /// Listings in the node's market.
        #[arg(long, default_value_t = 10_000)]
        listings: usize,
        /// Publishers they come from.
        #[arg(long, default_value_t = 100)]
        publishers: usize,
        /// The request measured (path and query): the default is what a
        /// client that gives no parameters gets, page 1 of 24; `/` is the
        /// web marketplace's Discover page (asked with a session cookie).
        #[arg(long, default_value = "/api/market")]
        path: String,
        /// Requests per second sent to each path.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Seconds of each measured run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Seconds of an uncounted warm-up of each path first.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Connections oha keeps open.
        #[arg(long, default_value_t = 50)]
        connections: u32,
        /// Runs of each path, alternating; the figures are their medians.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds allowed for the relay process to make its listings and
        /// start, and again for the node to index them.
        #[arg(long, default_value_t = 600)]
        deadline: u64,
        /// The oha binary [default: oha on PATH, or in ~/.cargo/bin].
        #[arg(long, value_name = "PATH", env = "OHA")]
        oha: Option<PathBuf>,
    },
    /// The running node: cold start until `GET /api/health` answers, and
    /// its resident memory idle (embedded relay, discovery, no apps).
    Daemon {
        /// Starts to time, after a first one that makes the data directory.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Seconds the node idles before its memory is read.
        #[arg(long, default_value_t = 5)]
        idle: u64,
    },
    /// The running node's memory under work: its peak resident memory
    /// while it fetches a large release by name from another node, over
    /// its idle memory, and where the difference is (anonymous memory,
    /// mapped files, by mapping).
    Memory {
        /// Size of the release's image archive, like 1GiB.
        #[arg(long, default_value = "1GiB", value_parser = archy_node::units::parse_size)]
        size: u64,
        /// Runs, each with a fresh daemon; the figures are their medians.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seconds the daemon idles, its listing found, before its idle
        /// memory is read and the fetch starts.
        #[arg(long, default_value_t = 5)]
        idle: u64,
        /// Where to put the release and the nodes [default: a temporary
        /// directory]; a release made there before is used again.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Install the release under podman (`archy app install DID/APP`)
        /// instead of fetching it: the release is made runnable (with the
        /// static busybox at $BUSYBOX, default /bin/busybox), and podman's
        /// service must be listening on the chosen socket.
        #[arg(long)]
        install: bool,
        #[command(flatten)]
        podman: PodmanArgs,
    },
    /// The trust score at network scale, in this process on one thread:
    /// full recompute over a synthetic follow graph, updates after one
    /// follow list and one report, `explain`, and the memory held.
    Trust {
        /// Keys in the synthetic follow graph.
        #[arg(long, default_value_t = 100_000)]
        keys: usize,
        /// Follows in it.
        #[arg(long, default_value_t = 2_000_000)]
        edges: usize,
        /// The owner's rank (0 follows the most keys; rank 1000 follows
        /// about a hundred in the default graph).
        #[arg(long, default_value_t = 1000)]
        owner_rank: usize,
        /// Repetitions of each measurement; the figures are their medians.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The orchestrator against real podman: install → healthy per stage,
    /// a reconcile pass over many running apps, and its overhead over the
    /// same podman calls made directly.
    Apps {
        /// The app to measure (a local app directory).
        #[arg(long, value_name = "DIR", default_value = "apps/hello-web")]
        app: PathBuf,
        /// Installs to time (the first with the image unloaded).
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Apps running during the reconcile passes.
        #[arg(long, default_value_t = 50)]
        apps: usize,
        /// Reconcile passes to time.
        #[arg(long, default_value_t = 20)]
        passes: usize,
        /// Install + uninstall cycles for the overhead figure.
        #[arg(long, default_value_t = 10)]
        cycles: usize,
        #[command(flatten)]
        podman: PodmanArgs,
    },
}

/// Which podman the apps benchmark drives, chosen as `archy` chooses it.
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
