//! The node's HTTP API, served by a real `Node` started in this process on
//! a fresh data directory, asked over real TCP on loopback with plain
//! HTTP/1.1 written by hand, so every header (a foreign `Host`, a false
//! `Content-Length`) is exactly what the test says.

use archy_tests as common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use archy_node::config::NodeConfig;
use archy_node::data_dir::DataDir;
use archy_node::node::Node;
use common::{json, s};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

/// A node with its embedded relay on a free port, no podman, and the API
/// on a free loopback port.
fn start(runtime: &Runtime, data: &Path) -> (Node, SocketAddr, String) {
    let mut config = NodeConfig::default();
    config.relay.port = 0;
    config.apps.enabled = false;
    config.api.listen = Some("127.0.0.1:0".parse().unwrap());
    let node = runtime
        .block_on(Node::start(DataDir::open(data).unwrap(), None, config))
        .expect("the node starts");
    let addr = node.api_addr().expect("the API runs");
    let token = std::fs::read_to_string(data.join("api.token"))
        .unwrap()
        .trim()
        .to_owned();
    (node, addr, token)
}

/// One request; the status and the body as JSON (Null if it is not).
async fn request(addr: SocketAddr, head: &str, body: &str) -> (u16, Value) {
    let (status, _, body) = request_with_head(addr, head, body).await;
    (status, body)
}

/// One request; the status, the answer's head and its body as JSON.
async fn request_with_head(addr: SocketAddr, head: &str, body: &str) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let text = format!("{head}Connection: close\r\n\r\n{body}");
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the API answers within 30 s")
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        status,
        head.to_owned(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// `GET path` with `token` (if any) and the right `Host`.
async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, Value) {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}"),
        "",
    )
    .await
}

/// Every error is `{"error": text, "causes": [...]}`.
fn is_error(body: &Value, says: &str) -> bool {
    body["error"].as_str().is_some_and(|e| e.contains(says)) && body["causes"].is_array()
}

#[test]
fn every_route_but_health_needs_the_token_and_a_foreign_host_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, tmp.path());
    runtime.block_on(async {
        let (status, body) = get(addr, "/api/health", None).await;
        assert_eq!((status, &body["status"]), (200, &Value::from("ok")));

        for path in [
            "/api/node",
            "/api/market",
            "/api/peers",
            "/api/blobs",
            "/api/openapi.json",
        ] {
            let (status, body) = get(addr, path, None).await;
            assert_eq!(status, 401, "{path} without a token");
            assert!(is_error(&body, "Bearer"), "{path}: {body}");
            let (status, _) = get(addr, path, Some("0".repeat(64).as_str())).await;
            assert_eq!(status, 401, "{path} with a wrong token");
            let (status, _) = get(addr, path, Some(&token)).await;
            assert_eq!(status, 200, "{path} with the token");
        }

        let (status, body) = get(addr, "/api/node", Some(&token)).await;
        assert_eq!(status, 200);
        assert_eq!(body["did"], node.did().to_string());
        assert_eq!(body["api"], addr.to_string());

        // DNS rebinding: a page on another site sends its own name.
        for host in ["evil.example", "evil.example:80", "localhost.evil.example"] {
            let head = format!(
                "GET /api/node HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            );
            let (status, body) = request(addr, &head, "").await;
            assert_eq!(status, 403, "Host {host}");
            assert!(is_error(&body, host), "{body}");
        }
        let head = format!(
            "GET /api/node HTTP/1.1\r\nHost: localhost:{}\r\nAuthorization: Bearer {token}\r\n",
            addr.port()
        );
        assert_eq!(
            request(addr, &head, "").await.0,
            200,
            "localhost is this node"
        );
    });
    runtime.block_on(node.shutdown());
}

