//! Podman Quadlet units for an app: one `.network`, one `.volume` per
//! named volume and one `.container` per container, so an app can run under
//! systemd without the node. The units say the same things the orchestrator
//! asks podman for: the app network with DNS aliases, loopback-only ports
//! unless the app may use the LAN, dropped capabilities, secrets mounted at
//! `/run/secrets`, start order from `depends_on`.

use std::path::Path;

use archy_registry::Manifest;
use archy_registry::manifest::{Container, HealthCheck, ImageRef, Permission};

use crate::Error;
use crate::plan::{SECRETS_MOUNT, protocol_name, start_order};

/// One unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// File name, such as `org.example.notes-web.container`.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The units for `manifest`. `base` is the app directory, against which
/// source-form image archives are made absolute; `data_dir` is where
/// volumes with a `path` live.
pub fn render(manifest: &Manifest, base: &Path, data_dir: &Path) -> Result<Vec<Unit>, Error> {
    let app = &manifest.id;
    let mut units = vec![Unit {
        name: format!("{app}.network"),
        text: format!(
            "# {title}: the app's own network; containers reach each other by name.\n[Network]\nLabel=archy.app={app}\n",
            title = manifest.title
        ),
    }];
    let mut volumes: Vec<&str> = Vec::new();
    for container in &manifest.containers {
        for volume in container.volumes.iter().filter(|v| v.path.is_none()) {
            if !volumes.contains(&volume.name.as_str()) {
                volumes.push(&volume.name);
                units.push(Unit {
                    name: format!("{app}-{}.volume", volume.name),
                    text: format!("# Data of {app}: kept when the app is removed.\n[Volume]\nLabel=archy.app={app}\n"),
                });
            }
        }
    }
    let lan = manifest.permissions.contains(&Permission::Lan);
    for container in start_order(manifest)? {
        units.push(Unit {
            name: format!("{app}-{}.container", container.name),
            text: container_unit(manifest, container, base, data_dir, lan),
        });
    }
    Ok(units)
}

