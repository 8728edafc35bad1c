//! Rules that relate several fields: unique names, references that must
//! resolve, `depends_on` cycles, and the expected [`Form`].

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::read::Cx;
use super::*;

pub(crate) fn check(m: &Manifest, form: Form, cx: &mut Cx) {
    check_form(m, form, cx);
    unique(
        cx,
        m.containers.iter().map(|c| c.name.as_str()),
        |i| format!("containers[{i}].name"),
        "container",
    );
    unique(
        cx,
        m.generated_secrets.iter().map(|s| s.name.as_str()),
        |i| format!("generated_secrets[{i}].name"),
        "secret",
    );
    unique(
        cx,
        m.dependencies.iter().map(|d| d.id.as_str()),
        |i| format!("dependencies[{i}].id"),
        "dependency",
    );
    for (i, dep) in m.dependencies.iter().enumerate() {
        if dep.id == m.id {
            cx.error_at(
                &format!("dependencies[{i}].id"),
                "an app cannot depend on itself",
            );
        }
    }
    let secrets: HashSet<&str> = m
        .generated_secrets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    let mut host_ports: HashMap<(u16, Protocol), String> = HashMap::new();
    for (ci, c) in m.containers.iter().enumerate() {
        let at = format!("containers[{ci}]");
        unique(
            cx,
            c.volumes.iter().map(|v| v.name.as_str()),
            |i| format!("{at}.volumes[{i}].name"),
            "volume",
        );
        unique(
            cx,
            c.volumes.iter().map(|v| v.mount.as_str()),
            |i| format!("{at}.volumes[{i}].mount"),
            "mount point",
        );
        unique(
            cx,
            c.secrets.iter().map(String::as_str),
            |i| format!("{at}.secrets[{i}]"),
            "secret",
        );
        let ports: Vec<String> = c
            .ports
            .iter()
            .map(|p| format!("{}/{:?}", p.container, p.protocol))
            .collect();
        unique(
            cx,
            ports.iter().map(String::as_str),
            |i| format!("{at}.ports[{i}].container"),
            "port",
        );
        for (pi, p) in c.ports.iter().enumerate() {
            let Some(host) = p.host else { continue };
            let path = format!("{at}.ports[{pi}].host");
            match host_ports.entry((host, p.protocol)) {
                Entry::Occupied(first) => {
                    cx.error_at(
                        &path,
                        format!("host port {host} is already asked for by {}", first.get()),
                    );
                }
                Entry::Vacant(slot) => {
                    slot.insert(path);
                }
            }
        }
        for (si, s) in c.secrets.iter().enumerate() {
            if !secrets.contains(s.as_str()) {
                cx.error_at(
                    &format!("{at}.secrets[{si}]"),
                    format!("'{s}' is not declared in generated_secrets"),
                );
            }
        }
        for (di, d) in c.depends_on.iter().enumerate() {
            let path = format!("{at}.depends_on[{di}]");
            if d == &c.name {
                cx.error_at(&path, "a container cannot depend on itself");
            } else if !m.containers.iter().any(|o| &o.name == d) {
                cx.error_at(&path, format!("there is no container named '{d}'"));
            }
        }
    }
    check_cycles(m, cx);
}

/// Reports every later occurrence of a name already used.
fn unique<'a>(
    cx: &mut Cx,
    names: impl Iterator<Item = &'a str>,
    path: impl Fn(usize) -> String,
    what: &str,
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        if let Some(&j) = first.get(name) {
            cx.error_at(
                &path(i),
                format!("duplicate {what} '{name}' (first at {})", path(j)),
            );
        } else {
            first.insert(name, i);
        }
    }
}

fn check_form(m: &Manifest, form: Form, cx: &mut Cx) {
    for (i, c) in m.containers.iter().enumerate() {
        let path = format!("containers[{i}].image");
        match (&c.image, form) {
            (ImageRef::Archive(p), Form::Published) => cx.error_at(
                &path,
                format!("expected the published form {{blake3, size, id}}, found the path '{p}': a published manifest names images by hash, which signing the source manifest writes"),
            ),
            (ImageRef::Published { .. }, Form::Source) => cx.error_at(
                &path,
                "expected a path to a `podman save` archive (source form), found the published form {blake3, size, id}",
            ),
            _ => {}
        }
    }
    match (&m.icon, form) {
        (Some(FileRef::Path(p)), Form::Published) => {
            cx.error_at(
                "icon",
                format!("expected the published form {{blake3, size}}, found the path '{p}'"),
            );
        }
        (Some(FileRef::Blob { .. }), Form::Source) => {
            cx.error_at("icon", "expected a path to an image file (source form), found the published form {blake3, size}");
        }
        _ => {}
    }
}

/// Finds `depends_on` cycles with a depth-first search and reports each
/// once, naming the whole loop.
fn check_cycles(m: &Manifest, cx: &mut Cx) {
    let index: BTreeMap<&str, usize> = m
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; m.containers.len()];
    let mut stack: Vec<usize> = Vec::new();

    fn visit(
        node: usize,
        m: &Manifest,
        index: &BTreeMap<&str, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        cx: &mut Cx,
    ) {
        marks[node] = Mark::Active;
        stack.push(node);
        for (di, dep) in m.containers[node].depends_on.iter().enumerate() {
            let Some(&next) = index.get(dep.as_str()) else {
                continue;
            };
            if next == node {
                continue;
            }
            match marks[next] {
                Mark::New => visit(next, m, index, marks, stack, cx),
                Mark::Active => {
                    let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                    let mut names: Vec<&str> = stack[start..]
                        .iter()
                        .map(|&n| m.containers[n].name.as_str())
                        .collect();
                    names.push(dep);
                    cx.error_at(
                        &format!("containers[{node}].depends_on[{di}]"),
                        format!("depends_on cycle: {}", names.join(" -> ")),
                    );
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[node] = Mark::Done;
    }

    for start in 0..m.containers.len() {
        if marks[start] == Mark::New {
            visit(start, m, &index, &mut marks, &mut stack, cx);
        }
    }
}
