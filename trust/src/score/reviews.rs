//! An app's reviews as the owner should read them: each weighted by its
//! author's standing in the owner's graph (the same weight as reports:
//! 1 for keys the owner follows, otherwise mass over the typical follow's,
//! at most 1), and their weighted average.
//!
//! The weight is linear in mass, not in score, so a sybil ring's thousand
//! five-star reviews together weigh no more than the mass its attack edges
//! let in: a few strangers' worth, not a thousand.

use std::fmt;

use serde::Serialize;

use super::model::{Subject, TrustModel};
use super::reason::{Names, Person};
use crate::Did;

/// Why a review (or a report) weighs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unweighted {
    /// Its author is not in the owner's graph.
    OutsideYourNetwork,
    /// Its author is muted by the owner.
    MutedByYou,
    /// Its author's secret is published.
    PubliclyKnownKey,
}

impl fmt::Display for Unweighted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OutsideYourNetwork => {
                "its author is outside your network, so it counts for nothing"
            }
            Self::MutedByYou => "its author is muted by you, so it counts for nothing",
            Self::PubliclyKnownKey => {
                "its author is a publicly known test key, so it counts for nothing"
            }
        })
    }
}

/// One review with the weight it carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightedReview {
    /// Who wrote it.
    pub author: Person,
    /// 1 to 5 stars.
    pub rating: u8,
    /// As written.
    pub text: String,
    /// When (Unix seconds).
    pub created_at: u64,
    /// 0 to 1.
    pub weight: f64,
    /// Why it weighs nothing, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<Unweighted>,
}

/// An app's reviews, heaviest first, and their weighted average.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reviews {
    /// The weighted average rating; `None` when no review weighs anything.
    pub average: Option<f64>,
    /// The sum of the weights.
    pub weight: f64,
    /// Every review held, heaviest first (then newest, then by author).
    pub reviews: Vec<WeightedReview>,
}

impl TrustModel {
    /// The reviews of app `app_id` of publisher `did`, weighted for the owner.
    pub fn reviews(&self, did: &Did, app_id: &str, names: &Names) -> Reviews {
        let subject = Subject::App(did.as_str().to_owned(), app_id.to_owned());
        let mut reviews: Vec<WeightedReview> = self
            .reviews
            .about(&subject)
            .map(|(author, held)| {
                let (weight, note) = self.weight(author);
                let (rating, text) = &held.claim;
                WeightedReview {
                    author: Person::new(*author, names),
                    rating: *rating,
                    text: text.clone(),
                    created_at: held.created_at,
                    weight,
                    note,
                }
            })
            .collect();
        reviews.sort_by(|a, b| {
            b.weight
                .total_cmp(&a.weight)
                .then(b.created_at.cmp(&a.created_at))
                .then(a.author.key.cmp(&b.author.key))
        });
        // Summed heaviest first, in a fixed order: the same bits every time.
        let weight: f64 = reviews.iter().map(|r| r.weight).sum();
        let stars: f64 = reviews.iter().map(|r| r.weight * f64::from(r.rating)).sum();
        Reviews {
            average: (weight > 0.0).then(|| stars / weight),
            weight,
            reviews,
        }
    }
}
