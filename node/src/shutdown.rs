//! When a long-running command should stop: the one wait the `archy` and
//! `archy-bench` binaries share for Ctrl-C and SIGTERM.

/// Resolves on Ctrl-C or SIGTERM: when a long-running command (a node, a
/// server, a benchmark's relay) should stop cleanly.
pub async fn stop_requested() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
