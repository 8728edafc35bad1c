//! The owner's trust in publishers and apps, kept current while the node
//! runs: a [`TrustModel`] built from what discovery holds (follow lists,
//! the owner's mute list, reports, reviews, publishers' bindings and
//! refused roots), the node's own facts ([`NodeFacts`]) and its policy.
//!
//! When discovery keeps a new input, the model takes discovery's inputs
//! again (only what is newer changes it) and is brought up to date with
//! [`TrustModel::update`]; every [`RECOMPUTE_EVERY`], and when the node's
//! facts change, it is built afresh with [`TrustModel::recompute`] (the
//! canonical result, and what drops inputs discovery no longer holds). A
//! fresh build runs beside the model in use and replaces it whole; an
//! update holds the model for its few milliseconds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use archy_discovery::market::{Market, SocialSnapshot, TrustBrief};
use archy_discovery::social::parse_key;
use archy_discovery::store::StoreError;
use archy_trust::Did;
use archy_trust::score::{
    AppAsks, AppVerdict, Band, FollowList, GraphStats, Limits, MuteList, Names, NostrKey, Policy,
    Publisher, PublisherFacts, PublisherStanding, Reason, Report, ReportTarget, Review, TrustModel,
    Verdict, verdict::rank_weight,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// How often discovery is asked whether an input changed.
const REFRESH_EVERY: Duration = Duration::from_secs(2);
/// How long a model is updated in place before it is built afresh.
const RECOMPUTE_EVERY: Duration = Duration::from_secs(600);

/// What the node itself knows of publishers, beyond what discovery holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// Releases marked yanked in each publisher's catalog, by DID.
    pub yanked: BTreeMap<String, u32>,
    /// Publishers whose signing root changed since an app of theirs was
    /// installed here.
    pub root_changed: BTreeSet<String>,
}

/// The owner's trust, shared by the node's handles.
#[derive(Clone)]
pub struct Trust {
    inner: Arc<RwLock<Built>>,
    owner: NostrKey,
    limits: Limits,
    policy: Arc<RwLock<Policy>>,
    /// The node's facts, and how many times they changed.
    facts: Arc<RwLock<(u64, NodeFacts)>>,
}

/// The model in use, what it was built from, and the names it shows.
struct Built {
    model: TrustModel,
    names: Names,
    /// Discovery's generation of inputs it holds.
    generation: Option<u64>,
    /// The version of the node's facts it holds.
    facts: u64,
    /// When it was last built afresh.
    built_at: Instant,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Trust {
    /// An empty model for `owner`: everyone unknown until discovery holds
    /// inputs. `pinned` publishers are trusted by configuration.
    pub fn new(owner: [u8; 32], limits: Limits, pinned: Vec<Did>) -> Self {
        let owner = NostrKey(owner);
        let policy = Policy {
            pinned,
            ..Policy::default()
        };
        let mut model = TrustModel::new(owner, limits);
        model.set_policy(policy.clone());
        model.recompute();
        Self {
            inner: Arc::new(RwLock::new(Built {
                model,
                names: Names::default(),
                generation: None,
                facts: 0,
                built_at: Instant::now(),
            })),
            owner,
            limits,
            policy: Arc::new(RwLock::new(policy)),
            facts: Arc::new(RwLock::new((0, NodeFacts::default()))),
        }
    }

    /// Replaces the node's facts; the next refresh builds the model
    /// afresh if they changed.
    pub fn set_facts(&self, facts: NodeFacts) {
        let mut held = self
            .facts
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.1 != facts {
            *held = (held.0 + 1, facts);
        }
    }

    /// Replaces the owner's allow and block lists; the next answer uses
    /// them (they change no one's place in the graph, so nothing is
    /// recomputed).
    pub fn set_lists(&self, allowed: Vec<Did>, blocked: Vec<Did>) {
        let policy = {
            let mut held = self
                .policy
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            held.allowed = allowed;
            held.blocked = blocked;
            held.clone()
        };
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .model
            .set_policy(policy);
    }

    /// The owner's Nostr key.
    pub fn owner(&self) -> NostrKey {
        self.owner
    }

    /// The verdict on publisher `did` now.
    pub fn publisher(&self, did: &Did) -> Verdict {
        let built = self.read();
        built.model.explain_publisher(did, unix_now(), &built.names)
    }

    /// The verdict on app `app_id` of `did`, whose manifest asks `asks`.
    pub fn app(&self, did: &Did, app_id: &str, asks: &AppAsks) -> AppVerdict {
        let built = self.read();
        built
            .model
            .explain_app(did, app_id, asks, unix_now(), &built.names)
    }

    /// The reviews of app `app_id` of `did`, weighted by their authors'
    /// standing.
    pub fn reviews(&self, did: &Did, app_id: &str) -> ReviewsShown {
        let built = self.read();
        let reviews = built.model.reviews(did, app_id, &built.names);
        ReviewsShown {
            average: reviews.average,
            weight: reviews.weight,
            reviews: reviews
                .reviews
                .into_iter()
                .map(|r| ReviewShown {
                    author: r.author.to_string(),
                    rating: r.rating,
                    text: r.text,
                    created_at: r.created_at,
                    weight: r.weight,
                    note: r.note.map(|n| n.to_string()),
                })
                .collect(),
        }
    }

    /// A ranking of listings by the owner's trust, for one question to the
    /// market.
    pub fn ranking(&self) -> Ranking<'_> {
        Ranking {
            trust: self,
            now: unix_now(),
            publishers: HashMap::new(),
        }
    }