/// A browser logs in with the token and gets a session cookie; reading
/// with the cookie works, a change needs the session's CSRF token too (a
/// page on another site can make the browser send the cookie, not read
/// the token), and logging out ends the session.
#[test]
fn a_cookie_session_needs_its_csrf_token_for_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, tmp.path());
    runtime.block_on(async {
        let login = |token: String| async move {
            let body = format!("{{\"token\": \"{token}\"}}");
            let head = format!(
                "POST /api/session HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
            request_with_head(addr, &head, &body).await
        };
        let (status, _, body) = login("0".repeat(64)).await;
        assert_eq!(status, 401, "{body}");
        let (status, head, body) = login(token.clone()).await;
        assert_eq!(status, 200, "{body}");
        let csrf = body["csrf"].as_str().unwrap().to_owned();
        let set = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_owned();

        let with_cookie = |method: &str, path: &str, extra: &str, body: &str| {
            format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n{extra}\
                 Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
        };
        let (status, body) = request(addr, &with_cookie("GET", "/api/apps", "", ""), "").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = request(addr, &with_cookie("GET", "/api/session", "", ""), "").await;
        assert_eq!((status, body["csrf"].as_str()), (200, Some(csrf.as_str())));

        // A change without the CSRF token, or with a wrong one: 403.
        let install = r#"{"app": "not a name"}"#;
        for extra in [String::new(), "X-CSRF-Token: forged\r\n".to_owned()] {
            let head = with_cookie("POST", "/api/apps", &extra, install);
            let (status, body) = request(addr, &head, install).await;
            assert_eq!(status, 403, "{extra}: {body}");
            assert!(is_error(&body, "CSRF"), "{body}");
        }
        // With it, the request reaches the handler (which finds the name
        // wrong: 422).
        let extra = format!("X-CSRF-Token: {csrf}\r\n");
        let (status, body) = request(
            addr,
            &with_cookie("POST", "/api/apps", &extra, install),
            install,
        )
        .await;
        assert_eq!(status, 422, "{body}");

        let (status, _) =
            request(addr, &with_cookie("DELETE", "/api/session", &extra, ""), "").await;
        assert_eq!(status, 204);
        let (status, _) = request(addr, &with_cookie("GET", "/api/apps", "", ""), "").await;
        assert_eq!(status, 401, "the session ended");
    });
    runtime.block_on(node.shutdown());
}

#[test]
fn oversized_bodies_unknown_routes_and_bad_parameters_get_clear_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, tmp.path());
    runtime.block_on(async {
        let head = format!(
            "POST /api/market HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000000\r\n"
        );
        let (status, body) = request(addr, &head, "{}").await;
        assert_eq!(status, 413);
        assert!(is_error(&body, "at most"), "{body}");

        let (status, body) = get(addr, "/api/no-such-thing", Some(&token)).await;
        assert_eq!(status, 404);
        assert!(is_error(&body, "/api/no-such-thing"), "{body}");

        let (status, body) = get(addr, "/api/market/did:key:z6Mkx/org.none", Some(&token)).await;
        assert_eq!(status, 404);
        assert!(is_error(&body, "org.none"), "{body}");

        for (query, says) in [
            ("page=0", "page"),
            ("page=lots", "page"),
            ("per_page=1001", "per_page"),
            ("page=2&offset=3", "not both"),
        ] {
            let (status, body) = get(addr, &format!("/api/market?{query}"), Some(&token)).await;
            assert_eq!(status, 422, "{query}");
            assert!(is_error(&body, says), "{query}: {body}");
        }
    });
    runtime.block_on(node.shutdown());
}

#[test]
fn too_many_wrong_tokens_are_answered_429_but_the_right_one_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, tmp.path());
    runtime.block_on(async {
        let wrong = "f".repeat(64);
        let mut statuses = Vec::new();
        for _ in 0..=archy_node::api::guard::MAX_FAILURES {
            statuses.push(get(addr, "/api/node", Some(&wrong)).await.0);
        }
        assert!(statuses[..statuses.len() - 1].iter().all(|s| *s == 401));
        assert_eq!(statuses.last(), Some(&429));
        assert_eq!(get(addr, "/api/node", Some(&token)).await.0, 200);
    });
    runtime.block_on(node.shutdown());
}

