//! What the command line suggests after a failure. The libraries say what
//! went wrong and where; the `archy` command or flag that helps is this
//! front end's business (another front end, such as the HTTP API, gives its
//! own advice).

use archy_node::client::ClientError;
use archy_node::daemon::DaemonError;
use archy_node::fetching::FetchFailed;
use archy_node::state::StateError;
use archy_orchestrator::Error as AppsError;
use archy_registry::Diagnostics;
use archy_registry::catalog::Error as CatalogError;
use archy_registry::swarm::Error as SwarmError;

/// The hint for the first error in `err`'s chain that has one.
pub fn for_error(err: &anyhow::Error) -> Option<&'static str> {
    err.chain().find_map(|e| {
        if let Some(e) = e.downcast_ref::<AppsError>() {
            apps(e)
        } else if let Some(e) = e.downcast_ref::<CatalogError>() {
            catalog(e)
        } else if let Some(e) = e.downcast_ref::<Diagnostics>() {
            manifest(e)
        } else if let Some(e) = e.downcast_ref::<SwarmError>() {
            swarm(e)
        } else if let Some(e) = e.downcast_ref::<StateError>() {
            state(e)
        } else if let Some(e) = e.downcast_ref::<FetchFailed>() {
            match e {
                FetchFailed::State(e) => state(e),
                FetchFailed::Swarm(e) => swarm(e),
            }
        } else if let Some(ClientError::Api { status: 409, .. }) = e.downcast_ref::<ClientError>() {
            // The only conflict the API answers: installed apps depend on
            // the app being stopped or removed.
            Some("stop or uninstall those apps first, or add --force to go on anyway")
        } else if let Some(e) = e.downcast_ref::<DaemonError>() {
            match e {
                DaemonError::State(e) => state(e),
                DaemonError::Swarm(e) => swarm(e),
                _ => None,
            }
        } else {
            None
        }
    })
}

fn apps(e: &AppsError) -> Option<&'static str> {
    match e {
        AppsError::NotInstalled(_) => Some("see `archy app ls`"),
        AppsError::AlreadyInstalled { .. } => {
            Some("`archy app update` moves it to another version")
        }
        AppsError::PodmanUnreachable { .. } => {
            Some("pass --podman-socket if podman listens elsewhere")
        }
        _ => None,
    }
}

fn catalog(e: &CatalogError) -> Option<&'static str> {
    match e {
        CatalogError::NoCatalog { .. } => Some("create one with `archy catalog init`"),
        CatalogError::NoSuchRelease { .. } => Some("see `archy catalog show`"),
        CatalogError::NotEnoughKeys { .. } => Some(
            "pass the catalog's key file(s) with --key (--old-key and --new-key for rotate-key)",
        ),
        _ => None,
    }
}

/// A published manifest that still names files: it was never signed.
fn manifest(d: &Diagnostics) -> Option<&'static str> {
    d.items
        .iter()
        .any(|i| i.message.starts_with("expected the published form"))
        .then_some("`archy app sign` rewrites a source manifest into the published form")
}

fn swarm(e: &SwarmError) -> Option<&'static str> {
    match e {
        SwarmError::StoreBusy { .. } => Some("stop the other process, or use another --data-dir"),
        SwarmError::Ticket { .. } => Some("`archy node run` prints a node's ticket"),
        SwarmError::NoSource { .. } => Some("give --origin or --provider tickets of nodes to ask"),
        _ => None,
    }
}

fn state(e: &StateError) -> Option<&'static str> {
    e.is_busy()
        .then_some("stop the other process, or use another --data-dir")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn an_app_that_is_not_installed_gets_the_list_command_under_any_context() {
        let err = Err::<(), _>(AppsError::NotInstalled("org.example.x".into()))
            .context("cannot stop org.example.x")
            .unwrap_err();
        assert_eq!(for_error(&err), Some("see `archy app ls`"));
    }

    #[test]
    fn a_directory_without_a_catalog_gets_the_init_command() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            anyhow::Error::from(archy_registry::catalog::Repository::open(dir.path()).unwrap_err());
        assert!(err.to_string().contains("is this a catalog?"), "{err}");
        assert_eq!(
            for_error(&err),
            Some("create one with `archy catalog init`")
        );
    }

    #[test]
    fn an_error_the_command_line_has_no_advice_for_gets_no_hint() {
        assert_eq!(for_error(&anyhow::anyhow!("disk full")), None);
    }
}
