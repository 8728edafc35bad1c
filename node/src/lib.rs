//! The node library behind the `archy` command.
//!
//! The binary (`src/main.rs` and its `cli`/`commands` modules) parses flags
//! and presents results; the pieces here are what other front ends (the
//! daemon and HTTP API, in later issues) reuse:
//!
//! - [`api`]: the local HTTP API a running node serves;
//! - [`client`]: a client of a running node's API, as the CLI uses it;
//! - [`scaffold`]: the starter manifest `archy app init` writes;
//! - [`catalog_server`]: a catalog served over HTTP;
//! - [`config`]: `archy.toml`, what a node is told beyond its flags;
//! - [`demo`]: the demo publisher of `archy node run --demo`;
//! - [`data_dir`]: where a node keeps its key, state and blobs;
//! - [`state`]: the node's redb database;
//! - [`catalog_source`]: what the node serves on the catalog ALPN;
//! - [`node`]: [`node::Node`], one running node that owns every part;
//! - [`operations`]: long work done on request, with progress events;
//! - [`daemon`]: the node's iroh endpoint and the protocols it answers;
//! - [`fetching`]: `archy fetch`: a release into the data directory;
//! - [`publishing`]: the Nostr events `archy app publish` sends;
//! - [`embedded_relay`]: the Nostr relay `archy node run` serves on 127.0.0.1;
//! - [`federation`]: pairing with other nodes, and gossip among them;
//! - [`apps`]: the orchestrator in the data directory, and its podman;
//! - [`app_test`]: `archy app test`, the generic lifecycle matrix;
//! - [`units`]: sizes and rates typed on a command line (`50MB`);
//! - [`shutdown`]: the wait for Ctrl-C or SIGTERM.

pub mod api;
pub mod app_test;
pub mod apps;
pub mod catalog_server;
pub mod catalog_source;
pub mod client;
pub mod config;
pub mod daemon;
pub mod data_dir;
pub mod demo;
pub mod embedded_relay;
pub mod federation;
pub mod fetching;
pub mod node;
pub mod operations;
pub mod publishing;
pub mod scaffold;
pub mod shutdown;
pub mod state;
pub mod trust;
pub mod units;
pub mod web;
