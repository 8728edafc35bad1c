//! The page around every page: the document head (the embedded stylesheet
//! and script, nothing from outside the node), a skip link, the navigation
//! with the current page marked, and the logout form; and the small pieces
//! several pages show (a trust band, an app's monogram, an error page).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::auth::Viewer;
use super::icons;
use archy_trust::score::Band;

/// Which page the navigation marks as current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// None (the login, error pages).
    None,
    /// Discover.
    Discover,
    /// My Apps.
    MyApps,
    /// Peers.
    Peers,
    /// Settings.
    Settings,
}

/// A whole page: `title`, the navigation (when logged in) and `content`.
pub fn page(title: &str, nav: Nav, viewer: Option<&Viewer>, content: Markup) -> Markup {
    let item = |to: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(nav == to).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Archipelago" }
                link rel="stylesheet" href=(super::assets::STYLE_PATH);
                script src=(super::assets::SCRIPT_PATH) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Archipelago" }
                    @if let Some(viewer) = viewer {
                        nav aria-label="Main" {
                            ul {
                                (item(Nav::Discover, "/", "Discover"))
                                (item(Nav::MyApps, "/apps", "My Apps"))
                                (item(Nav::Peers, "/peers", "Peers"))
                                (item(Nav::Settings, "/settings", "Settings"))
                            }
                        }
                        form.logout method="post" action="/logout" {
                            (csrf_field(viewer))
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main #main tabindex="-1" { (content) }
            }
        }
    }
}

/// The hidden field that carries the session's CSRF token in a form.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// A page that says what went wrong and what to do, with `status`.
pub fn error_page(status: StatusCode, title: &str, what_to_do: &str) -> Response {
    let body = html! {
        section.narrow {
            h1 { (title) }
            p { (what_to_do) }
            p { a href="/" { "Back to Discover" } }
        }
    };
    (status, page(title, Nav::None, None, body)).into_response()
}

/// A trust band as a labelled badge; "not scored yet" when there is none.
pub fn band(band: Option<Band>) -> Markup {
    match band {
        Some(band) => html! {
            span class=(format!("band band-{band}")) { (band) }
        },
        None => html! { span.band.band-none { "not scored yet" } },
    }
}

/// An app's icon (see [`super::icons`]): decorative, since its title is
/// always beside it.
pub fn icon(did: &str, app: &str, version: &str) -> Markup {
    html! {
        img.icon src=(icons::icon_path(did, app, version)) alt="" width="48" height="48";
    }
}

/// `bytes` for a person: KB, MB or GB with one decimal.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long ago `at` (Unix seconds) was, in words.
pub fn ago(at: u64, now: u64) -> String {
    let secs = now.saturating_sub(at);
    let (n, unit) = match secs {
        0..60 => return "just now".to_owned(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// `text` as a query value (RFC 3986 unreserved characters and `/` kept).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The time now, in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_as_words() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(1_500_000), "1.5 MB");
        assert_eq!(ago(100, 130), "just now");
        assert_eq!(ago(0, 7200), "2 hours ago");
        assert_eq!(ago(0, 86_400), "1 day ago");
    }
}
