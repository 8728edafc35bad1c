//! Ranked search over the listings believed: an in-memory inverted index
//! (term → postings) scored with BM25, rebuilt from the redb index when a
//! node starts and kept current as listings come and go.
//!
//! Title words weigh most, then categories and the app id, then the
//! summary. Every query word must match; the last one also matches as a
//! prefix, so `not` finds "notes" while typing. A full-text engine
//! (tantivy) was weighed and left out: 100 k listings of a few dozen words
//! each fit in a few tens of MB, and a query over them takes well under a
//! millisecond, without a second on-disk index to keep in step with redb.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

/// Words kept per field.
const MAX_TERMS_PER_FIELD: usize = 64;
/// Longest word indexed; longer ones are cut.
const MAX_TERM_CHARS: usize = 32;
/// Most index terms one prefix may expand to.
const MAX_PREFIX_EXPANSION: usize = 128;
/// Most results one query returns.
pub const MAX_RESULTS: usize = 1000;
/// BM25 parameters (the usual ones).
const K1: f32 = 1.2;
const B: f32 = 0.75;
/// How much a prefix match counts against an exact one.
const PREFIX_DISCOUNT: f32 = 0.8;

/// Field weights: a word in the title counts as three in the summary.
const TITLE: u16 = 3;
const CATEGORY: u16 = 2;
const APP_ID: u16 = 2;
const SUMMARY: u16 = 1;

/// What is indexed of a listing.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// Publisher DID.
    pub did: &'a str,
    /// App id.
    pub app_id: &'a str,
    /// Title.
    pub title: &'a str,
    /// Summary.
    pub summary: &'a str,
    /// Categories.
    pub categories: &'a [String],
}

/// Weighs a listing (publisher DID, app id) for ranking, 0 to 1: the
/// node's trust in it, say.
pub type Rank<'a> = &'a mut dyn FnMut(&str, &str) -> f32;

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Publisher DID.
    pub did: String,
    /// App id.
    pub app_id: String,
    /// Relevance; higher is better.
    pub score: f32,
}

/// A page of results.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// How many listings matched in all.
    pub total: usize,
    /// The best ones, best first.
    pub hits: Vec<Hit>,
}

#[derive(Debug)]
struct Doc {
    did: Box<str>,
    app_id: Box<str>,
    title: Box<str>,
    /// Lower-cased, for [`SearchIndex::search_in`]'s filter.
    categories: Box<[Box<str>]>,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    slot: u32,
    weight: u16,
}

/// The index.
#[derive(Debug, Default)]
pub struct SearchIndex {
    docs: Vec<Option<Doc>>,
    /// DID → app id → slot in `docs`, nested so a lookup needs no owned key.
    slots: foldhash::HashMap<Box<str>, foldhash::HashMap<Box<str>, u32>>,
    /// Term → postings: adding a listing looks up each of its words here.
    terms: foldhash::HashMap<Box<str>, Vec<Posting>>,
    /// Every term in order, for prefix matches: only a word the index has
    /// never held goes in.
    ordered: BTreeSet<Box<str>>,
    live: usize,
    total_len: u64,
    /// Live listings per category (lower-cased), kept as listings come
    /// and go, so counting them costs nothing per question.
    category_counts: HashMap<Box<str>, usize>,
}

/// Lower-case words of `text`: runs of letters and digits, at least two
/// characters (or one digit), at most [`MAX_TERM_CHARS`]. A word already
/// in lower-case ASCII is lent from `text`, not copied.
pub fn words(text: &str) -> impl Iterator<Item = Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 || w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.is_ascii() {
                let w = &w[..w.len().min(MAX_TERM_CHARS)];
                if w.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(w.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(w)
                }
            } else {
                Cow::Owned(
                    w.chars()
                        .take(MAX_TERM_CHARS)
                        .flat_map(char::to_lowercase)
                        .collect(),
                )
            }
        })
}

