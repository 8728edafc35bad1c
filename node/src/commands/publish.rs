//! `archy app publish`: the app's events to Nostr relays, with one line per
//! relay and event.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, ensure};
use archy_discovery::protocol::{MAX_CATEGORIES, MAX_PROVIDERS};
use archy_discovery::relays::{self, Outcome};
use archy_node::embedded_relay::DEFAULT_PORT;
use archy_node::publishing::{ListingExtras, app_events};
use archy_registry::tuf::time::UtcTime;
use archy_trust::keyfile;

use super::runtime;
use crate::cli::PublishArgs;
use crate::output::Output;

pub fn run(args: PublishArgs, out: &Output) -> anyhow::Result<ExitCode> {
    ensure!(
        args.categories.len() <= MAX_CATEGORIES,
        "at most {MAX_CATEGORIES} --category"
    );
    ensure!(
        args.providers.len() <= MAX_PROVIDERS,
        "at most {MAX_PROVIDERS} --provider"
    );
    ensure!(
        (1..=120).contains(&args.timeout),
        "--timeout must be 1 to 120 seconds"
    );
    let identity =
        keyfile::load(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let now = u64::try_from(UtcTime::now().unix()).unwrap_or(0);
    let extras = ListingExtras {
        categories: args.categories.clone(),
        providers: args.providers.clone(),
        name: args.name.clone(),
        about: args.about.clone(),
    };
    let events = app_events(&identity, &args.path, args.catalog.as_deref(), &extras, now)?;
    let relays = if args.relays.is_empty() {
        vec![format!("ws://127.0.0.1:{DEFAULT_PORT}")]
    } else {
        args.relays.clone()
    };
    let author = identity.nostr_keys().public_key();
    let timeout = Duration::from_secs(args.timeout);
    let reports = runtime()?.block_on(relays::publish(&events, author, &relays, timeout))?;
    out.result(&reports, || {
        let mut text = format!("published as {} ({})\n", identity.did(), identity.npub());
        for r in &reports {
            let outcome = match &r.outcome {
                Outcome::Accepted => "accepted".to_owned(),
                Outcome::Unchanged => "unchanged, not sent".to_owned(),
                Outcome::Rejected(reason) => format!("rejected: {reason}"),
                Outcome::Unreachable => format!("unreachable within {} s", args.timeout),
            };
            text += &format!("  {:<32} {:<40} {outcome}\n", r.relay, r.d);
        }
        text
    });
    let every_event_landed = events.iter().all(|e| {
        let d = e.tags.identifier().unwrap_or_default();
        reports
            .iter()
            .any(|r| r.d == d && matches!(r.outcome, Outcome::Accepted | Outcome::Unchanged))
    });
    Ok(if every_event_landed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
