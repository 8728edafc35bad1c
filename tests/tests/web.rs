//! The web marketplace over real HTTP, against a node in this process with
//! 50 apps listed on its embedded relay: pages need a session, the login
//! opens one (HttpOnly, SameSite=Strict) and the logout ends it; every page
//! parses as HTML5 without an error and stays under 100 KB; every form that
//! changes something is refused without its session's CSRF token.

use archy_tests as common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use archy_synthetic::SyntheticPublisher;
use archy_trust::Identity;
use nostr::Event;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use scraper::{Html, Selector};
use tokio::runtime::Runtime;

/// Apps listed.
const APPS: usize = 50;
/// The most one page may weigh on the wire.
const MAX_PAGE_BYTES: usize = 100 * 1024;

struct Web {
    runtime: Runtime,
    node: Node,
    addr: SocketAddr,
    token: String,
    http: reqwest::Client,
    /// The first listing's publisher and app.
    app: (String, String),
    _tmp: tempfile::TempDir,
}

impl Web {
    /// A node listing `APPS` apps from five publishers, its API (and
    /// pages) on a free loopback port.
    fn start() -> Self {
        let runtime = Runtime::new().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("node");
        let mut config = NodeConfig::default();
        config.relay.port = 0;
        config.apps.enabled = false;
        config.api.listen = Some("127.0.0.1:0".parse().unwrap());
        let node = runtime
            .block_on(Node::start(DataDir::open(&data).unwrap(), None, config))
            .expect("the node starts");
        let addr = node.api_addr().expect("the API runs");
        let token = std::fs::read_to_string(data.join("api.token"))
            .unwrap()
            .trim()
            .to_owned();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut events: Vec<Event> = Vec::new();
        let mut first = None;
        for p in 0..5 {
            let publisher = SyntheticPublisher::new(
                Identity::generate().unwrap(),
                &format!("Publisher {p}"),
                now + 86_400,
            )
            .unwrap();
            events.push(publisher.publisher_event(now - 10).unwrap());
            events.push(publisher.catalog_event(now - 10).unwrap());
            for a in 0..APPS / 5 {
                let id = format!("org.example.app{p}x{a}");
                let listing = publisher
                    .listing(
                        &id,
                        &format!("App {p}-{a}"),
                        "A <b>bold</b> & useful app",
                        &["tools"],
                    )
                    .unwrap();
                events.push(publisher.listing_event(&listing, now - 10).unwrap());
                first.get_or_insert((publisher.identity.did().to_string(), id));
            }
        }
        let relay = node.relay_url().unwrap().to_owned();
        runtime.block_on(common::send_events(&relay, &events));
        common::wait_until("every listing indexed", 60, || {
            (node.market().unwrap().indexed() == APPS).then_some(())
        });
        // reqwest is built without a TLS provider of its own; plain HTTP
        // still asks for one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            runtime,
            node,
            addr,
            token,
            http,
            app: first.unwrap(),
            _tmp: tmp,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` with `cookie` (if any): status, `Location`, body.
    fn get(&self, path: &str, cookie: Option<&str>) -> (StatusCode, Option<String>, String) {
        let mut request = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        self.send(request)
    }

    /// `POST path` as a form with `fields` and `cookie`.
    fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let mut request = self.http.post(self.url(path)).form(fields);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        self.send(request)
    }

    fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Option<String>, String) {
        self.runtime.block_on(async {
            let answer = request.send().await.expect("the node answers");
            let status = answer.status();
            let location = answer
                .headers()
                .get(LOCATION)
                .map(|l| l.to_str().unwrap().to_owned());
            (status, location, answer.text().await.unwrap())
        })
    }

    /// Logs in; the session cookie (`name=value`) and the whole
    /// `Set-Cookie` header.
    fn login(&self) -> (String, String) {
        let request = self
            .http
            .post(self.url("/login"))
            .form(&[("token", self.token.as_str()), ("next", "/apps")]);
        let answer = self
            .runtime
            .block_on(async { request.send().await.unwrap() });
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()[LOCATION], "/apps");
        let set = answer.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let pair = set.split(';').next().unwrap().to_owned();
        (pair, set)
    }

    fn stop(self) {
        self.runtime.block_on(self.node.shutdown());
    }
}

/// The CSRF token the page's forms carry.
fn csrf_of(page: &str) -> String {
    let html = Html::parse_document(page);
    let field = Selector::parse("input[name=csrf]").unwrap();
    html.select(&field)
        .next()
        .and_then(|f| f.value().attr("value"))
        .expect("the page has a form with its CSRF token")
        .to_owned()
}

#[test]
fn pages_need_a_session_the_login_opens_one_and_the_logout_ends_it() {
    let web = Web::start();
    let (status, location, _) = web.get("/apps", None);
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/login?next=/apps"));

    let (status, _, page) = web.post("/login", None, &[("token", "wrong"), ("next", "/")]);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        page.contains("not this node&#39;s token") || page.contains("not this node's token"),
        "{page}"
    );

    let (cookie, set) = web.login();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let (status, _, page) = web.get("/apps", Some(&cookie));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("No apps are installed"), "{page}");

    // The API takes the same session for reading.
    let (status, _, _) = web.get("/api/apps", Some(&cookie));
    assert_eq!(status, StatusCode::OK);

    let csrf = csrf_of(&page);
    let (status, location, _) = web.post("/logout", Some(&cookie), &[("csrf", &csrf)]);
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/login"))
    );
    let (status, _, _) = web.get("/apps", Some(&cookie));
    assert_eq!(status, StatusCode::SEE_OTHER, "the session ended");
    web.stop();
}

#[test]
fn every_page_parses_as_html5_and_stays_under_100_kb_with_50_apps_listed() {
    let web = Web::start();
    let (cookie, _) = web.login();
    let (did, app) = web.app.clone();
    let pages = [
        "/".to_owned(),
        "/?q=app".to_owned(),
        "/?page=2".to_owned(),
        "/?category=tools".to_owned(),
        format!("/app/{did}/{app}"),
        "/apps".to_owned(),
        "/apps?part=list".to_owned(),
        format!("/apps/{app}/purge"),
        "/peers".to_owned(),
        "/settings".to_owned(),
        "/no/such/page".to_owned(),
    ];
    for path in &pages {
        let (status, _, page) = web.get(path, Some(&cookie));
        assert!(
            status == StatusCode::OK
                || (path == "/no/such/page" && status == StatusCode::NOT_FOUND),
            "{path}: {status}"
        );
        assert!(page.len() < MAX_PAGE_BYTES, "{path}: {} bytes", page.len());
        if path.contains("part=list") {
            continue;
        }
        let parsed = Html::parse_document(&page);
        assert!(
            parsed.errors.is_empty(),
            "{path}: {:?}\n{page}",
            parsed.errors
        );
    }
    // Every control is named for a screen reader: a field by its label (or
    // aria-label), a button by its text (or aria-label).
    for path in &pages[..pages.len() - 1] {
        let (_, _, page) = web.get(path, Some(&cookie));
        let html = Html::parse_document(&page);
        let labels: BTreeSet<&str> = html
            .select(&Selector::parse("label[for]").unwrap())
            .filter_map(|l| l.value().attr("for"))
            .collect();
        let fields = Selector::parse("input:not([type=hidden]), select, textarea").unwrap();
        for field in html.select(&fields) {
            let named = field.value().attr("aria-label").is_some()
                || field.value().id().is_some_and(|id| labels.contains(id));
            assert!(named, "{path}: a field without a label: {}", field.html());
        }
        for button in html.select(&Selector::parse("button").unwrap()) {
            let named = button.value().attr("aria-label").is_some()
                || !button.text().collect::<String>().trim().is_empty();
            assert!(named, "{path}: a button without a name: {}", button.html());
        }
    }
    // The parser does report what is wrong, when something is.
    assert!(
        !Html::parse_document("<!DOCTYPE html><p></b>")
            .errors
            .is_empty()
    );
    let (status, _, login) = web.get("/login", None);
    assert_eq!(status, StatusCode::OK);
    assert!(Html::parse_document(&login).errors.is_empty());

    // Discover shows a page of cards, each with its band, and escapes what
    // publishers wrote.
    let (_, _, discover) = web.get("/", Some(&cookie));
    let html = Html::parse_document(&discover);
    let cards = Selector::parse("li.card").unwrap();
    assert_eq!(html.select(&cards).count(), 24);
    assert!(discover.contains("50 apps"), "{discover}");
    assert!(discover.contains("A &lt;b&gt;bold&lt;/b&gt; &amp; useful app"));
    assert!(discover.contains("band-unknown"), "{discover}");
    // An app's page says who published it and what it asks.
    let (_, _, shown) = web.get(&format!("/app/{did}/{app}"), Some(&cookie));
    for words in [
        "Publisher 0",
        &did,
        "Why trust it",
        "What it asks of this machine",
        "Install",
    ] {
        assert!(shown.contains(words), "{words:?} on the app's page");
    }
    // It lists the versions known, the listed one newest.
    assert!(shown.contains("Versions"), "{shown}");
    assert!(shown.contains("1.0.0</strong> · newest"), "{shown}");
    assert!(shown.contains("Older versions show here once"), "{shown}");

    // An app without an icon gets a monogram, as an image that cannot run
    // script, behind the session like the pages.
    let icon = web.url(&format!("/icons/{did}/{app}?v=1.0.0"));
    let answer = web.runtime.block_on(async {
        web.http
            .get(&icon)
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap()
    });
    assert_eq!(answer.status(), StatusCode::OK);
    let header = |name: &str| answer.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "image/svg+xml");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("sandbox"));
    let svg = web.runtime.block_on(answer.text()).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains(">A</text>"),
        "{svg}"
    );
    let (status, _, _) = web.get(&format!("/icons/{did}/{app}"), None);
    assert_eq!(status, StatusCode::SEE_OTHER, "icons need a session");

    for asset in ["/assets/app.css", "/assets/app.js"] {
        let (status, _, body) = web.get(asset, None);
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{asset} loads nothing from outside"
        );
    }
    web.stop();
}

#[test]
fn every_mutating_form_without_its_csrf_token_is_refused() {
    let web = Web::start();
    let (cookie, _) = web.login();
    let (did, app) = web.app.clone();
    // Every form that posts, on every page, and the ones a page shows
    // only for an installed app.
    let mut actions = BTreeSet::from([
        "/install".to_owned(),
        "/logout".to_owned(),
        "/settings/trust".to_owned(),
        format!("/apps/{app}"),
        format!("/apps/{app}/purge"),
    ]);
    let form = Selector::parse("form[method=post]").unwrap();
    for path in [
        "/",
        "/apps",
        "/settings",
        &format!("/app/{did}/{app}"),
        &format!("/apps/{app}/purge"),
    ] {
        let (_, _, page) = web.get(path, Some(&cookie));
        for found in Html::parse_document(&page).select(&form) {
            actions.insert(found.value().attr("action").unwrap().to_owned());
        }
    }
    let (_, _, page) = web.get("/settings", Some(&cookie));
    let csrf = csrf_of(&page);
    let name = format!("{did}/{app}");
    let fields = [
        ("action", "stop"),
        ("app", name.as_str()),
        ("did", did.as_str()),
        ("list", "block"),
    ];
    for action in &actions {
        for presented in [None, Some("0".repeat(64))] {
            let mut sent: Vec<(&str, &str)> = fields.to_vec();
            if let Some(token) = &presented {
                sent.push(("csrf", token));
            }
            let (status, _, page) = web.post(action, Some(&cookie), &sent);
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{action} with {presented:?}: {page}"
            );
        }
    }
    // With the token, the lists form does what it says.
    let mut sent = fields.to_vec();
    sent.push(("csrf", &csrf));
    let (status, location, _) = web.post("/settings/trust", Some(&cookie), &sent);
    assert_eq!(
        (status, location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/settings"))
    );
    let (_, _, settings) = web.get("/settings", Some(&cookie));
    assert!(
        settings.contains(&did) && settings.contains("blocked"),
        "{settings}"
    );
    web.stop();
}
