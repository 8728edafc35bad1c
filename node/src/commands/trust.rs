//! `archy trust explain|graph|allow|block|unblock`: how far this node's
//! owner trusts a publisher or an app, the graph that stands on, and the
//! owner's own lists; asks the node's API (the running node, or one
//! started for the command).

use std::process::ExitCode;

use archy_node::api::trust::TrustGraph;
use archy_node::trust::Explained;
use archy_trust::score::Truncation;

use super::runtime;
use super::session::Session;
use super::swarm::data_dir;
use crate::cli::{TrustCommand, TrustGraphCommand};
use crate::output::Output;

pub fn run(cmd: TrustCommand, out: &Output) -> anyhow::Result<ExitCode> {
    let data = match &cmd {
        TrustCommand::Explain(a) => &a.data,
        TrustCommand::Graph(TrustGraphCommand::Stats(a)) => &a.data,
        TrustCommand::Allow(a) | TrustCommand::Block(a) | TrustCommand::Unblock(a) => &a.data,
    };
    let data = data_dir(data)?;
    runtime()?.block_on(async {
        let session = Session::open(&data, |_| {}).await?;
        let client = session.client();
        let result = match &cmd {
            TrustCommand::Explain(a) => {
                // A did:key has no '/': what follows one is an app id.
                let path = match a.target.split_once('/') {
                    Some((did, app)) => format!("/api/trust/{did}/{app}"),
                    None => format!("/api/trust/{}", a.target),
                };
                client.get::<Explained>(&path).await.map(|explained| {
                    out.result(&explained, || explained_text(&a.target, &explained));
                })
            }
            TrustCommand::Graph(TrustGraphCommand::Stats(_)) => {
                client.get::<TrustGraph>("/api/trust").await.map(|graph| {
                    out.result(&graph, || graph_text(&graph));
                })
            }
            TrustCommand::Allow(a) | TrustCommand::Block(a) | TrustCommand::Unblock(a) => {
                let path = format!("/api/trust/lists/{}", a.did);
                let answer = match &cmd {
                    TrustCommand::Allow(_) => {
                        client
                            .put(&path, &serde_json::json!({"list": "allow"}))
                            .await
                    }
                    TrustCommand::Block(_) => {
                        client
                            .put(&path, &serde_json::json!({"list": "block"}))
                            .await
                    }
                    _ => client.delete(&path).await,
                };
                answer.map(|explained: Explained| {
                    out.result(&explained, || explained_text(&a.did, &explained));
                })
            }
        };
        session.close().await;
        result.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn explained_text(target: &str, e: &Explained) -> String {
    let mut text = format!("{target}: {} (score {} of 100)\n", e.band, e.score);
    for reason in &e.reasons {
        text += &format!("  - {}\n", reason.text);
    }
    if let Some(publisher) = &e.publisher {
        text += &format!(
            "publisher: {} (score {} of 100)\n",
            publisher.band, publisher.score
        );
        for reason in &publisher.reasons {
            text += &format!("  - {}\n", reason.text);
        }
    }
    if let Some(reviews) = &e.reviews {
        text += &match reviews.average {
            Some(average) => format!(
                "reviews: {average:.1} of 5, weighted, from a total weight of {:.2} ({} review(s))\n",
                reviews.weight,
                reviews.reviews.len()
            ),
            None => format!(
                "reviews: {} review(s), none from anyone in your network\n",
                reviews.reviews.len()
            ),
        };
        for r in &reviews.reviews {
            text += &format!(
                "  {} stars from {} (weight {:.2}): {}{}\n",
                r.rating,
                r.author,
                r.weight,
                r.text,
                r.note
                    .as_ref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            );
        }
    }
    text.trim_end().to_owned()
}

/// Keys by score, ten points to a row, with a bar as long as its share
/// of the largest row.
fn score_bars(scores: &serde_json::Value) -> String {
    const WIDTH: u64 = 40;
    let counts: Vec<u64> = scores
        .as_array()
        .map(|a| a.iter().map(|c| c.as_u64().unwrap_or(0)).collect())
        .unwrap_or_default();
    let most = counts.iter().copied().max().unwrap_or(0).max(1);
    let mut text = "keys by score:\n".to_owned();
    for (i, count) in counts.iter().enumerate() {
        let low = i * 10;
        let high = if i == counts.len() - 1 { 100 } else { low + 9 };
        let bar = "#".repeat(usize::try_from(count * WIDTH / most).unwrap_or(0));
        let bar = if bar.is_empty() && *count > 0 {
            "#".to_owned()
        } else {
            bar
        };
        text += &format!("  {low:>3}-{high:<3} {count:>8} {bar}\n");
    }
    text
}

fn graph_text(g: &TrustGraph) -> String {
    let number = |key: &str| g.graph[key].as_u64().unwrap_or(0);
    let mut text = format!(
        "owner {}\ngraph: {} keys, {} follows, {} followed by the owner, {} muted, depth {}\n",
        g.owner,
        number("keys"),
        number("edges"),
        number("follows"),
        number("muted"),
        number("depth"),
    );
    let bands = &g.graph["publishers"];
    text += &format!(
        "publishers: {}\n",
        ["trusted", "known", "unknown", "suspicious", "blocked"]
            .iter()
            .map(|band| format!("{} {band}", bands[band].as_u64().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    text += &score_bars(&g.graph["scores"]);
    let walk = &g.walk;
    text += &match walk.last_round_at {
        Some(_) => format!(
            "last fetch from the relays: {} keys reached, {} follow lists, {} events{}{}",
            walk.keys,
            walk.follow_lists,
            walk.events,
            if walk.capped {
                ", stopped at the key cap"
            } else {
                ""
            },
            if walk.failed_requests > 0 {
                format!(", {} requests failed", walk.failed_requests)
            } else {
                String::new()
            }
        ),
        None => "the graph has not been fetched from the relays yet".to_owned(),
    };
    let cut = serde_json::from_value::<Truncation>(g.graph["truncation"].clone());
    if let Ok(cut) = cut
        && !cut.is_empty()
    {
        text += &format!("\ncaps hit: {cut}");
    }
    text
}
