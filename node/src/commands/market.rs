//! `archy market list|search|show|stats`: asks the running node over its
//! control socket, or, when no node runs, reads the discovery index itself.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use archy_discovery::ingest::{IngestLimits, Ingestor};
use archy_discovery::market::{Answer, ListingDetail, Market, Page, Query, Stats};
use archy_node::control;
use archy_node::data_dir::DataDir;
use archy_registry::tuf::UtcTime;

use super::runtime;
use super::swarm::data_dir;
use crate::cli::{DataDirArg, MarketCommand};
use crate::output::Output;

pub fn run(cmd: MarketCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let (data, query) = match cmd {
        MarketCommand::List(a) => (
            a.data,
            Query::List {
                category: a.category,
                offset: a.offset,
                limit: a.limit,
            },
        ),
        MarketCommand::Search(a) => (
            a.data,
            Query::Search {
                text: a.query.join(" "),
                category: a.category,
                offset: a.offset,
                limit: a.limit,
            },
        ),
        MarketCommand::Show(a) => {
            let (did, app_id) = a
                .app
                .rsplit_once('/')
                .with_context(|| format!("'{}' is not PUBLISHER_DID/APP_ID", a.app))?;
            (
                a.data,
                Query::Show {
                    did: did.to_owned(),
                    app_id: app_id.to_owned(),
                },
            )
        }
        MarketCommand::Stats(a) => (a.data, Query::Stats),
    };
    match ask(&data, &query)? {
        Answer::Page(page) => {
            let text = || page_text(&page, matches!(query, Query::Search { .. }));
            out.result(&page, text);
            Ok(ExitCode::SUCCESS)
        }
        Answer::Listing {
            detail: Some(detail),
        } => {
            out.result(&detail, || detail_text(&detail));
            Ok(ExitCode::SUCCESS)
        }
        Answer::Listing { detail: None } => {
            out.result(&serde_json::json!({"found": false}), || {
                "no such app in the index (see `archy market search`)".to_owned()
            });
            Ok(ExitCode::from(1))
        }
        Answer::Stats(stats) => {
            out.result(&stats, || stats_text(&stats));
            Ok(ExitCode::SUCCESS)
        }
        Answer::Error { reason } => bail!("{reason}"),
    }
}

/// The running node's answer, or the index's own when no node runs.
fn ask(arg: &DataDirArg, query: &Query) -> anyhow::Result<Answer> {
    let data: DataDir = data_dir(arg)?;
    let asked = runtime()?.block_on(control::ask(&data.control_socket(), query))?;
    if let Some(answer) = asked {
        return Ok(answer);
    }
    let path = data.discovery_file();
    let ingestor = match query {
        Query::List { .. } | Query::Search { .. } => {
            Ingestor::open(&path, IngestLimits::default())?
        }
        Query::Show { .. } | Query::Stats => {
            Ingestor::open_unindexed(&path, IngestLimits::default())?
        }
    };
    let market = Market::new(Arc::new(Mutex::new(ingestor)), Arc::default());
    Ok(market.answer(query))
}

fn page_text(page: &Page, search: bool) -> String {
    if page.listings.is_empty() {
        return if search {
            "no app matches".into()
        } else {
            "no apps discovered yet (is `archy node run` following a relay?)".into()
        };
    }
    let mut text = String::new();
    for l in &page.listings {
        let by = l
            .publisher
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("");
        text += &format!("{} {}  {}\n    {}\n", l.title, l.version, by, l.summary);
        text += &format!("    {}/{}\n", l.did, l.app_id);
    }
    let shown = page.offset + page.listings.len();
    text += &format!("{} of {}", shown.min(page.total), page.total);
    text
}

fn when(unix: u64) -> String {
    UtcTime::from_unix(i64::try_from(unix).unwrap_or(i64::MAX)).to_string()
}

fn detail_text(d: &ListingDetail) -> String {
    let l = &d.listing;
    let mut text = format!("{} {}\n{}\n", l.title, l.version, l.summary);
    text += &format!("app:        {}\n", l.app_id);
    match &d.publisher {
        Some(p) if !p.name.is_empty() => text += &format!("publisher:  {} ({})\n", p.name, l.did),
        _ => text += &format!("publisher:  {}\n", l.did),
    }
    if !l.categories.is_empty() {
        text += &format!("categories: {}\n", l.categories.join(", "));
    }
    text += &format!("release:    {} ({} bytes)\n", l.release, l.size);
    if let Some(root) = &d.root {
        text += &format!(
            "root:       v{} {} (pinned {})\n",
            root.version,
            root.sha256,
            when(root.pinned_at)
        );
    }
    text += &format!(
        "listed:     {} from {} (event {})\n",
        when(l.created_at),
        l.relay,
        l.event_id
    );
    for p in &l.providers {
        text += &format!("provider:   {p}\n");
    }
    text += &format!(
        "fetch:      archy fetch {}/{}@{}",
        l.did, l.app_id, l.version
    );
    text
}

fn stats_text(s: &Stats) -> String {
    let mut text = format!(
        "{} listings, {} publishers, {} roots pinned, {} listings waiting for a root\n",
        s.sizes.listings, s.sizes.publishers, s.sizes.roots, s.sizes.pending
    );
    if !s.counters.is_empty() {
        text += "events:\n";
        for (name, count) in &s.counters {
            text += &format!("  {name}: {count}\n");
        }
    }
    if !s.rejected.is_empty() {
        text += "rejected:\n";
        for (reason, count) in &s.rejected {
            text += &format!("  {reason}: {count}\n");
        }
    }
    for r in &s.relays {
        let cursor = r.cursor.map_or("never caught up".into(), when);
        match &r.status {
            Some(st) => {
                text += &format!(
                    "relay {}: {} ({} events, {} garbage, {} drops, {} bad signatures), cursor {}\n",
                    r.url, st.phase, st.events, st.garbage, st.drops, st.bad_signatures, cursor
                );
                if st.cut_offs > 0 {
                    text += &format!("  CUT OFF {} time(s) for bad signatures\n", st.cut_offs);
                }
                if let Some(e) = &st.last_error {
                    text += &format!("  last error: {e}\n");
                }
            }
            None => text += &format!("relay {}: not followed now, cursor {}\n", r.url, cursor),
        }
    }
    for (did, c) in &s.root_conflicts {
        text += &format!(
            "REFUSED ROOT for {did}: pinned v{} {}, offered v{} {} by {}: {}\n",
            c.pinned.0, c.pinned.1, c.offered.0, c.offered.1, c.relay, c.reason
        );
    }
    text.trim_end().to_owned()
}