    /// The graph's size and what its caps left out.
    pub fn stats(&self) -> GraphStats {
        self.read().model.stats()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Built> {
        // A panic while a rebuild held the lock cannot leave a half-built
        // model: rebuilds replace the model whole.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Brings the model up to date with `market` and the node's facts, if
    /// either changed since; says how.
    pub fn refresh(&self, market: &Market) -> Result<Refreshed, StoreError> {
        let generation = market.social_generation();
        let (version, facts) = self.facts.read().map(|f| f.clone()).unwrap_or_default();
        let fresh = {
            let built = self.read();
            if built.generation == Some(generation) && built.facts == version {
                return Ok(Refreshed::Unchanged);
            }
            built.generation.is_none()
                || built.facts != version
                || built.built_at.elapsed() >= RECOMPUTE_EVERY
        };
        let snapshot = market.social()?;
        if fresh {
            let policy = self.policy.read().map(|p| p.clone()).unwrap_or_default();
            let mut model = TrustModel::new(self.owner, self.limits);
            let names = feed(&mut model, &snapshot, &facts);
            model.set_policy(policy);
            model.recompute();
            *self.write() = Built {
                model,
                names,
                generation: Some(generation),
                facts: version,
                built_at: Instant::now(),
            };
            return Ok(Refreshed::Built);
        }
        let mut built = self.write();
        built.names = feed(&mut built.model, &snapshot, &facts);
        built.model.update();
        built.generation = Some(generation);
        Ok(Refreshed::Updated)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Built> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps the model current until `stop`.
    pub async fn refresh_loop(self, market: Market, mut stop: watch::Receiver<bool>) {
        loop {
            let (trust, market_now) = (self.clone(), market.clone());
            match tokio::task::spawn_blocking(move || trust.refresh(&market_now)).await {
                Ok(Err(e)) => tracing::warn!("trust: discovery's inputs unreadable: {e}"),
                Err(e) => tracing::warn!("trust: a rebuild failed: {e}"),
                Ok(Ok(_)) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(REFRESH_EVERY) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// Weighs listings by the owner's trust in them (band first, then score),
/// remembering each publisher's standing for the question it ranks. The
/// model is read one listing at a time, never held while the market waits
/// for its index.
pub struct Ranking<'a> {
    trust: &'a Trust,
    now: u64,
    /// By DID text; none for a DID that does not parse.
    publishers: HashMap<String, Option<(Did, PublisherStanding)>>,
}

impl Ranking<'_> {
    /// The weight, 0 to 1, of app `app_id` of publisher `did`.
    pub fn weight(&mut self, did: &str, app_id: &str) -> f32 {
        let (trust, now) = (self.trust, self.now);
        let publisher = self.publishers.entry(did.to_owned()).or_insert_with(|| {
            let did = did.parse::<Did>().ok()?;
            let standing = trust.read().model.publisher_standing(&did, now);
            Some((did, standing))
        });
        let Some((did, standing)) = publisher else {
            return 0.0;
        };
        let (band, score) = trust.read().model.app_standing(standing, did, app_id);
        rank_weight(band, score)
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// Nothing changed since the last one.
    Unchanged,
    /// The model took discovery's new inputs and was updated in place.
    Updated,
    /// The model was built afresh.
    Built,
}

/// Hands `snapshot` and the node's `facts` to `model` (inputs it already
/// holds change nothing); returns the names of the keys it knows
/// (publishers' names from their bindings). The caller recomputes or
/// updates.
fn feed(model: &mut TrustModel, snapshot: &SocialSnapshot, facts: &NodeFacts) -> Names {
    let owner = model.owner();
    for list in &snapshot.follows {
        model.add_follow_list(FollowList {
            author: NostrKey(list.author),
            created_at: list.created_at,
            follows: list.keys.iter().copied().map(NostrKey).collect(),
        });
    }
    if let Some(mutes) = snapshot.mutes.iter().find(|m| m.author == owner.0) {
        model.set_mute_list(MuteList {
            created_at: mutes.created_at,
            muted: mutes.keys.iter().copied().map(NostrKey).collect(),
        });
    }
    for report in &snapshot.reports {
        let Some(author) = parse_key(&report.author) else {
            continue;
        };
        for claim in &report.targets {
            let target = match &claim.app {
                None => parse_key(&claim.key).map(|k| ReportTarget::Key(NostrKey(k))),
                // A listing is reported by its author's key; the DID that
                // key speaks for names the app.
                Some(app) => snapshot
                    .authors
                    .get(&claim.key)
                    .and_then(|did| did.parse::<Did>().ok())
                    .map(|did| ReportTarget::App {
                        publisher: Box::new(did),
                        app_id: app.clone(),
                    }),
            };
            if let Some(target) = target {
                model.add_report(Report {
                    author: NostrKey(author),
                    target,
                    kind: claim.kind,
                    created_at: report.created_at,
                });
            }
        }
    }
    for review in &snapshot.reviews {
        let (Some(author), Ok(publisher)) = (parse_key(&review.author), review.did.parse::<Did>())
        else {
            continue;
        };
        // A review the model refuses (a rating out of range) is left out.
        let _ = model.add_review(Review {
            author: NostrKey(author),
            publisher,
            app_id: review.app_id.clone(),
            rating: review.rating,
            text: review.text.clone(),
            created_at: review.created_at,
        });
    }
    let mut names = Names::default();
    let facts_of = |did: &str| PublisherFacts {
        yanked_releases: facts.yanked.get(did).copied().unwrap_or(0),
        root_changed_since_install: facts.root_changed.contains(did),
        root_conflict_refused: snapshot.conflicts.iter().any(|c| c == did),
        first_seen: None,
    };
    let mut bound = BTreeSet::new();
    for record in &snapshot.publishers {
        let Ok(did) = record.did.parse::<Did>() else {
            continue;
        };
        let key = parse_key(&record.nostr_pubkey).map(NostrKey);
        if let Some(key) = key
            && !record.name.is_empty()
        {
            names.insert(key, record.name.clone());
        }
        bound.insert(record.did.as_str());
        model.set_publisher(Publisher {
            facts: PublisherFacts {
                first_seen: Some(record.created_at),
                ..facts_of(&record.did)
            },
            did,
            nostr_key: key,
        });
    }
    // Publishers the node fetched from whose binding discovery has not
    // seen: their facts still show.
    let unbound = facts.yanked.keys().chain(&facts.root_changed);
    for text in unbound.filter(|did| !bound.contains(did.as_str())) {
        if let Ok(did) = text.parse::<Did>() {
            model.set_publisher(Publisher {
                facts: facts_of(text),
                did,
                nostr_key: None,
            });
        }
    }
    names
}

/// A verdict as the API and the CLI show it: each reason as the sentence a
/// person reads and the evidence behind it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explained {
    /// 0 to 100.
    pub score: u8,
    /// `trusted`, `known`, `unknown`, `suspicious` or `blocked`.
    #[schema(value_type = String)]
    pub band: Band,
    /// Why, most decisive first.
    pub reasons: Vec<Said>,
    /// For an app: its publisher's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub publisher: Option<Box<Explained>>,
    /// For an app: its reviews, weighted by their authors' standing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviews: Option<ReviewsShown>,
}

/// An app's reviews as shown: heaviest first, and their weighted average.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewsShown {
    /// The weighted average rating; none when no review weighs anything.
    pub average: Option<f64>,
    /// The sum of the weights.
    pub weight: f64,
    /// Every review held.
    pub reviews: Vec<ReviewShown>,
}

/// One review and the weight it carries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewShown {
    /// Its author's name, or short npub.
    pub author: String,
    /// 1 to 5 stars.
    pub rating: u8,
    /// As written.
    pub text: String,
    /// When (Unix seconds).
    pub created_at: u64,
    /// 0 to 1.
    pub weight: f64,
    /// Why it counts for nothing, when it does not count.
    pub note: Option<String>,
}

/// One reason: its sentence and its evidence.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Said {
    /// The sentence shown.
    pub text: String,
    /// The evidence, tagged by `kind`.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
}

impl Explained {
    fn of(score: u8, band: Band, reasons: &[Reason]) -> Self {
        Self {
            score,
            band,
            reasons: reasons
                .iter()
                .map(|reason| Said {
                    text: reason.to_string(),
                    evidence: serde_json::to_value(reason).unwrap_or_default(),
                })
                .collect(),
            publisher: None,
            reviews: None,
        }
    }

    /// A publisher's verdict.
    pub fn publisher(verdict: &Verdict) -> Self {
        Self::of(verdict.score, verdict.band, &verdict.reasons)
    }

    /// In brief, with its `n` most decisive reasons (an app's own, then
    /// its publisher's).
    pub fn brief(&self, n: usize) -> TrustBrief {
        let publisher = self.publisher.iter().flat_map(|p| &p.reasons);
        TrustBrief {
            band: self.band,
            score: self.score,
            reasons: self
                .reasons
                .iter()
                .chain(publisher)
                .take(n)
                .map(|r| r.text.clone())
                .collect(),
        }
    }

    /// An app's verdict, with its publisher's.
    pub fn app(verdict: &AppVerdict) -> Self {
        Self {
            publisher: Some(Box::new(Self::publisher(&verdict.publisher))),
            ..Self::of(verdict.score, verdict.band, &verdict.reasons)
        }
    }
}

/// The fields of `T` in a signed manifest envelope's payload (`signed.
/// payload`), read leniently: the manifest was verified when its listing
/// was ingested, and a field this build does not know is left out. An
/// envelope that does not read gives `T::default()`.
pub fn manifest_payload<T: serde::de::DeserializeOwned + Default>(envelope: &str) -> T {
    #[derive(Deserialize)]
    struct Envelope<T> {
        signed: Signed<T>,
    }
    #[derive(Deserialize)]
    struct Signed<T> {
        payload: T,
    }
    serde_json::from_str::<Envelope<T>>(envelope)
        .map(|e| e.signed.payload)
        .unwrap_or_default()
}

/// What the trust score looks at in an app's signed manifest: host ports,
/// the `lan` permission and capabilities.
pub fn asks_of(envelope: &str) -> AppAsks {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Asked {
        containers: Vec<AskedContainer>,
        permissions: Vec<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct AskedContainer {
        ports: Vec<AskedPort>,
        capabilities: Vec<String>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct AskedPort {
        host: Option<u16>,
    }
    let asked: Asked = manifest_payload(envelope);
    let mut asks = AppAsks {
        lan: asked.permissions.iter().any(|p| p == "lan"),
        ..AppAsks::default()
    };
    for container in asked.containers {
        asks.host_ports
            .extend(container.ports.iter().filter_map(|p| p.host));
        asks.capabilities.extend(container.capabilities);
    }
    asks.host_ports.sort_unstable();
    asks.host_ports.dedup();
    asks.capabilities.sort();
    asks.capabilities.dedup();
    asks
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_discovery::store::{PublisherRecord, StoredList};

    fn key(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn list(author: u8, created_at: u64, follows: &[u8]) -> StoredList {
        StoredList {
            author: key(author),
            created_at,
            keys: follows.iter().map(|&n| key(n)).collect(),
            dropped: 0,
        }
    }

    /// Owner 1 follows 2, 3 and 4; the publisher's key is 9. The first
    /// snapshot has no one following 9; the second has 2, 3 and 4 follow it.
    fn snapshots(did: &Did) -> (SocialSnapshot, SocialSnapshot) {
        let publisher = PublisherRecord {
            did: did.to_string(),
            nostr_pubkey: hex::encode(key(9)),
            name: "Nine".into(),
            about: String::new(),
            binding_expires: u64::MAX,
            created_at: 100,
        };
        let before = SocialSnapshot {
            follows: vec![list(1, 10, &[2, 3, 4])],
            publishers: vec![publisher],
            ..SocialSnapshot::default()
        };
        let mut after = before.clone();
        after
            .follows
            .extend([list(2, 20, &[9]), list(3, 20, &[9]), list(4, 20, &[9])]);
        (before, after)
    }

    #[test]
    fn an_update_with_the_whole_snapshot_again_agrees_with_a_fresh_build() {
        let did = archy_trust::Identity::generate().unwrap().did();
        let (before, after) = snapshots(&did);
        let facts = NodeFacts::default();
        let fresh = |snapshot: &SocialSnapshot| {
            let mut model = TrustModel::new(NostrKey(key(1)), Limits::default());
            let names = feed(&mut model, snapshot, &facts);
            model.recompute();
            (model, names)
        };
        let (mut updated, _) = fresh(&before);
        let names = Names::default();
        assert_eq!(
            updated.explain_publisher(&did, 200, &names).band,
            Band::Unknown
        );
        // Fed everything again: only the three new lists change it.
        let names = feed(&mut updated, &after, &facts);
        updated.update();
        let (rebuilt, _) = fresh(&after);
        let (a, b) = (
            updated.explain_publisher(&did, 200, &names),
            rebuilt.explain_publisher(&did, 200, &names),
        );
        assert_eq!((a.band, a.score), (b.band, b.score));
        assert_eq!(a.band, Band::Known);
    }

    #[test]
    fn the_nodes_facts_show_among_a_publishers_reasons() {
        let did = archy_trust::Identity::generate().unwrap().did();
        let unbound = archy_trust::Identity::generate().unwrap().did();
        let (_, snapshot) = snapshots(&did);
        let facts = NodeFacts {
            yanked: BTreeMap::from([(did.to_string(), 2), (unbound.to_string(), 1)]),
            root_changed: BTreeSet::from([did.to_string()]),
        };
        let mut model = TrustModel::new(NostrKey(key(1)), Limits::default());
        let names = feed(&mut model, &snapshot, &facts);
        model.recompute();
        let said = |did: &Did| -> Vec<String> {
            model
                .explain_publisher(did, 200, &names)
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let bound = said(&did);
        for reason in [
            "signing root changed since you installed it",
            "has yanked 2 releases",
        ] {
            assert!(bound.iter().any(|r| r == reason), "{reason}: {bound:?}");
        }
        assert!(said(&unbound).iter().any(|r| r == "has yanked 1 release"));
    }

    #[test]
    fn a_manifests_asks_are_its_host_ports_lan_and_capabilities() {
        let envelope = serde_json::json!({
            "signed": {
                "_type": "archy/manifest",
                "spec_version": "1",
                "payload": {
                    "id": "org.x",
                    "permissions": ["internet", "lan"],
                    "containers": [
                        {"name": "web", "ports": [{"container": 80, "host": 80}, {"container": 81}],
                         "capabilities": ["NET_ADMIN"]},
                        {"name": "db", "ports": [{"container": 5432, "host": 8080}]}
                    ]
                }
            },
            "signatures": []
        });
        let asks = asks_of(&envelope.to_string());
        assert_eq!(asks.host_ports, [80, 8080]);
        assert!(asks.lan);
        assert_eq!(asks.capabilities, ["NET_ADMIN"]);
        assert_eq!(asks_of("not json"), AppAsks::default());
    }

    #[test]
    fn the_asks_are_read_from_a_real_signed_manifest() {
        use archy_registry::manifest::{Form, Manifest};
        let identity = archy_trust::Identity::generate().unwrap();
        let digest = "ab".repeat(32);
        let yaml = format!(
            "manifest_version: 1\nid: org.x.web\nversion: 1.0.0\ntitle: Web\nsummary: A web app\n\
             publisher: {}\nlicense: MIT\npermissions: [lan]\ncontainers:\n  - name: web\n    \
             image: {{blake3: \"{digest}\", size: 10, id: \"sha256:{digest}\"}}\n    \
             ports: [{{container: 80, host: 80}}]\n",
            identity.did()
        );
        let manifest = Manifest::from_yaml(&yaml, "manifest.yml", Form::Published).unwrap();
        let envelope = archy_trust::Signed::sign(&manifest, &identity).unwrap();
        let asks = asks_of(std::str::from_utf8(&envelope).unwrap());
        assert_eq!(asks.host_ports, [80]);
        assert!(asks.lan);
    }
}
