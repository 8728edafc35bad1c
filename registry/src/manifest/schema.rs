//! The manifest schema: which fields exist, their types, defaults and
//! single-field rules. Rules that relate several fields live in
//! [`super::rules`].

use std::path::{Component, Path};

use super::read::{Cx, FieldPath, Obj, boolean, list, map, number, parsed, text};
use super::tree::{Node, NodeValue};
use super::*;

const MAX_TEXT: usize = 4096;
const MAX_LIST: usize = 256;

/// Fields people put on a container on purpose, with why they are refused.
const FORBIDDEN_CONTAINER_FIELDS: &[(&str, &str)] = &[
    (
        "privileged",
        "privileged mode is never allowed: it gives the container root on the host",
    ),
    (
        "network",
        "'network' cannot be set: each app gets its own network, and host network is never allowed",
    ),
    (
        "network_mode",
        "'network_mode' cannot be set: each app gets its own network, and host network is never allowed",
    ),
    ("pid", "sharing the host's PID namespace is never allowed"),
    ("ipc", "sharing the host's IPC namespace is never allowed"),
    ("devices", "host devices are never passed to app containers"),
    (
        "cap_add",
        "use 'capabilities' (from the allow-list) instead of 'cap_add'",
    ),
];

pub(crate) fn manifest(node: &Node, cx: &mut Cx) -> Option<Manifest> {
    let mut o = Obj::open(node, &FieldPath::Root, cx)?;
    let manifest_version = o.req(cx, "manifest_version", |n, p, cx| {
        let v = number(0u32, u32::MAX)(n, p, cx)?;
        if v != MANIFEST_VERSION {
            cx.error(n.pos, p, format!("manifest version {v} is not supported; this build reads version {MANIFEST_VERSION}"));
            return None;
        }
        Some(v)
    });
    let id = o.req(cx, "id", parsed(253, check_app_id));
    let version = o.req(
        cx,
        "version",
        parsed(256, |s| {
            semver::Version::parse(s)
                .map_err(|e| format!("'{s}' is not a semantic version (like 1.2.3): {e}"))
        }),
    );
    let title = o.req(cx, "title", text(80, false));
    let summary = o.req(cx, "summary", text(200, false));
    let description = o.opt(cx, "description", text(16 * 1024, true));
    let publisher = o.req(
        cx,
        "publisher",
        parsed(128, |s| s.parse::<Did>().map_err(|e| e.to_string())),
    );
    let license = o.req(cx, "license", text(128, false));
    let release_notes = o.opt(cx, "release_notes", text(4 * 1024, true));
    let homepage = o.opt(cx, "homepage", parsed(2048, check_url));
    let icon = o.opt(cx, "icon", file_ref);
    let containers = o.req(cx, "containers", list(MAX_CONTAINERS, container));
    let generated_secrets = o.or(cx, "generated_secrets", vec![], list(64, generated_secret));
    let dependencies = o.or(cx, "dependencies", vec![], list(64, dependency));
    let permissions = o.or(cx, "permissions", vec![], list(8, parsed(32, permission)));
    o.finish(cx, &[]);
    Some(Manifest {
        manifest_version: manifest_version?,
        id: id?,
        version: version?,
        title: title?,
        summary: summary?,
        description: description?,
        publisher: publisher?,
        license: license?,
        release_notes: release_notes?,
        homepage: homepage?,
        icon: icon?,
        containers: containers?,
        generated_secrets: generated_secrets?,
        dependencies: dependencies?,
        permissions: permissions?,
    })
}

