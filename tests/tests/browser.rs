//! The web marketplace in a real browser: Debian's chromium, driven through
//! chromedriver with fantoccini, against a real `archy node run --demo`
//! with real (rootful) podman. A person logs in with the node's token,
//! searches, opens hello-web, installs it and watches the progress reach
//! "Running", follows Open to the app's own page, then uninstalls it from
//! My Apps. Every page it sees has text that meets WCAG AA contrast. A
//! screenshot of each page is saved under the target directory
//! (`CARGO_TARGET_TMPDIR/browser`).

use archy_tests as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use archy_node::client::NodeClient;
use archy_node::data_dir::DataDir;
use archy_tests::podman::{Mode, Podman, containers_conf};
use common::{Running, s, wait_until};
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::runtime::Runtime;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest a step in the browser may take (an install loads an image).
const STEP: Duration = Duration::from_secs(300);

/// Where the screenshots go.
fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it gives a value, for at most `within`; `None`
/// when it never did (the caller says what it waited for).
async fn poll_until<T, F: Future<Output = Option<T>>>(
    within: Duration,
    mut check: impl FnMut() -> F,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// chromedriver on a free port, and a headless chromium session on it.
async fn browser(profile: &Path) -> (Running, Client) {
    let port = free_port();
    let driver = Running::spawn(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .expect("chromedriver starts");
    let listening = poll_until(Duration::from_secs(30), || async {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    })
    .await;
    assert!(listening.is_some(), "chromedriver listens within 30 s");
    // As root, without the sandbox; without background networking, since
    // this machine's network is closed.
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect::<Vec<_>>();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"binary": CHROMIUM, "args": args}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a chromium session");
    (driver, client)
}

/// Waits until `css` matches a displayed element, and returns it.
async fn shown(client: &Client, css: &str) -> fantoccini::elements::Element {
    let found = poll_until(STEP, || async {
        let element = client.find(Locator::Css(css)).await.ok()?;
        element
            .is_displayed()
            .await
            .unwrap_or(false)
            .then_some(element)
    })
    .await;
    match found {
        Some(element) => element,
        None => panic!(
            "{css} shown within {STEP:?} on {}",
            client
                .current_url()
                .await
                .map_or_else(|e| e.to_string(), |u| u.to_string())
        ),
    }
}

/// Waits until the browser is on a page whose URL contains `part`.
async fn on_page(client: &Client, part: &str) {
    let there = poll_until(STEP, || async {
        let url = client.current_url().await.unwrap();
        url.as_str().contains(part).then_some(())
    })
    .await;
    if there.is_none() {
        let url = client.current_url().await.unwrap();
        panic!("on {part} within {STEP:?}, still on {url}");
    }
}

/// Saves a screenshot of what the browser shows as `name`.png.
async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Run in the page: every visible piece of text whose contrast with what
/// is behind it (backgrounds composited from the root down) is below WCAG
/// AA, 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). Each entry
/// names the element, its text and its ratio.
const CONTRAST_BELOW_AA: &str = r#"
const parse = (c) => {
  const m = c.match(/^rgba?\(([^)]+)\)$/);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const over = (top, bottom) => ({
  r: top.r * top.a + bottom.r * (1 - top.a),
  g: top.g * top.a + bottom.g * (1 - top.a),
  b: top.b * top.a + bottom.b * (1 - top.a),
  a: 1,
});
const luminance = (c) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
};
const behind = (el) => {
  const chain = [];
  for (let e = el; e; e = e.parentElement) chain.unshift(e);
  let bg = { r: 255, g: 255, b: 255, a: 1 };
  for (const e of chain) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c === null) return null;
    if (c.a > 0) bg = over(c, bg);
  }
  return bg;
};
const below = [];
const seen = new Set();
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
while (walker.nextNode()) {
  const text = walker.currentNode.textContent.trim();
  const el = walker.currentNode.parentElement;
  if (!text || seen.has(el)) continue;
  seen.add(el);
  const style = getComputedStyle(el);
  if (el.closest("[hidden]") || style.visibility === "hidden" || el.getClientRects().length === 0) continue;
  const name = `${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} "${text.slice(0, 40)}"`;
  const fg = parse(style.color);
  const bg = behind(el);
  if (fg === null || bg === null) { below.push(`${name}: colours not read (${style.color} on ${style.backgroundColor})`); continue; }
  const [a, b] = [luminance(over(fg, bg)), luminance(bg)];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
  const needed = large ? 3 : 4.5;
  if (ratio < needed) below.push(`${name}: ${ratio.toFixed(2)} < ${needed}`);
}
return below;
"#;