fn container_unit(
    manifest: &Manifest,
    c: &Container,
    base: &Path,
    data_dir: &Path,
    lan: bool,
) -> String {
    let app = &manifest.id;
    let mut unit = format!(
        "# {} ({app} {}), container {}.\n",
        manifest.title, manifest.version, c.name
    );
    if !c.secrets.is_empty() {
        unit.push_str("# Before starting, create its secrets once: printf %s VALUE | podman secret create NAME -\n");
    }
    unit.push_str(&format!(
        "[Unit]\nDescription={} — {}\n",
        manifest.title, c.name
    ));
    for dep in &c.depends_on {
        unit.push_str(&format!(
            "Requires={app}-{dep}.service\nAfter={app}-{dep}.service\n"
        ));
    }
    unit.push_str("\n[Container]\n");
    unit.push_str(&format!("ContainerName={app}-{}\n", c.name));
    let image = match &c.image {
        ImageRef::Published { id, .. } => id.to_string(),
        ImageRef::Archive(rel) => format!("docker-archive:{}", base.join(rel).display()),
    };
    unit.push_str(&format!("Image={image}\n"));
    if !c.command.is_empty() {
        unit.push_str(&format!(
            "Exec={}\n",
            c.command
                .iter()
                .map(|a| quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    unit.push_str(&format!(
        "Network={app}.network\nPodmanArgs=--network-alias {}\n",
        c.name
    ));
    unit.push_str(&format!(
        "Label=archy.app={app}\nLabel=archy.container={}\n",
        c.name
    ));
    for (key, value) in &c.env {
        unit.push_str(&format!(
            "Environment={}\n",
            quote(&format!("{key}={value}"))
        ));
    }
    for port in &c.ports {
        let host = port.host.map_or(String::new(), |h| h.to_string());
        let ip = if lan { "" } else { "127.0.0.1:" };
        unit.push_str(&format!(
            "PublishPort={ip}{host}:{}/{}\n",
            port.container,
            protocol_name(port.protocol)
        ));
    }
    for volume in &c.volumes {
        let source = match &volume.path {
            Some(path) => data_dir.join(path).display().to_string(),
            None => format!("{app}-{}.volume", volume.name),
        };
        let ro = if volume.read_only { ":ro" } else { "" };
        unit.push_str(&format!("Volume={source}:{}{ro}\n", volume.mount));
    }
    for secret in &c.secrets {
        unit.push_str(&format!(
            "Secret={secret},type=mount,target={SECRETS_MOUNT}/{secret}\n"
        ));
    }
    unit.push_str("DropCapability=all\n");
    for cap in &c.capabilities {
        unit.push_str(&format!("AddCapability={cap}\n"));
    }
    unit.push_str("NoNewPrivileges=true\n");
    if let Some(user) = &c.user {
        unit.push_str(&format!("User={user}\n"));
    }
    if let Some(health) = &c.health {
        let cmd = match &health.check {
            HealthCheck::Cmd(args) => {
                Some(args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "))
            }
            HealthCheck::Tcp { port } => Some(format!("nc -z 127.0.0.1 {port}")),
            HealthCheck::Http { port, path } => Some(format!(
                "wget -q -O /dev/null http://127.0.0.1:{port}{path}"
            )),
        };
        if let Some(cmd) = cmd {
            unit.push_str(&format!(
                "HealthCmd={cmd}\nHealthInterval={}s\nHealthTimeout={}s\nHealthRetries={}\nHealthStartPeriod={}s\n",
                health.interval_secs, health.timeout_secs, health.retries, health.start_period_secs
            ));
        }
    }
    unit.push_str(&format!(
        "PodmanArgs=--stop-timeout {}\n",
        c.stop_grace_secs
    ));
    unit.push_str(&format!(
        "\n[Service]\nRestart=always\nTimeoutStopSec={}\n\n[Install]\nWantedBy=default.target\n",
        c.stop_grace_secs + 10
    ));
    unit
}

/// Quotes an argument for systemd when it needs it.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        arg.to_owned()
    } else {
        format!("\"{}\"", arg.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_registry::Form;

    const MANIFEST: &str = r#"
manifest_version: 1
id: org.example.notes
version: 1.2.0
title: Notes
summary: Notes
publisher: did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
license: MIT
containers:
  - name: web
    image: image.tar
    command: [serve, -p, "8080", -h, /www]
    env: {GREETING: "hello world"}
    ports: [{container: 8080, host: 8080}]
    volumes: [{name: data, mount: /data}, {name: conf, mount: /etc/app, path: conf, read_only: true}]
    secrets: [token]
    depends_on: [db]
    health: {http: {port: 8080, path: /health}}
    stop_grace_secs: 5
  - name: db
    image: image.tar
generated_secrets: [{name: token}]
"#;

    #[test]
    fn units_cover_network_volumes_and_containers_in_start_order() {
        let manifest = Manifest::from_yaml(MANIFEST, "m.yml", Form::Source).unwrap();
        let units = render(
            &manifest,
            Path::new("/src/notes"),
            Path::new("/var/lib/notes"),
        )
        .unwrap();
        let names: Vec<_> = units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "org.example.notes.network",
                "org.example.notes-data.volume",
                "org.example.notes-db.container",
                "org.example.notes-web.container"
            ]
        );
        let web = &units[3].text;
        for line in [
            "Requires=org.example.notes-db.service",
            "Image=docker-archive:/src/notes/image.tar",
            "Exec=serve -p 8080 -h /www",
            "Network=org.example.notes.network",
            "PodmanArgs=--network-alias web",
            "Environment=\"GREETING=hello world\"",
            "PublishPort=127.0.0.1:8080:8080/tcp",
            "Volume=org.example.notes-data.volume:/data",
            "Volume=/var/lib/notes/conf:/etc/app:ro",
            "Secret=token,type=mount,target=/run/secrets/token",
            "DropCapability=all",
            "HealthCmd=wget -q -O /dev/null http://127.0.0.1:8080/health",
            "TimeoutStopSec=15",
        ] {
            assert!(web.lines().any(|l| l == line), "missing {line:?} in\n{web}");
        }
    }
}