#[test]
fn the_openapi_document_is_3_1_and_lists_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, tmp.path());
    let (status, doc) = runtime.block_on(get(addr, "/api/openapi.json", Some(&token)));
    runtime.block_on(node.shutdown());
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in [
        ("get", "/api/health"),
        ("get", "/api/node"),
        ("get", "/api/market"),
        ("get", "/api/market/{did}/{app}"),
        ("get", "/api/market/stats"),
        ("get", "/api/apps"),
        ("post", "/api/apps"),
        ("get", "/api/apps/{id}"),
        ("delete", "/api/apps/{id}"),
        ("post", "/api/apps/{id}/{action}"),
        ("get", "/api/operations"),
        ("get", "/api/operations/{id}"),
        ("get", "/api/operations/{id}/events"),
        ("get", "/api/journal"),
        ("get", "/api/peers"),
        ("get", "/api/peers/met"),
        ("get", "/api/peers/split-views"),
        ("post", "/api/peers/invite"),
        ("post", "/api/peers/join"),
        ("delete", "/api/peers/{did}"),
        ("get", "/api/blobs"),
        ("get", "/api/trust"),
        ("get", "/api/trust/{did}"),
        ("get", "/api/trust/{did}/{app}"),
        ("get", "/api/trust/lists"),
        ("post", "/api/trust/lists"),
        ("put", "/api/trust/lists/{did}"),
        ("delete", "/api/trust/lists/{did}"),
        ("get", "/api/openapi.json"),
        ("post", "/api/session"),
        ("get", "/api/session"),
        ("delete", "/api/session"),
    ] {
        assert!(
            paths.get(path).is_some_and(|p| p.get(method).is_some()),
            "{method} {path} is missing from the OpenAPI document"
        );
    }
    // Every documented path answers (not the fallback's 404).
    let (node, addr, token) = start(&runtime, &tmp.path().join("again"));
    runtime.block_on(async {
        for path in paths.keys().filter(|p| !p.contains('{')) {
            assert_ne!(get(addr, path, Some(&token)).await.0, 404, "{path}");
        }
        node.shutdown().await;
    });
}

