//! `archy market list|search|show|stats`: asks the node's API (the
//! running node, or one started for the command).

use std::process::ExitCode;

use anyhow::Context;
use archy_discovery::market::{ListingDetail, Page, Stats};
use archy_node::client::{ClientError, NodeClient};
use archy_registry::tuf::UtcTime;
use serde::Serialize;

use super::runtime;
use super::session::Session;
use super::swarm::data_dir;
use crate::cli::MarketCommand;
use crate::output::Output;

pub fn run(cmd: MarketCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let data = match &cmd {
        MarketCommand::List(a) => &a.data,
        MarketCommand::Search(a) => &a.data,
        MarketCommand::Show(a) => &a.data,
        MarketCommand::Stats(a) => &a.data,
    };
    let data = data_dir(data)?;
    runtime()?.block_on(async {
        let session = Session::open(&data, |_| {}).await?;
        let result = answer(session.client(), cmd, out).await;
        session.close().await;
        result
    })
}

/// A page of listings asked by offset, as the command's flags give it.
#[derive(Serialize)]
struct PageQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    offset: usize,
    per_page: usize,
}

async fn answer(client: &NodeClient, cmd: MarketCommand, out: &Output) -> anyhow::Result<ExitCode> {
    match cmd {
        MarketCommand::List(a) => {
            let query = PageQuery {
                q: None,
                category: a.category.as_deref(),
                offset: a.offset,
                per_page: a.limit,
            };
            let page: Page = client.get_query("/api/market", &query).await?;
            out.result(&page, || page_text(&page, false));
        }
        MarketCommand::Search(a) => {
            let query = PageQuery {
                q: Some(a.query.join(" ")),
                category: a.category.as_deref(),
                offset: a.offset,
                per_page: a.limit,
            };
            let page: Page = client.get_query("/api/market", &query).await?;
            out.result(&page, || page_text(&page, true));
        }
        MarketCommand::Show(a) => {
            let (did, app_id) = a
                .app
                .rsplit_once('/')
                .with_context(|| format!("'{}' is not PUBLISHER_DID/APP_ID", a.app))?;
            let path = format!("/api/market/{did}/{app_id}");
            match client.get::<ListingDetail>(&path).await {
                Ok(detail) => out.result(&detail, || detail_text(&detail)),
                Err(ClientError::Api { status: 404, .. }) => {
                    out.result(&serde_json::json!({"found": false}), || {
                        "no such app in the index (see `archy market search`)".to_owned()
                    });
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
        MarketCommand::Stats(_) => {
            let stats: Stats = client.get("/api/market/stats").await?;
            out.result(&stats, || stats_text(&stats));
        }
    }
    Ok(ExitCode::SUCCESS)
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
        if let Some(trust) = &l.trust {
            let why = trust
                .reasons
                .first()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            text += &format!("    {} (score {}){why}\n", trust.band, trust.score);
        }
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
    if let Some(alarm) = &d.alarm {
        text += &format!("ALARM:      {alarm}\n");
    }
    text += &format!("app:        {}\n", l.app_id);
    match &d.publisher {
        Some(p) if !p.name.is_empty() => text += &format!("publisher:  {} ({})\n", p.name, l.did),
        _ => text += &format!("publisher:  {}\n", l.did),
    }
    if !l.categories.is_empty() {
        text += &format!("categories: {}\n", l.categories.join(", "));
    }
    text += &format!("release:    {} ({} bytes)\n", l.release, l.size);
    if let Some(trust) = &d.trust {
        text += &format!(
            "trust:      {} (score {} of 100)\n",
            trust.band, trust.score
        );
        for reason in &trust.reasons {
            text += &format!("            - {reason}\n");
        }
    }
    for (i, v) in d.versions.iter().enumerate() {
        let label = if i == 0 { "versions:" } else { "" };
        let mark = match (&v.yanked, v.version == l.version) {
            (Some(reason), _) => format!(" (yanked: {reason})"),
            (None, true) => " (listed)".to_owned(),
            (None, false) => String::new(),
        };
        text += &format!("{label:<12}{}{mark}\n", v.version);
        if let Some(notes) = &v.notes {
            for line in notes.lines().filter(|l| !l.trim().is_empty()) {
                text += &format!("              {line}\n");
            }
        }
    }
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