/// Checks that every visible text on the page meets WCAG AA contrast.
async fn readable(client: &Client, page: &str) {
    let below = client.execute(CONTRAST_BELOW_AA, vec![]).await.unwrap();
    assert_eq!(
        below,
        serde_json::json!([]),
        "{page}: text below WCAG AA contrast"
    );
}

/// The page's text.
async fn text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn a_person_installs_hello_web_from_the_marketplace_opens_it_and_removes_it() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI installs chromium and chromium-driver (scripts/install-deps.sh)"
        );
        eprintln!(
            "SKIPPED: no chromium or chromedriver here (scripts/install-deps.sh installs them)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(podman) = Podman::start(Mode::Rootful, tmp.path()) else {
        return;
    };
    let data = tmp.path().join("node");
    let api = format!("127.0.0.1:{}", free_port());
    let daemon = || {
        Running::spawn(
            Command::new(common::archy_bin())
                .args(["node", "run", "--demo", "--data-dir", s(&data)])
                .args(["--demo-apps", s(&common::repo().join("apps"))])
                .args(["--relay-port", "0", "--api", &api])
                .args(["--reconcile-every", "1"])
                .env("ARCHY_PODMAN_SOCKET", &podman.socket)
                .env("CONTAINERS_CONF", containers_conf())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("archy node run --demo starts")
    };
    let mut running = daemon();
    let runtime = Runtime::new().unwrap();
    let data_dir = DataDir::open(&data).unwrap();
    let client = wait_until("the demo node's API", 60, || {
        runtime.block_on(NodeClient::find(&data_dir)).ok().flatten()
    });
    wait_until("the demo's three apps in the market", 60, || {
        let page: serde_json::Value = runtime.block_on(client.get("/api/market")).ok()?;
        (page["total"] == 3).then_some(())
    });
    let token = std::fs::read_to_string(data.join("api.token")).unwrap();
    let base = format!("http://{}", client.addr());

    let running = runtime.block_on(async {
        let (_driver, browser) = browser(&tmp.path().join("profile")).await;
        // Logging in brings the person to Discover.
        browser.goto(&base).await.unwrap();
        shown(&browser, "input#token")
            .await
            .send_keys(token.trim())
            .await
            .unwrap();
        screenshot(&browser, "1-login").await;
        readable(&browser, "login").await;
        // The check does see faint text when there is some.
        let caught = browser
            .execute(
                &format!(
                    "const p = document.createElement('p'); p.style.color = '#aaaaaa'; \
                     p.textContent = 'faint'; document.body.append(p); \
                     const below = (() => {{ {CONTRAST_BELOW_AA} }})(); p.remove(); return below;"
                ),
                vec![],
            )
            .await
            .unwrap();
        assert!(
            caught.to_string().contains("faint"),
            "faint text is caught: {caught}"
        );
        browser
            .find(Locator::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        shown(&browser, "li.card").await;
        screenshot(&browser, "2-discover").await;
        readable(&browser, "Discover").await;
        for (path, name) in [("/settings", "settings"), ("/peers", "peers")] {
            browser.goto(&format!("{base}{path}")).await.unwrap();
            shown(&browser, "main h1").await;
            screenshot(&browser, &format!("2-{name}")).await;
            readable(&browser, name).await;
        }
        browser.goto(&base).await.unwrap();
        shown(&browser, "li.card").await;
        // At 360 px wide nothing runs off the side.
        browser.set_window_size(360, 800).await.unwrap();
        let overflow = browser
            .execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(overflow, serde_json::json!(0), "Discover at 360 px");
        screenshot(&browser, "2-discover-360px").await;
        browser.set_window_size(1280, 1000).await.unwrap();

        // Search, and open hello-web.
        shown(&browser, "input#q")
            .await
            .send_keys("hello")
            .await
            .unwrap();
        browser
            .find(Locator::Css("form.search button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        on_page(&browser, "q=hello").await;
        let card = shown(&browser, "li.card h2 a").await;
        assert!(
            card.text().await.unwrap().contains("Hello"),
            "{}",
            text(&browser).await
        );
        card.click().await.unwrap();
        on_page(&browser, "/app/").await;
        let install = shown(&browser, "form[action='/install'] button").await;
        let page = text(&browser).await;
        for words in [
            "Why trust it",
            "trusted",
            "What it asks of this machine",
            "opens port 8080",
            "1.0.0 · newest",
            "First release: one page on port 8080",
        ] {
            assert!(page.contains(words), "{words:?} on the app's page: {page}");
        }
        // The icon is the app's own (96 px square), not the monogram drawn
        // for apps without one (48 px).
        let icons = browser
            .execute(
                "return [...document.querySelectorAll('img.icon')].map(i => i.complete ? i.naturalWidth : -1)",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(icons, serde_json::json!([96]), "hello-web's icon");
        screenshot(&browser, "3-app").await;
        readable(&browser, "the app's page").await;

        // Install: the progress reaches Running, and Open leads to the app.
        install.click().await.unwrap();
        on_page(&browser, "/operations/").await;
        shown(&browser, "progress#progress").await;
        screenshot(&browser, "4-installing").await;
        readable(&browser, "install progress").await;
        let open = shown(&browser, "#done a#open").await;
        let first = browser
            .execute("return window.archyFirstEventMs ?? null", vec![])
            .await
            .unwrap();
        // A figure for docs/benchmarks.md, not an assertion.
        eprintln!("install click to first progress event on screen: {first} ms");
        screenshot(&browser, "5-running").await;
        let href = open.attr("href").await.unwrap().unwrap_or_default();
        assert!(
            href.ends_with(":8080/"),
            "Open points at the app's port: {href}"
        );
        open.click().await.unwrap();
        on_page(&browser, ":8080/").await;
        let own_page = poll_until(STEP, || async {
            if text(&browser).await.contains("Hello from Archipelago") {
                return Some(());
            }
            browser.refresh().await.unwrap();
            None
        })
        .await;
        assert!(own_page.is_some(), "the app's own page within {STEP:?}");
        screenshot(&browser, "6-the-app").await;

        // My Apps shows it. With the node stopped, the page keeps the list
        // and says it is offline; once the node is back, it carries on, in
        // the same page (no reload) and the same session.
        browser.goto(&format!("{base}/apps")).await.unwrap();
        let row = "li.app-row[data-app='org.archipelago.hello-web']";
        shown(&browser, row).await;
        screenshot(&browser, "7-my-apps").await;
        readable(&browser, "My Apps").await;
        browser
            .execute("window.archyStillHere = true", vec![])
            .await
            .unwrap();
        running.stop();
        shown(&browser, "#offline").await;
        assert!(
            browser
                .find(Locator::Css(row))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap()
        );
        screenshot(&browser, "8-offline").await;
        readable(&browser, "My Apps offline").await;
        running = daemon();
        let online = poll_until(STEP, || async {
            let offline = browser.find(Locator::Css("#offline")).await.unwrap();
            (!offline.is_displayed().await.unwrap()).then_some(())
        })
        .await;
        assert!(online.is_some(), "My Apps back online within {STEP:?}");
        let same = browser
            .execute("return window.archyStillHere === true", vec![])
            .await
            .unwrap();
        assert_eq!(
            same,
            serde_json::Value::Bool(true),
            "recovered without a reload"
        );
        assert!(
            browser
                .find(Locator::Css(row))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap()
        );
        screenshot(&browser, "9-back-online").await;
        browser
            .find(Locator::Css(
                "button[aria-label='Uninstall org.archipelago.hello-web']",
            ))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        on_page(&browser, "/operations/").await;
        shown(&browser, "#done").await;
        browser.goto(&format!("{base}/apps")).await.unwrap();
        let gone = poll_until(STEP, || async {
            text(&browser)
                .await
                .contains("No apps are installed")
                .then_some(())
        })
        .await;
        assert!(gone.is_some(), "hello-web gone from My Apps");
        screenshot(&browser, "10-removed").await;
        browser.close().await.unwrap();
        running
    });
    running.stop();
}