#[test]
fn the_market_over_the_api_is_what_the_cli_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let common::PackedApp {
        dir,
        key,
        did,
        catalog,
        ..
    } = common::packed_in_catalog(tmp.path(), "hello-web");
    let data = tmp.path().join("node");
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, &data);
    let relay = node
        .relay_url()
        .expect("the embedded relay runs")
        .to_owned();
    json(&[
        "app",
        "publish",
        s(&dir),
        "--key",
        s(&key),
        "--relay",
        &relay,
        "--catalog",
        s(&catalog),
        "--category",
        "web",
    ]);
    let app = "org.archipelago.hello-web";
    let page = common::wait_until("the listing over the API", 30, || {
        let (status, page) = runtime.block_on(get(addr, "/api/market?q=hello", Some(&token)));
        assert_eq!(status, 200, "{page}");
        (page["total"] == 1).then_some(page)
    });
    assert_eq!(page["listings"][0]["app_id"], app);
    assert_eq!(page["listings"][0]["did"], did);

    let cli = json(&["market", "search", "hello", "--data-dir", s(&data)]);
    assert_eq!(
        cli["listings"], page["listings"],
        "the CLI and the API agree"
    );

    let in_web = runtime
        .block_on(get(addr, "/api/market?category=web", Some(&token)))
        .1;
    assert_eq!(in_web["total"], 1);
    let in_media = runtime
        .block_on(get(addr, "/api/market?category=media", Some(&token)))
        .1;
    assert_eq!(in_media["total"], 0);

    let (status, detail) =
        runtime.block_on(get(addr, &format!("/api/market/{did}/{app}"), Some(&token)));
    assert_eq!(status, 200, "{detail}");
    let shown = json(&[
        "market",
        "show",
        &format!("{did}/{app}"),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(detail["listing"]["release"], shown["listing"]["release"]);
    assert_eq!(detail["root"], shown["root"]);
    runtime.block_on(node.shutdown());
}

#[test]
fn two_nodes_run_in_one_process_each_with_its_own_directory_ports_and_token() {
    let tmp = tempfile::tempdir().unwrap();
    let runtime = Runtime::new().unwrap();
    let (a, a_addr, a_token) = start(&runtime, &tmp.path().join("a"));
    let (b, b_addr, b_token) = start(&runtime, &tmp.path().join("b"));
    assert_ne!(a.did(), b.did());
    assert_ne!(a_addr, b_addr);
    assert_ne!(a.relay_url(), b.relay_url());
    runtime.block_on(async {
        assert_eq!(
            get(a_addr, "/api/node", Some(&a_token)).await.1["did"],
            a.did().to_string()
        );
        assert_eq!(
            get(b_addr, "/api/node", Some(&b_token)).await.1["did"],
            b.did().to_string()
        );
        assert_eq!(
            get(b_addr, "/api/node", Some(&a_token)).await.0,
            401,
            "a's token is not b's"
        );
        a.shutdown().await;
        // b goes on when a has stopped.
        assert_eq!(get(b_addr, "/api/health", None).await.0, 200);
        b.shutdown().await;
    });
}

/// A published hello-web: its catalog served by the publisher's own node.
fn served_app(tmp: &Path) -> (common::PackedApp, common::NodeProcess) {
    let app = common::packed_in_catalog(tmp, "hello-web");
    let origin = serve(&app);
    (app, origin)
}

/// Lists `app` on `node`'s relay with the root of `catalog`, and
/// `provider` (a node ticket) if given.
fn publish(app: &common::PackedApp, node: &Node, catalog: &Path, provider: Option<&str>) {
    let relay = node.relay_url().expect("the embedded relay runs");
    let mut args = vec![
        "app",
        "publish",
        s(&app.dir),
        "--key",
        s(&app.key),
        "--relay",
        relay,
        "--catalog",
        s(catalog),
    ];
    args.extend(provider.iter().flat_map(|p| ["--provider", *p]));
    common::json(&args);
}

/// The publisher's own node, serving `app`'s catalog.
fn serve(app: &common::PackedApp) -> common::NodeProcess {
    common::NodeProcess::start(
        &app.origin_data,
        &[
            "--key",
            s(&app.key),
            "--catalog",
            s(&app.catalog),
            "--no-apps",
            "--no-relay",
            "--no-api",
        ],
    )
}

/// `POST path` with `body` as JSON, with the token.
fn post(
    runtime: &Runtime,
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let text = body.to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        text.len()
    );
    runtime.block_on(request(addr, &head, &text))
}

/// Follows operation `op` on the node at `addr` to its end.
fn outcome(
    runtime: &Runtime,
    addr: SocketAddr,
    token: &str,
    op: &Value,
) -> archy_node::operations::Event {
    let client = archy_node::client::NodeClient::new(addr, token.to_owned()).unwrap();
    let id = op["operation"].as_u64().expect("an operation id");
    runtime.block_on(client.follow(id, &mut |_| {})).unwrap()
}

#[test]
fn a_second_root_for_a_publisher_the_node_fetched_from_is_refused_and_shown() {
    use archy_node::operations::Event;
    let tmp = tempfile::tempdir().unwrap();
    let (app, origin) = served_app(tmp.path());
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, &tmp.path().join("node"));
    let did = app.did.as_str();
    let fetch = serde_json::json!({
        "release": format!("{did}/org.archipelago.hello-web"),
        "origin": origin.ticket,
    });

    // A first fetch pins the origin's catalog root.
    let (status, op) = post(&runtime, addr, &token, "/api/fetch", &fetch);
    assert_eq!(status, 202, "{op}");
    assert!(matches!(
        outcome(&runtime, addr, &token, &op),
        Event::Succeeded { .. }
    ));

    // Discovery adopted the fetch's root. Another catalog under the same
    // key (so another root 1) is announced on the node's relay: refused
    // as a conflict, and shown.
    let other = tmp.path().join("other-catalog");
    common::ok(&[
        "catalog",
        "init",
        s(&other),
        "--key",
        s(&app.key),
        "--root-expiry",
        "300d",
    ]);
    publish(&app, &node, &other, None);
    let pins = common::wait_until("discovery to refuse the other root", 30, || {
        let (_, pins) = runtime.block_on(get(addr, "/api/publishers", Some(&token)));
        pins.as_array()
            .and_then(|all| all.iter().find(|p| p["did"] == did).cloned())
            .filter(|p| p["refused"].as_array().is_some_and(|r| !r.is_empty()))
    });
    assert_eq!(pins["agree"], true, "one root for the publisher: {pins}");
    assert_eq!(pins["discovery"]["sha256"], pins["fetched"]["sha256"]);

    // Fetches from the publisher go on from the one root.
    let (_, op) = post(&runtime, addr, &token, "/api/fetch", &fetch);
    assert!(matches!(
        outcome(&runtime, addr, &token, &op),
        Event::Succeeded { .. }
    ));
    runtime.block_on(node.shutdown());
}

