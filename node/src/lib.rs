//! The node library behind the `archy` command.
//!
//! The binary (`src/main.rs` and its `cli`/`commands` modules) parses flags
//! and presents results; the pieces here are what other front ends (the
//! daemon and HTTP API, in later issues) reuse:
//!
//! - [`scaffold`]: the starter manifest `archy app init` writes;
//! - [`bench`]: measurements behind `archy bench`, returned as figures;
//! - [`catalog_server`]: a catalog served over HTTP.

pub mod bench;
pub mod catalog_server;
pub mod scaffold;