fn container(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<Container> {
    let mut o = Obj::open(node, path, cx)?;
    let name = o.req(cx, "name", parsed(63, check_label));
    let image = o.req(cx, "image", image_ref);
    let command = o.or(cx, "command", vec![], list(MAX_LIST, text(MAX_TEXT, false)));
    let env = o.or(cx, "env", vec![], map(MAX_LIST, check_env_name, env_value));
    let ports = o.or(cx, "ports", vec![], list(64, port));
    let volumes = o.or(cx, "volumes", vec![], list(64, volume));
    let secrets = o.or(cx, "secrets", vec![], list(64, parsed(63, check_label)));
    let user = o.opt(cx, "user", parsed(64, check_user));
    let capabilities = o.or(
        cx,
        "capabilities",
        vec![],
        list(ALLOWED_CAPABILITIES.len(), parsed(32, check_capability)),
    );
    let health = o.opt(cx, "health", health);
    let stop_grace_secs = o.or(cx, "stop_grace_secs", 10, number(0u32, 600));
    let depends_on = o.or(
        cx,
        "depends_on",
        vec![],
        list(MAX_CONTAINERS, parsed(63, check_label)),
    );
    o.finish(cx, FORBIDDEN_CONTAINER_FIELDS);
    Some(Container {
        name: name?,
        image: image?,
        command: command?,
        env: env?.into_iter().collect(),
        ports: ports?,
        volumes: volumes?,
        secrets: secrets?,
        user: user?,
        capabilities: capabilities?,
        health: health?,
        stop_grace_secs: stop_grace_secs?,
        depends_on: depends_on?,
    })
}

/// Environment values may be empty (`FOO: ""`) but not contain NUL.
fn env_value(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<String> {
    match &node.value {
        NodeValue::Scalar { text, .. } if text.len() <= MAX_TEXT && !text.contains('\0') => {
            Some(text.clone())
        }
        NodeValue::Scalar { .. } => {
            cx.error(
                node.pos,
                path,
                format!("must be at most {MAX_TEXT} bytes without NUL characters"),
            );
            None
        }
        _ => {
            cx.error(
                node.pos,
                path,
                "expected text (write \"\" for an empty value)",
            );
            None
        }
    }
}

fn image_ref(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<ImageRef> {
    match &node.value {
        NodeValue::Map(_) => {
            let mut o = Obj::open(node, path, cx)?;
            let blake3 = o.req(cx, "blake3", parsed(64, str::parse));
            let size = o.req(cx, "size", number(1u64, u64::MAX));
            let id = o.req(cx, "id", parsed(71, str::parse));
            o.finish(cx, &[]);
            Some(ImageRef::Published {
                blake3: blake3?,
                size: size?,
                id: id?,
            })
        }
        _ => parsed(MAX_TEXT, |s| check_relative_file(s, "image archive"))(node, path, cx)
            .map(ImageRef::Archive),
    }
}

fn file_ref(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<FileRef> {
    match &node.value {
        NodeValue::Map(_) => {
            let mut o = Obj::open(node, path, cx)?;
            let blake3 = o.req(cx, "blake3", parsed(64, str::parse));
            let size = o.req(cx, "size", number(1u64, u64::MAX));
            o.finish(cx, &[]);
            Some(FileRef::Blob {
                blake3: blake3?,
                size: size?,
            })
        }
        _ => {
            parsed(MAX_TEXT, |s| check_relative_file(s, "file"))(node, path, cx).map(FileRef::Path)
        }
    }
}

fn port(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<Port> {
    let mut o = Obj::open(node, path, cx)?;
    let container = o.req(cx, "container", number(1u16, u16::MAX));
    let protocol = o.or(
        cx,
        "protocol",
        Protocol::Tcp,
        parsed(8, |s| match s {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(format!("'{s}' is not a protocol: use tcp or udp")),
        }),
    );
    let host = o.opt(cx, "host", number(1u16, u16::MAX));
    o.finish(cx, &[]);
    Some(Port {
        container: container?,
        protocol: protocol?,
        host: host?,
    })
}

fn volume(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<Volume> {
    let mut o = Obj::open(node, path, cx)?;
    let name = o.req(cx, "name", parsed(63, check_label));
    let mount = o.req(cx, "mount", parsed(MAX_TEXT, check_mount));
    let host_path = o.opt(cx, "path", parsed(MAX_TEXT, check_data_path));
    let read_only = o.or(cx, "read_only", false, boolean);
    o.finish(
        cx,
        &[(
            "source",
            "volumes live under the app's data dir: use 'path', relative to it",
        )],
    );
    Some(Volume {
        name: name?,
        mount: mount?,
        path: host_path?,
        read_only: read_only?,
    })
}

fn health(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<Health> {
    let mut o = Obj::open(node, path, cx)?;
    let tcp = o.opt(cx, "tcp", |n, p, cx| {
        let mut o = Obj::open(n, p, cx)?;
        let port = o.req(cx, "port", number(1u16, u16::MAX));
        o.finish(cx, &[]);
        Some(HealthCheck::Tcp { port: port? })
    });
    let http = o.opt(cx, "http", |n, p, cx| {
        let mut o = Obj::open(n, p, cx)?;
        let port = o.req(cx, "port", number(1u16, u16::MAX));
        let path = o.or(
            cx,
            "path",
            "/".to_owned(),
            parsed(2048, |s| {
                if s.starts_with('/') && !s.contains(char::is_whitespace) {
                    Ok(s.to_owned())
                } else {
                    Err(format!("'{s}' must start with '/' and contain no spaces"))
                }
            }),
        );
        o.finish(cx, &[]);
        Some(HealthCheck::Http {
            port: port?,
            path: path?,
        })
    });
    let cmd = o.opt(cx, "cmd", |n, p, cx| {
        let args = list(MAX_LIST, text(MAX_TEXT, false))(n, p, cx)?;
        if args.is_empty() {
            cx.error(n.pos, p, "needs at least the program to run");
            return None;
        }
        Some(HealthCheck::Cmd(args))
    });
    let interval_secs = o.or(cx, "interval_secs", 10, number(1u32, 3600));
    let timeout_secs = o.or(cx, "timeout_secs", 5, number(1u32, 600));
    let retries = o.or(cx, "retries", 3, number(1u32, 100));
    let start_period_secs = o.or(cx, "start_period_secs", 0, number(0u32, 3600));
    let given = ["tcp", "http", "cmd"]
        .into_iter()
        .filter(|k| o.has(k))
        .count();
    let pos = o.pos;
    o.finish(cx, &[]);
    let check = match (tcp?, http?, cmd?) {
        (Some(c), None, None) | (None, Some(c), None) | (None, None, Some(c)) => c,
        _ if given == 0 => {
            cx.error(pos, path, "needs one check: tcp, http or cmd");
            return None;
        }
        _ => {
            cx.error(
                pos,
                path,
                "has more than one check: choose one of tcp, http or cmd",
            );
            return None;
        }
    };
    Some(Health {
        check,
        interval_secs: interval_secs?,
        timeout_secs: timeout_secs?,
        retries: retries?,
        start_period_secs: start_period_secs?,
    })
}

fn generated_secret(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<GeneratedSecret> {
    let mut o = Obj::open(node, path, cx)?;
    let name = o.req(cx, "name", parsed(63, check_label));
    let length = o.or(cx, "length", 32, number(16u16, 256));
    let charset = o.or(
        cx,
        "charset",
        Charset::Alphanumeric,
        parsed(16, |s| match s {
            "alphanumeric" => Ok(Charset::Alphanumeric),
            "hex" => Ok(Charset::Hex),
            _ => Err(format!("'{s}' is not a charset: use alphanumeric or hex")),
        }),
    );
    o.finish(cx, &[]);
    Some(GeneratedSecret {
        name: name?,
        length: length?,
        charset: charset?,
    })
}

fn dependency(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<Dependency> {
    let mut o = Obj::open(node, path, cx)?;
    let id = o.req(cx, "id", parsed(253, check_app_id));
    let version = o.req(
        cx,
        "version",
        parsed(256, |s| {
            semver::VersionReq::parse(s)
                .map_err(|e| format!("'{s}' is not a semver requirement (like ^1.2): {e}"))
        }),
    );
    o.finish(cx, &[]);
    Some(Dependency {
        id: id?,
        version: version?,
    })
}

fn permission(s: &str) -> Result<Permission, String> {
    match s {
        "internet" => Ok(Permission::Internet),
        "lan" => Ok(Permission::Lan),
        _ => Err(format!("'{s}' is not a permission: use internet or lan")),
    }
}

/// Reverse-DNS: two or more dot-separated lowercase labels.
fn check_app_id(s: &str) -> Result<String, String> {
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| check_label(l).is_err()) {
        return Err(format!(
            "'{s}' is not a reverse-DNS id: use two or more dot-separated lowercase labels of a-z, 0-9 and '-', like org.example.notes"
        ));
    }
    Ok(s.to_owned())
}

/// A DNS label: 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
fn check_label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{s}' is not a valid name: use 1-63 of a-z, 0-9 and '-', not starting or ending with '-'"
        ))
    }
}

fn check_env_name(s: &str) -> Result<(), String> {
    let mut bytes = s.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    if first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') && s.len() <= 128 {
        Ok(())
    } else {
        Err(format!(
            "'{s}' is not a valid environment variable name (letters, digits and '_', not starting with a digit)"
        ))
    }
}

fn check_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !s.contains(char::is_whitespace) => Ok(s.to_owned()),
        _ => Err(format!("'{s}' is not an http(s) URL")),
    }
}

fn check_user(s: &str) -> Result<String, String> {
    let id_or_name = |part: &str| {
        !part.is_empty()
            && (part.bytes().all(|b| b.is_ascii_digit())
                || part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                }))
    };
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() <= 2 && parts.iter().all(|p| id_or_name(p)) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{s}' is not a user: use uid, uid:gid or a user name from the image"
        ))
    }
}

