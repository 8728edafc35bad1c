//! Behaviour of manifest reading, one test per rule in docs/manifest-spec.md.

use super::*;

const ALICE: &str = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";

fn valid() -> String {
    format!(
        r#"manifest_version: 1
id: org.example.notes
version: 1.2.3
title: Notes
summary: Keep notes
description: |
  Longer text.
publisher: {ALICE}
license: MIT
homepage: https://example.org/notes
icon: icon.svg
containers:
  - name: db
    image: db.tar
    volumes:
      - name: data
        mount: /var/lib/db
    health:
      tcp:
        port: 5432
  - name: web
    image: web.tar
    command: [httpd, -f]
    env:
      MODE: prod
      EMPTY: ""
    ports:
      - container: 8080
        host: 8080
    secrets: [token]
    user: "1000:1000"
    capabilities: [NET_BIND_SERVICE]
    health:
      http:
        port: 8080
        path: /health
      interval_secs: 5
    stop_grace_secs: 3
    depends_on: [db]
generated_secrets:
  - name: token
    length: 48
dependencies:
  - id: org.example.base
    version: ^1.0
permissions: [internet]
release_notes: |
  Search across notes.
"#
    )
}

fn problems(yaml: &str) -> Vec<String> {
    match Manifest::from_yaml(yaml, "m.yml", Form::Source) {
        Ok(_) => vec![],
        Err(d) => d.to_string().lines().map(str::to_owned).collect(),
    }
}

/// Asserts that `yaml` is refused with one problem containing every part.
fn refused(yaml: &str, parts: &[&str]) {
    let found = problems(yaml);
    assert!(
        found
            .iter()
            .any(|p| parts.iter().all(|part| p.contains(part))),
        "expected a problem with {parts:?}, got {found:#?}"
    );
}

#[test]
fn valid_manifest_reads_with_defaults() {
    let m = Manifest::from_yaml(&valid(), "m.yml", Form::Source).unwrap();
    assert_eq!(m.id, "org.example.notes");
    assert_eq!(m.containers.len(), 2);
    assert_eq!(m.containers[0].stop_grace_secs, 10);
    assert_eq!(m.containers[1].ports[0].protocol, Protocol::Tcp);
    let health = m.containers[1].health.as_ref().unwrap();
    assert_eq!(
        (health.interval_secs, health.timeout_secs, health.retries),
        (5, 5, 3)
    );
    assert_eq!(m.generated_secrets[0].charset, Charset::Alphanumeric);
    assert_eq!(m.containers[1].env["EMPTY"], "");
    assert_eq!(m.release_notes.as_deref(), Some("Search across notes.\n"));
}

#[test]
fn json_form_reads_back_the_same_manifest() {
    let m = Manifest::from_yaml(&valid(), "m.yml", Form::Source).unwrap();
    let value = serde_json::to_value(&m).unwrap();
    assert_eq!(
        Manifest::from_json(value, "m.json", Form::Source).unwrap(),
        m
    );
}

#[test]
fn unknown_field_is_refused_with_position() {
    refused(
        &valid().replace("license: MIT", "license: MIT\nlicence: MIT"),
        &["m.yml:10:1: licence: unknown field 'licence'"],
    );
}

#[test]
fn missing_required_field_is_named() {
    refused(
        &valid().replace("title: Notes\n", ""),
        &["title: missing required field 'title'"],
    );
}

#[test]
fn bad_semver_is_refused() {
    refused(
        &valid().replace("version: 1.2.3", "version: 1.0"),
        &["m.yml:3:10: version:", "not a semantic version"],
    );
}

#[test]
fn bad_app_id_is_refused() {
    refused(
        &valid().replace("id: org.example.notes", "id: Notes"),
        &["id:", "reverse-DNS"],
    );
}

#[test]
fn bad_publisher_did_names_the_did_problem() {
    refused(
        &valid().replace(ALICE, "did:web:example.org"),
        &["publisher:", "wrong prefix"],
    );
}

#[test]
fn duplicate_container_names_are_refused() {
    refused(
        &valid().replace("- name: web", "- name: db"),
        &["containers[1].name", "duplicate container 'db'"],
    );
}

#[test]
fn ports_out_of_range_are_refused() {
    refused(
        &valid().replace("container: 8080", "container: 70000"),
        &["containers[1].ports[0].container", "from 1 to 65535"],
    );
    refused(
        &valid().replace("host: 8080", "host: 0"),
        &["containers[1].ports[0].host", "from 1 to 65535"],
    );
}

#[test]
fn depends_on_cycles_are_refused_with_the_loop() {
    let yaml = valid().replace(
        "    volumes:\n      - name: data",
        "    depends_on: [web]\n    volumes:\n      - name: data",
    );
    refused(&yaml, &["depends_on cycle: ", "db -> web -> db"]);
}

#[test]
fn depends_on_unknown_container_is_refused() {
    refused(
        &valid().replace("depends_on: [db]", "depends_on: [cache]"),
        &["containers[1].depends_on[0]", "no container named 'cache'"],
    );
}

