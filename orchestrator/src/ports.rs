//! Host ports: a port the manifest asks for is checked before any container
//! is created, against other apps, every podman container and the host's
//! own listeners; a port it leaves open is given a free one. A choice, once
//! made, is kept in the app's record so the app keeps its address.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::Path;

use archy_registry::Manifest;
use archy_registry::manifest::Protocol;

use crate::error::Error;
use crate::plan::{port_key, protocol_name};

/// Most attempts at finding a free port before giving up.
const FREE_PORT_ATTEMPTS: usize = 64;

/// Host ports in use, with who uses them.
#[derive(Debug, Default)]
pub struct TakenPorts {
    held: HashMap<(u16, &'static str), String>,
    /// Ports the app's own containers publish now (podman holds them open
    /// for it), which it may keep through an update.
    own: HashSet<(u16, &'static str)>,
}

fn protocol_of(protocol: &str) -> &'static str {
    if protocol == "udp" { "udp" } else { "tcp" }
}

impl TakenPorts {
    /// Marks `port/protocol` as used by `by`.
    pub fn add(&mut self, port: u16, protocol: &str, by: impl Into<String>) {
        self.held
            .entry((port, protocol_of(protocol)))
            .or_insert_with(|| by.into());
    }

    /// Marks `port/protocol` as held by the app being placed itself.
    pub fn add_own(&mut self, port: u16, protocol: &str) {
        self.own.insert((port, protocol_of(protocol)));
    }

    fn holder(&self, port: u16, protocol: Protocol) -> Option<String> {
        let key = (port, protocol_name(protocol));
        if let Some(by) = self.held.get(&key) {
            return Some(by.clone());
        }
        if self.own.contains(&key) {
            return None;
        }
        let free = match protocol {
            Protocol::Tcp => TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok(),
            Protocol::Udp => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok(),
        };
        (!free).then(|| "another program on this host".to_owned())
    }
}

/// A host port for every port the manifest publishes: the one already
/// chosen (`kept`), else the manifest's `host`, else a free one.
pub fn choose(
    manifest: &Manifest,
    kept: &BTreeMap<String, u16>,
    taken: &TakenPorts,
) -> Result<BTreeMap<String, u16>, Error> {
    let mut chosen = BTreeMap::new();
    let mut mine = TakenPorts::default();
    for container in &manifest.containers {
        for port in &container.ports {
            let key = port_key(&container.name, port.container, port.protocol);
            let wanted = kept.get(&key).copied().or(port.host);
            let host = match wanted {
                Some(host) => {
                    if let Some(by) = mine
                        .held
                        .get(&(host, protocol_name(port.protocol)))
                        .cloned()
                        .or_else(|| taken.holder(host, port.protocol))
                    {
                        return Err(Error::PortConflict {
                            app: manifest.id.clone(),
                            port: host,
                            protocol: protocol_name(port.protocol),
                            by,
                        });
                    }
                    host
                }
                None => free_port(port.protocol, taken, &mine).ok_or_else(|| {
                    Error::plan(&manifest.id, format!("no free host port found for {key}"))
                })?,
            };
            mine.add(
                host,
                protocol_name(port.protocol),
                format!("{} itself", manifest.id),
            );
            chosen.insert(key, host);
        }
    }
    Ok(chosen)
}

/// The file in an app's directory that remembers its host ports, so a
/// reinstall after an uninstall (which keeps the directory) gets the same
/// address back. Purging deletes it with the rest.
const KEPT_PORTS_FILE: &str = "ports.json";
/// Largest kept-ports file read.
const MAX_KEPT_PORTS_BYTES: u64 = 64 * 1024;

/// The host ports an earlier install of the app chose, if it kept any.
pub fn kept(app_dir: &Path) -> BTreeMap<String, u16> {
    archy_registry::files::read_bounded(&app_dir.join(KEPT_PORTS_FILE), MAX_KEPT_PORTS_BYTES)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Remembers the app's host ports in its directory.
pub fn keep(app_dir: &Path, ports: &BTreeMap<String, u16>) -> Result<(), Error> {
    std::fs::create_dir_all(app_dir).map_err(|e| Error::file(app_dir, e))?;
    let path = app_dir.join(KEPT_PORTS_FILE);
    let json = serde_json::to_vec_pretty(ports).map_err(|e| Error::file(&path, e))?;
    std::fs::write(&path, json).map_err(|e| Error::file(&path, e))
}

fn free_port(protocol: Protocol, taken: &TakenPorts, mine: &TakenPorts) -> Option<u16> {
    (0..FREE_PORT_ATTEMPTS).find_map(|_| {
        let port = match protocol {
            Protocol::Tcp => TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
                .ok()?
                .local_addr()
                .ok()?
                .port(),
            Protocol::Udp => UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        };
        let key = (port, protocol_name(protocol));
        (!taken.held.contains_key(&key)
            && !taken.own.contains(&key)
            && !mine.held.contains_key(&key))
        .then_some(port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_registry::Form;

    fn manifest(host: Option<u16>) -> Manifest {
        let host = host.map_or(String::new(), |h| format!(", host: {h}"));
        let text = format!(
            r#"
manifest_version: 1
id: org.example.web
version: 1.0.0
title: Web
summary: One port
publisher: did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
license: MIT
containers:
  - name: web
    image: {{blake3: "1111111111111111111111111111111111111111111111111111111111111111", size: 10, id: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}}
    ports: [{{container: 8080{host}}}]
"#
        );
        Manifest::from_yaml(&text, "t.yml", Form::Published).unwrap()
    }

    #[test]
    fn a_port_held_by_another_app_is_a_conflict_named_before_create() {
        let mut taken = TakenPorts::default();
        taken.add(18080, "tcp", "app org.example.other");
        let err = choose(&manifest(Some(18080)), &BTreeMap::new(), &taken).unwrap_err();
        assert!(
            err.to_string()
                .contains("18080/tcp is already used by app org.example.other"),
            "{err}"
        );
    }

    #[test]
    fn a_port_held_by_a_host_program_is_a_conflict() {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = choose(
            &manifest(Some(port)),
            &BTreeMap::new(),
            &TakenPorts::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("another program on this host"),
            "{err}"
        );
    }

    #[test]
    fn a_port_the_app_itself_holds_is_kept() {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut taken = TakenPorts::default();
        taken.add_own(port, "tcp");
        let chosen = choose(&manifest(Some(port)), &BTreeMap::new(), &taken).unwrap();
        assert_eq!(chosen["web/8080/tcp"], port);
    }

    #[test]
    fn an_open_port_gets_a_free_one_and_a_kept_choice_stays() {
        let chosen = choose(&manifest(None), &BTreeMap::new(), &TakenPorts::default()).unwrap();
        let port = chosen["web/8080/tcp"];
        assert!(port > 0);
        let dir = tempfile::tempdir().unwrap();
        keep(dir.path(), &chosen).unwrap();
        let again = choose(&manifest(None), &kept(dir.path()), &TakenPorts::default()).unwrap();
        assert_eq!(again["web/8080/tcp"], port);
    }
}