impl SearchIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many listings are indexed.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Adds a listing, replacing the one with the same (DID, app id).
    pub fn upsert<'a>(&mut self, fields: Fields<'a>) {
        self.remove(fields.did, fields.app_id);
        let mut weights: Vec<(Cow<'a, str>, u16)> = Vec::new();
        let mut add = |text: &'a str, weight: u16| {
            weights.extend(words(text).take(MAX_TERMS_PER_FIELD).map(|w| (w, weight)));
        };
        add(fields.title, TITLE);
        add(fields.summary, SUMMARY);
        add(fields.app_id, APP_ID);
        for category in fields.categories {
            add(category, CATEGORY);
        }
        weights.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        weights.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
        let len: u32 = weights.iter().map(|(_, w)| u32::from(*w)).sum();
        let slot = u32::try_from(self.docs.len()).unwrap_or(u32::MAX);
        let mut categories: Vec<Box<str>> = fields
            .categories
            .iter()
            .map(|c| c.to_lowercase().into_boxed_str())
            .collect();
        categories.sort_unstable();
        categories.dedup();
        for category in &categories {
            *self.category_counts.entry(category.clone()).or_default() += 1;
        }
        self.docs.push(Some(Doc {
            did: fields.did.into(),
            app_id: fields.app_id.into(),
            title: fields.title.to_lowercase().into(),
            categories: categories.into_boxed_slice(),
            len,
        }));
        match self.slots.get_mut(fields.did) {
            Some(apps) => apps.insert(fields.app_id.into(), slot),
            None => self
                .slots
                .entry(fields.did.into())
                .or_default()
                .insert(fields.app_id.into(), slot),
        };
        for (word, weight) in weights {
            let posting = Posting { slot, weight };
            match self.terms.get_mut(&*word) {
                Some(postings) => postings.push(posting),
                None => {
                    let term = word.into_owned().into_boxed_str();
                    self.ordered.insert(term.clone());
                    self.terms.insert(term, vec![posting]);
                }
            }
        }
        self.live += 1;
        self.total_len += u64::from(len);
    }

    /// Removes a listing; true if it was indexed.
    pub fn remove(&mut self, did: &str, app_id: &str) -> bool {
        let Some(apps) = self.slots.get_mut(did) else {
            return false;
        };
        let Some(slot) = apps.remove(app_id) else {
            return false;
        };
        if apps.is_empty() {
            self.slots.remove(did);
        }
        if let Some(doc) = self.docs.get_mut(slot as usize).and_then(Option::take) {
            self.live -= 1;
            self.total_len -= u64::from(doc.len);
            for category in &doc.categories {
                if let Some(count) = self.category_counts.get_mut(category) {
                    *count -= 1;
                    if *count == 0 {
                        self.category_counts.remove(category);
                    }
                }
            }
        }
        if self.docs.len() > 2 * self.live + 1024 {
            self.compact();
        }
        true
    }

    /// Drops the postings of removed listings and renumbers the rest.
    fn compact(&mut self) {
        let mut renumber = vec![u32::MAX; self.docs.len()];
        let mut docs = Vec::with_capacity(self.live);
        for (old, doc) in self.docs.drain(..).enumerate() {
            if let Some(doc) = doc {
                renumber[old] = docs.len() as u32;
                docs.push(Some(doc));
            }
        }
        self.docs = docs;
        for slot in self.slots.values_mut().flat_map(HashMap::values_mut) {
            *slot = renumber[*slot as usize];
        }
        self.terms.retain(|_, postings| {
            postings.retain_mut(|p| {
                p.slot = renumber[p.slot as usize];
                p.slot != u32::MAX
            });
            !postings.is_empty()
        });
        let terms = &self.terms;
        self.ordered.retain(|term| terms.contains_key(term));
    }

    /// The listings matching every word of `query`, best first, `limit`
    /// of them after skipping `offset`. An empty query lists everything
    /// by title.
    pub fn search(&self, query: &str, offset: usize, limit: usize) -> Results {
        self.search_in(query, None, offset, limit)
    }

    /// As [`SearchIndex::search`], among the listings in `category` only
    /// (compared without case), if one is given.
    pub fn search_in(
        &self,
        query: &str,
        category: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Results {
        self.search_ranked(query, category, offset, limit, None)
    }

    /// As [`SearchIndex::search_in`], ordered with `rank`'s weight of each
    /// listing (publisher DID, app id) when given: a search by relevance
    /// times weight, a list by weight, then by title. The relevance shown
    /// stays the search's own.
    pub fn search_ranked(
        &self,
        query: &str,
        category: Option<&str>,
        offset: usize,
        limit: usize,
        rank: Option<Rank<'_>>,
    ) -> Results {
        let limit = limit.min(MAX_RESULTS);
        let category = category.map(str::to_lowercase);
        let category = category.as_deref();
        let words: Vec<Cow<'_, str>> = words(query).take(MAX_TERMS_PER_FIELD).collect();
        if words.is_empty() {
            return self.by_title(category, offset, limit, rank);
        }
        let n = self.live.max(1) as f32;
        let avg_len = (self.total_len as f32 / n).max(1.0);
        let mut scores = vec![0f32; self.docs.len()];
        let mut matched = vec![0u8; self.docs.len()];
        for (i, word) in words.iter().enumerate() {
            let last = i + 1 == words.len();
            let round = i as u8;
            let mut best = vec![0f32; 0];
            for (term, postings) in self.matching_terms(word, last) {
                let exact = term == &**word;
                let df = postings
                    .iter()
                    .filter(|p| self.docs[p.slot as usize].is_some())
                    .count() as f32;
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                let discount = if exact { 1.0 } else { PREFIX_DISCOUNT };
                for p in postings {
                    let slot = p.slot as usize;
                    let Some(doc) = &self.docs[slot] else {
                        continue;
                    };
                    if matched[slot] != round {
                        continue;
                    }
                    let tf = f32::from(p.weight);
                    let norm = 1.0 - B + B * doc.len as f32 / avg_len;
                    let score = discount * idf * tf * (K1 + 1.0) / (tf + K1 * norm);
                    if best.is_empty() {
                        best = vec![0f32; self.docs.len()];
                    }
                    best[slot] = best[slot].max(score);
                }
            }
            if best.is_empty() {
                return Results::default();
            }
            for (slot, score) in best.into_iter().enumerate() {
                if score > 0.0 && matched[slot] == round {
                    matched[slot] = round + 1;
                    scores[slot] += score;
                }
            }
        }
        let all = words.len() as u8;
        let mut rank = rank;
        // (slot, relevance, what orders it)
        let mut hits: Vec<(u32, f32, f32)> = matched
            .iter()
            .enumerate()
            .filter(|(slot, m)| **m == all && self.in_category(*slot as u32, category))
            .map(|(slot, _)| {
                let relevance = scores[slot];
                let weight = rank.as_mut().map_or(1.0, |rank| self.weigh(slot, rank));
                (slot as u32, relevance, relevance * weight)
            })
            .collect();
        let total = hits.len();
        let order = |a: &(u32, f32, f32), b: &(u32, f32, f32)| {
            b.2.total_cmp(&a.2)
                .then_with(|| self.title(a.0).cmp(self.title(b.0)))
        };
        let wanted = (offset + limit).min(hits.len());
        if wanted < hits.len() && wanted > 0 {
            hits.select_nth_unstable_by(wanted - 1, order);
            hits.truncate(wanted);
        }
        hits.sort_by(order);
        Results {
            total,
            hits: hits
                .into_iter()
                .skip(offset)
                .take(limit)
                .filter_map(|(slot, relevance, _)| self.hit(slot, relevance))
                .collect(),
        }
    }

    /// `rank`'s weight of the listing in `slot`.
    fn weigh(&self, slot: usize, rank: &mut Rank<'_>) -> f32 {
        self.docs[slot]
            .as_ref()
            .map_or(0.0, |doc| rank(&doc.did, &doc.app_id))
    }

    fn matching_terms<'a>(
        &'a self,
        word: &'a str,
        prefix: bool,
    ) -> Box<dyn Iterator<Item = (&'a str, &'a Vec<Posting>)> + 'a> {
        if prefix {
            Box::new(
                self.ordered
                    .range::<str, _>((std::ops::Bound::Included(word), std::ops::Bound::Unbounded))
                    .take_while(move |t| t.starts_with(word))
                    .take(MAX_PREFIX_EXPANSION)
                    .filter_map(|t| self.terms.get_key_value(&**t))
                    .map(|(t, p)| (&**t, p)),
            )
        } else {
            Box::new(
                self.terms
                    .get_key_value(word)
                    .map(|(t, p)| (&**t, p))
                    .into_iter(),
            )
        }
    }

    fn title(&self, slot: u32) -> &str {
        self.docs[slot as usize].as_ref().map_or("", |d| &d.title)
    }

    fn hit(&self, slot: u32, score: f32) -> Option<Hit> {
        let doc = self.docs.get(slot as usize)?.as_ref()?;
        Some(Hit {
            did: doc.did.to_string(),
            app_id: doc.app_id.to_string(),
            score,
        })
    }

    /// Every category of the live listings (lower-cased) with how many
    /// listings are in it, the fullest first, then by name.
    pub fn categories(&self) -> Vec<(String, usize)> {
        let mut counted: Vec<(String, usize)> = self
            .category_counts
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect();
        counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counted
    }

    /// Whether the listing in `slot` is live and, if a category is
    /// given, in it.
    fn in_category(&self, slot: u32, category: Option<&str>) -> bool {
        match (&self.docs[slot as usize], category) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(doc), Some(category)) => doc.categories.iter().any(|c| &**c == category),
        }
    }

    fn by_title(
        &self,
        category: Option<&str>,
        offset: usize,
        limit: usize,
        mut rank: Option<Rank<'_>>,
    ) -> Results {
        // (slot, weight): every weight is 1 when nothing ranks.
        let mut live: Vec<(u32, f32)> = (0..self.docs.len() as u32)
            .filter(|s| self.in_category(*s, category))
            .map(|slot| {
                let weight = rank
                    .as_mut()
                    .map_or(1.0, |rank| self.weigh(slot as usize, rank));
                (slot, weight)
            })
            .collect();
        live.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| self.title(a.0).cmp(self.title(b.0)))
        });
        Results {
            total: live.len(),
            hits: live
                .into_iter()
                .skip(offset)
                .take(limit)
                .filter_map(|(slot, _)| self.hit(slot, 0.0))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(index: &mut SearchIndex, app: &str, title: &str, summary: &str, categories: &[&str]) {
        let categories: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
        index.upsert(Fields {
            did: "did:key:z6Mk",
            app_id: app,
            title,
            summary,
            categories: &categories,
        });
    }

    fn apps(results: &Results) -> Vec<&str> {
        results.hits.iter().map(|h| h.app_id.as_str()).collect()
    }

    fn sample() -> SearchIndex {
        let mut index = SearchIndex::new();
        add(
            &mut index,
            "org.notes",
            "Notes",
            "Plain-text notes",
            &["productivity"],
        );
        add(
            &mut index,
            "org.wiki",
            "Wiki",
            "A wiki for your notes and docs",
            &["productivity"],
        );
        add(
            &mut index,
            "org.photos",
            "Photos",
            "Photo library",
            &["media"],
        );
        add(
            &mut index,
            "org.music",
            "Music",
            "Stream your music",
            &["media"],
        );
        index
    }

    #[test]
    fn words_are_lower_cased_and_cut_whether_ascii_or_not() {
        let long = "a".repeat(40);
        let text = format!("Notes-APP x 7 Ünïcode ÉCOLE {long} {}", "é".repeat(40));
        let found: Vec<String> = words(&text).map(Cow::into_owned).collect();
        assert_eq!(
            found,
            [
                "notes".to_owned(),
                "app".into(),
                "7".into(),
                "ünïcode".into(),
                "école".into(),
                "a".repeat(MAX_TERM_CHARS),
                "é".repeat(MAX_TERM_CHARS),
            ]
        );
    }

    #[test]
    fn a_word_in_two_fields_counts_for_both() {
        let mut index = SearchIndex::new();
        add(&mut index, "org.a", "Notes", "notes notes", &[]);
        add(&mut index, "org.b", "Notes", "other", &[]);
        assert_eq!(apps(&index.search("notes", 0, 10)), ["org.a", "org.b"]);
    }

    #[test]
    fn a_title_match_ranks_above_a_summary_match() {
        let index = sample();
        assert_eq!(
            apps(&index.search("notes", 0, 10)),
            ["org.notes", "org.wiki"]
        );
    }

    #[test]
    fn every_word_must_match_and_the_last_is_a_prefix() {
        let index = sample();
        assert_eq!(apps(&index.search("wiki not", 0, 10)), ["org.wiki"]);
        assert_eq!(apps(&index.search("pho", 0, 10)), ["org.photos"]);
        assert!(index.search("pho music", 0, 10).hits.is_empty());
        assert_eq!(index.search("media", 0, 10).total, 2);
    }

    #[test]
    fn replacing_and_removing_keep_results_current() {
        let mut index = sample();
        add(&mut index, "org.notes", "Jotter", "Quick jots", &[]);
        assert!(index.search("plain", 0, 10).hits.is_empty());
        assert_eq!(apps(&index.search("jotter", 0, 10)), ["org.notes"]);
        assert!(index.remove("did:key:z6Mk", "org.wiki"));
        assert!(index.search("wiki", 0, 10).hits.is_empty());
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn compaction_keeps_what_is_live() {
        let mut index = SearchIndex::new();
        for round in 0..4 {
            for i in 0..1000 {
                add(
                    &mut index,
                    &format!("app{i}"),
                    &format!("Title {round}"),
                    "same words",
                    &[],
                );
            }
        }
        assert_eq!(index.len(), 1000);
        assert!(index.docs.len() < 4000);
        assert_eq!(index.search("title 3", 0, 5).total, 1000);
        assert_eq!(index.search("title 1", 0, 5).total, 0);
        assert!(!index.ordered.contains("0"), "a word no listing holds goes");
        assert_eq!(
            index.ordered.iter().collect::<BTreeSet<_>>(),
            index.terms.keys().collect::<BTreeSet<_>>(),
            "the ordered terms are the terms"
        );
    }

    #[test]
    fn a_rank_orders_lists_by_weight_and_searches_by_relevance_times_weight() {
        let index = sample();
        let mut weights = |_: &str, app: &str| match app {
            "org.wiki" => 1.0,
            "org.photos" => 0.5,
            _ => 0.1,
        };
        let listed = index.search_ranked("", None, 0, 10, Some(&mut weights));
        assert_eq!(
            apps(&listed),
            ["org.wiki", "org.photos", "org.music", "org.notes"],
            "by weight, then by title"
        );
        // "notes" is in the title of org.notes and the summary of org.wiki:
        // the title match ranks first alone, the heavier listing with a rank.
        let found = index.search_ranked("notes", None, 0, 10, Some(&mut weights));
        assert_eq!(apps(&found), ["org.wiki", "org.notes"]);
        let plain = index.search("notes", 0, 10);
        assert_eq!(
            found.hits.iter().map(|h| h.score).max_by(f32::total_cmp),
            plain.hits.iter().map(|h| h.score).max_by(f32::total_cmp),
            "the relevance shown is the search's own"
        );
        let paged = index.search_ranked("", None, 1, 1, Some(&mut weights));
        assert_eq!((paged.total, apps(&paged)), (4, vec!["org.photos"]));
    }

    #[test]
    fn categories_are_counted_fullest_first() {
        let mut index = sample();
        assert_eq!(
            index.categories(),
            [("media".to_owned(), 2), ("productivity".to_owned(), 2)]
        );
        index.remove("did:key:z6Mk", "org.wiki");
        assert_eq!(index.categories()[0], ("media".to_owned(), 2));
    }

    #[test]
    fn paging_and_listing_everything() {
        let index = sample();
        assert_eq!(apps(&index.search("", 0, 2)), ["org.music", "org.notes"]);
        assert_eq!(apps(&index.search("", 2, 2)), ["org.photos", "org.wiki"]);
        let page = index.search("media", 1, 1);
        assert_eq!((page.total, page.hits.len()), (2, 1));
    }

    #[test]
    fn a_category_filter_keeps_only_its_listings_whatever_the_case() {
        let index = sample();
        let media = index.search_in("", Some("Media"), 0, 10);
        assert_eq!(media.total, 2);
        assert_eq!(apps(&media), ["org.music", "org.photos"]);
        assert_eq!(
            apps(&index.search_in("pho", Some("media"), 0, 10)),
            ["org.photos"]
        );
        assert_eq!(index.search_in("notes", Some("media"), 0, 10).total, 0);
        assert_eq!(index.search_in("", Some("none such"), 0, 10).total, 0);
    }
}