#[test]
fn volume_path_escaping_the_data_dir_is_refused() {
    let yaml = valid().replace(
        "mount: /var/lib/db",
        "mount: /var/lib/db\n        path: ../etc",
    );
    refused(
        &yaml,
        &[
            "m.yml:18:15: containers[0].volumes[0].path:",
            "escapes the app's data dir",
        ],
    );
}

#[test]
fn absolute_host_volume_path_is_refused() {
    let yaml = valid().replace(
        "mount: /var/lib/db",
        "mount: /var/lib/db\n        path: /etc",
    );
    refused(
        &yaml,
        &["containers[0].volumes[0].path", "absolute host path '/etc'"],
    );
}

#[test]
fn engine_socket_mounts_are_refused() {
    let host = valid().replace(
        "mount: /var/lib/db",
        "mount: /var/lib/db\n        path: /var/run/docker.sock",
    );
    refused(&host, &["containers[0].volumes[0].path", "never mounted"]);
    let inside = valid().replace("mount: /var/lib/db", "mount: /run/podman/podman.sock");
    refused(
        &inside,
        &["containers[0].volumes[0].mount", "never mounted"],
    );
}

#[test]
fn privileged_mode_is_refused() {
    refused(
        &valid().replace(
            "    image: web.tar",
            "    image: web.tar\n    privileged: true",
        ),
        &[
            "containers[1].privileged",
            "privileged mode is never allowed",
        ],
    );
}

#[test]
fn host_network_is_refused() {
    refused(
        &valid().replace(
            "    image: web.tar",
            "    image: web.tar\n    network_mode: host",
        ),
        &[
            "containers[1].network_mode",
            "host network is never allowed",
        ],
    );
}

#[test]
fn capability_outside_the_allow_list_is_refused() {
    refused(
        &valid().replace("[NET_BIND_SERVICE]", "[SYS_ADMIN]"),
        &[
            "containers[1].capabilities[0]",
            "'SYS_ADMIN' is not on the allow-list",
        ],
    );
    refused(
        &valid().replace("[NET_BIND_SERVICE]", "[CAP_NET_BIND_SERVICE]"),
        &["without the CAP_ prefix"],
    );
}

#[test]
fn more_than_64_containers_are_refused() {
    let mut yaml = valid().split("containers:").next().unwrap().to_owned() + "containers:\n";
    for i in 0..65 {
        yaml += &format!("  - name: c{i}\n    image: c.tar\n");
    }
    refused(&yaml, &["containers:", "has 65 items; the limit is 64"]);
}

#[test]
fn files_over_256_kib_are_refused() {
    let yaml = valid() + &format!("# {}\n", "x".repeat(MAX_MANIFEST_BYTES));
    refused(&yaml, &["m.yml: ", "a manifest may have at most 262144"]);
}

#[test]
fn undeclared_secret_is_refused() {
    refused(
        &valid().replace("secrets: [token]", "secrets: [other]"),
        &[
            "containers[1].secrets[0]",
            "not declared in generated_secrets",
        ],
    );
}

#[test]
fn quoted_number_is_not_a_number() {
    refused(
        &valid().replace("port: 5432", "port: \"5432\""),
        &[
            "containers[0].health.tcp.port",
            "expected a number, found quoted text",
        ],
    );
}

#[test]
fn health_needs_exactly_one_check() {
    let both = valid().replace(
        "      tcp:\n        port: 5432",
        "      tcp:\n        port: 5432\n      cmd: [true]",
    );
    refused(&both, &["containers[0].health", "more than one check"]);
}

#[test]
fn every_problem_is_listed_at_once() {
    let yaml = valid()
        .replace("version: 1.2.3", "version: one")
        .replace("[NET_BIND_SERVICE]", "[SYS_ADMIN]")
        .replace("container: 8080", "container: 0")
        .replace("license: MIT", "license: MIT\nextra: 1");
    let found = problems(&yaml);
    assert_eq!(found.len(), 4, "{found:#?}");
    // Sorted by position in the file.
    assert!(
        found[0].contains("version") && found[3].contains("capabilities[0]"),
        "{found:#?}"
    );
}

#[test]
fn published_form_is_expected_where_asked() {
    let err = Manifest::from_yaml(&valid(), "m.yml", Form::Published)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("containers[0].image: expected the published form"),
        "{err}"
    );
    assert!(err.contains("icon: expected the published form"), "{err}");
}

#[test]
fn source_form_refuses_a_hash_where_a_path_is_expected() {
    let hash = "a".repeat(64);
    let yaml = valid().replace(
        "image: db.tar",
        &format!("image:\n      blake3: {hash}\n      size: 10\n      id: sha256:{hash}"),
    );
    refused(
        &yaml,
        &[
            "containers[0].image",
            "expected a path to a `podman save` archive",
        ],
    );
}

#[test]
fn yaml_syntax_errors_have_positions() {
    refused("id: [unclosed\n", &["m.yml:2:", "YAML syntax"]);
}

#[test]
fn yes_and_no_stay_text() {
    // YAML 1.1 would read `no` as false; the schema decides it is text.
    let m = Manifest::from_yaml(
        &valid().replace("title: Notes", "title: no"),
        "m.yml",
        Form::Source,
    )
    .unwrap();
    assert_eq!(m.title, "no");
}