fn check_capability(s: &str) -> Result<String, String> {
    if ALLOWED_CAPABILITIES.contains(&s) {
        return Ok(s.to_owned());
    }
    if let Some(bare) = s.strip_prefix("CAP_")
        && ALLOWED_CAPABILITIES.contains(&bare)
    {
        return Err(format!("write '{bare}' without the CAP_ prefix"));
    }
    Err(format!(
        "capability '{s}' is not on the allow-list ({})",
        ALLOWED_CAPABILITIES.join(", ")
    ))
}

/// Names of container engine sockets: mounting one gives root on the host.
fn is_engine_socket(s: &str) -> bool {
    let file = s.rsplit('/').next().unwrap_or(s);
    ["docker.sock", "podman.sock", "containerd.sock", "crio.sock"].contains(&file)
}

const SOCKET_REFUSAL: &str = "container engine sockets (docker.sock, podman.sock, …) are never mounted: they give root on the host";

/// A host directory for a volume: relative to the app's data dir, staying in it.
fn check_data_path(s: &str) -> Result<String, String> {
    if is_engine_socket(s) {
        return Err(SOCKET_REFUSAL.into());
    }
    if s.starts_with('/') {
        return Err(format!(
            "absolute host path '{s}' is not allowed: volumes live under the app's data dir, so give a path relative to it"
        ));
    }
    if Path::new(s)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "'{s}' escapes the app's data dir ('..' is not allowed)"
        ));
    }
    Ok(s.to_owned())
}

/// Where a volume appears inside the container.
fn check_mount(s: &str) -> Result<String, String> {
    if is_engine_socket(s) {
        return Err(SOCKET_REFUSAL.into());
    }
    if !s.starts_with('/') {
        return Err(format!(
            "'{s}' must be an absolute path inside the container"
        ));
    }
    if s == "/"
        || Path::new(s)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "'{s}' is not a usable mount point ('/' and '..' are not allowed)"
        ));
    }
    Ok(s.to_owned())
}

/// A file next to the manifest: relative, and inside the app's directory.
fn check_relative_file(s: &str, what: &str) -> Result<String, String> {
    if s.starts_with('/')
        || Path::new(s)
            .components()
            .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!(
            "{what} path '{s}' must be relative to the manifest's directory and stay inside it"
        ));
    }
    Ok(s.to_owned())
}
