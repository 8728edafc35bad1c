//! `archy app publish|unpublish` and `archy review`: events to Nostr
//! relays, with one line per relay and event.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, ensure};
use archy_discovery::protocol::{MAX_CATEGORIES, MAX_PROVIDERS};
use archy_discovery::protocol::{MAX_REVIEW_TEXT, ReviewContent};
use archy_discovery::publish::{deletion_event, review_event};
use archy_discovery::relays::{self, Outcome};
use archy_node::embedded_relay::DEFAULT_PORT;
use archy_node::publishing::{ListingExtras, app_events};
use archy_registry::tuf::time::UtcTime;
use archy_trust::{Identity, keyfile};
use nostr::{Event, Timestamp};

use super::runtime;
use crate::cli::{PublishArgs, ReviewArgs, UnpublishArgs};
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
    send(
        &identity,
        &events,
        &args.relays,
        args.timeout,
        "published",
        out,
    )
}

pub fn unpublish(args: UnpublishArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let identity =
        keyfile::load(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let now = u64::try_from(UtcTime::now().unix()).unwrap_or(0);
    let event = deletion_event(
        &identity,
        &args.app_id,
        &args.reason,
        Timestamp::from_secs(now),
    )?;
    send(
        &identity,
        &[event],
        &args.relays,
        args.timeout,
        "withdrawn",
        out,
    )
}

/// `archy review DID/APP`: a review signed by the key in `--key` (anyone
/// may review; how much it counts is each reader's trust in the key).
pub fn review(args: ReviewArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let (did, app_id) = args
        .app
        .rsplit_once('/')
        .with_context(|| format!("'{}' is not PUBLISHER_DID/APP_ID", args.app))?;
    let did: archy_trust::Did = did
        .parse()
        .with_context(|| format!("'{did}' is not a publisher's DID"))?;
    ensure!(
        args.text.len() <= MAX_REVIEW_TEXT,
        "the review is {} bytes; at most {MAX_REVIEW_TEXT}",
        args.text.len()
    );
    let identity =
        keyfile::load(&args.key).with_context(|| format!("reading {}", args.key.display()))?;
    let now = u64::try_from(UtcTime::now().unix()).unwrap_or(0);
    let content = ReviewContent {
        rating: args.rating,
        text: args.text.clone(),
    };
    let event = review_event(&identity, &did, app_id, &content, Timestamp::from_secs(now))?;
    send(
        &identity,
        &[event],
        &args.relays,
        args.timeout,
        "reviewed",
        out,
    )
}

/// Sends `events` to `relays` (the local node's if none), prints a line per
/// relay and event, and fails unless every event landed somewhere.
fn send(
    identity: &Identity,
    events: &[Event],
    relays: &[String],
    timeout: u64,
    done: &str,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let relays = if relays.is_empty() {
        vec![format!("ws://127.0.0.1:{DEFAULT_PORT}")]
    } else {
        relays.to_vec()
    };
    let author = identity.nostr_keys().public_key();
    let step = Duration::from_secs(timeout);
    let reports = runtime()?.block_on(relays::publish(events, author, &relays, step))?;
    out.result(&reports, || {
        let mut text = format!("{done} as {} ({})\n", identity.did(), identity.npub());
        for r in &reports {
            let outcome = match &r.outcome {
                Outcome::Accepted => "accepted".to_owned(),
                Outcome::Unchanged => "unchanged, not sent".to_owned(),
                Outcome::Rejected(reason) => format!("rejected: {reason}"),
                Outcome::Unreachable => format!("unreachable within {timeout} s"),
            };
            text += &format!("  {:<32} {:<40} {outcome}\n", r.relay, r.d);
        }
        text
    });
    let every_event_landed = events.iter().all(|e| {
        let d = relays::d_of(e);
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