#[test]
fn a_listing_whose_release_disagrees_with_the_catalog_is_ignored_and_counted() {
    use archy_node::operations::Event;
    let tmp = tempfile::tempdir().unwrap();
    let (app, origin) = served_app(tmp.path());
    // The same version signed again with another summary: another release
    // hash than the catalog's, listed with the origin as provider.
    let manifest = app.dir.join("manifest.yml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("summary: ", "summary: Changed, ")).unwrap();
    common::ok(&["app", "sign", s(&app.dir), "--key", s(&app.key)]);
    let runtime = Runtime::new().unwrap();
    let (node, addr, token) = start(&runtime, &tmp.path().join("node"));
    publish(&app, &node, &app.catalog, Some(&origin.ticket));
    common::wait_for("the listing in the market", 30, || {
        runtime.block_on(get(addr, "/api/market", Some(&token))).1["total"] == 1
    });
    let release = format!("{}/org.archipelago.hello-web", app.did);

    // The listing was the only source: ignored, nothing is fetched.
    let (_, op) = post(
        &runtime,
        addr,
        &token,
        "/api/fetch",
        &serde_json::json!({ "release": release }),
    );
    let client = archy_node::client::NodeClient::new(addr, token.clone()).unwrap();
    let mut notices = Vec::new();
    let id = op["operation"].as_u64().unwrap();
    let last = runtime
        .block_on(client.follow(id, &mut |e| {
            if let Event::Notice { message } = e {
                notices.push(message.clone());
            }
        }))
        .unwrap();
    assert!(matches!(last, Event::Failed { .. }), "{last:?}");
    assert!(
        notices.iter().any(|n| n.contains("the listing is ignored")),
        "{notices:?}"
    );
    let stats = runtime
        .block_on(get(addr, "/api/market/stats", Some(&token)))
        .1;
    assert_eq!(
        stats["rejected"]["listing disagrees with its catalog"], 1,
        "{stats}"
    );

    // From the origin, what is fetched is the catalog's release.
    let from_origin = serde_json::json!({ "release": release, "origin": origin.ticket });
    let (_, op) = post(&runtime, addr, &token, "/api/fetch", &from_origin);
    match outcome(&runtime, addr, &token, &op) {
        Event::Succeeded { result } => assert_eq!(result["release"], app.packed["release"]),
        other => panic!("the catalog's release was not fetched: {other:?}"),
    }
    runtime.block_on(node.shutdown());
}

/// The versions a listing shows are the ones its publisher's catalog lists,
/// newest first, with their release notes and what was yanked: once the
/// node has read that catalog, and the same over the API and in the CLI.
#[test]
fn a_listing_shows_every_version_of_its_catalog_with_notes_once_read() {
    use archy_node::operations::Event;
    let tmp = tempfile::tempdir().unwrap();
    let app = common::packed_in_catalog(tmp.path(), "hello-web");
    // 1.1.0 with its own notes; then 1.0.0 is yanked.
    let manifest = app.dir.join("manifest.yml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let notes_start = text.find("release_notes: |").expect("hello-web has notes");
    let notes_end = notes_start + text[notes_start..].find("\ncontainers:").unwrap();
    let text = format!(
        "{}release_notes: |\n  Second release.\n\n  Two paragraphs.{}",
        &text[..notes_start],
        &text[notes_end..]
    )
    .replace("version: 1.0.0", "version: 1.1.0");
    std::fs::write(&manifest, text).unwrap();
    let pack = ["app", "pack", s(&app.dir), "--key", s(&app.key)];
    common::ok(&[&pack[..], &["--data-dir", s(&app.origin_data)]].concat());
    let signed = app.dir.join("manifest.signed.json");
    let add = ["catalog", "add", s(&app.catalog), s(&signed)];
    common::ok(&[&add[..], &["--key", s(&app.key)]].concat());
    common::ok(&[
        "catalog",
        "yank",
        s(&app.catalog),
        "org.archipelago.hello-web",
        "1.0.0",
        "--reason",
        "it leaked memory",
        "--key",
        s(&app.key),
    ]);
    let origin = serve(&app);

    let runtime = Runtime::new().unwrap();
    let data = tmp.path().join("node");
    let (node, addr, token) = start(&runtime, &data);
    publish(&app, &node, &app.catalog, Some(&origin.ticket));
    let path = format!("/api/market/{}/org.archipelago.hello-web", app.did);
    let detail = common::wait_until("the listing in the market", 30, || {
        let (status, detail) = runtime.block_on(get(addr, &path, Some(&token)));
        (status == 200).then_some(detail)
    });
    assert!(
        detail.get("versions").is_none(),
        "no versions before the node reads the catalog: {detail}"
    );

    // Fetching reads the catalog.
    let fetch = serde_json::json!({
        "release": format!("{}/org.archipelago.hello-web", app.did),
        "origin": origin.ticket,
    });
    let (_, op) = post(&runtime, addr, &token, "/api/fetch", &fetch);
    assert!(matches!(
        outcome(&runtime, addr, &token, &op),
        Event::Succeeded { .. }
    ));
    let detail = runtime.block_on(get(addr, &path, Some(&token))).1;
    assert_eq!(
        detail["versions"],
        serde_json::json!([
            {"version": "1.1.0", "notes": "Second release.\n\nTwo paragraphs.\n"},
            {"version": "1.0.0",
             "notes": "First release: one page on port 8080, checked healthy over HTTP.\n",
             "yanked": "it leaked memory"},
        ]),
        "{detail}"
    );
    let shown = common::json(&[
        "market",
        "show",
        &format!("{}/org.archipelago.hello-web", app.did),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(shown["versions"], detail["versions"], "the CLI agrees");
    runtime.block_on(node.shutdown());
}

/// The owner's lists over the API: one POST body puts a publisher on a
/// list or takes it off, as PUT and DELETE do, and GET shows the lists.
#[test]
fn the_owners_lists_change_with_one_post_and_show_at_once() {
    let runtime = Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (node, addr, token) = start(&runtime, &tmp.path().join("node"));
    let did = archy_trust::Identity::generate().unwrap().did();
    let change = |list: Value| {
        post(
            &runtime,
            addr,
            &token,
            "/api/trust/lists",
            &serde_json::json!({"did": did.as_str(), "list": list}),
        )
    };
    let (status, blocked) = change("block".into());
    assert_eq!((status, &blocked["band"]), (200, &Value::from("blocked")));
    let (_, lists) = runtime.block_on(get(addr, "/api/trust/lists", Some(&token)));
    assert_eq!(
        lists,
        serde_json::json!([{"did": did.as_str(), "list": "block"}])
    );
    let (_, allowed) = change("allow".into());
    assert_eq!(allowed["band"], "trusted");
    let (_, off) = change(Value::Null);
    assert_eq!(off["band"], "unknown");
    let (_, lists) = runtime.block_on(get(addr, "/api/trust/lists", Some(&token)));
    assert_eq!(lists, serde_json::json!([]));
    let (status, refused) = post(
        &runtime,
        addr,
        &token,
        "/api/trust/lists",
        &serde_json::json!({"did": "nobody", "list": "block"}),
    );
    assert!(
        status == 422 && is_error(&refused, "is not a DID"),
        "{refused}"
    );
    runtime.block_on(node.shutdown());
}
