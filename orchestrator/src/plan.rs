//! From a manifest to the exact podman objects that run it: names, labels,
//! mounts, ports, start order and a spec hash per container. Pure: nothing
//! here talks to podman, so the plan is what the reconciler compares with
//! what podman reports.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use archy_registry::Manifest;
use archy_registry::manifest::{Container, Health, ImageRef, Permission, Protocol};
use podman_api::models::{ContainerMount, Namespace, PortMapping};
use podman_api::opts::ContainerCreateOpts;
use serde::Serialize;

use crate::error::Error;

/// Label: which orchestrator instance (node) owns the object.
pub const LABEL_INSTANCE: &str = "archy.instance";
/// Label: the app id.
pub const LABEL_APP: &str = "archy.app";
/// Label: the container's name in the manifest.
pub const LABEL_CONTAINER: &str = "archy.container";
/// Label: the app version.
pub const LABEL_VERSION: &str = "archy.version";
/// Label: the hash of the container's spec, to see drift without comparing
/// podman's own (normalised, defaulted) view of it.
pub const LABEL_SPEC: &str = "archy.spec";
/// Label: `true` for a developer's unpublished app.
pub const LABEL_DEV: &str = "archy.dev";

/// Where a container's secrets appear inside it.
pub const SECRETS_MOUNT: &str = "/run/secrets";

/// The podman names of one app's objects for one orchestrator instance.
#[derive(Debug, Clone)]
pub struct Names {
    instance: String,
    app: String,
}

impl Names {
    /// Names for `app` under `instance`. `_` separates the parts: it occurs
    /// in neither an instance name nor an app id nor a container name.
    pub fn new(instance: &str, app: &str) -> Self {
        Self {
            instance: instance.to_owned(),
            app: app.to_owned(),
        }
    }

    /// The app's own network.
    pub fn network(&self) -> String {
        format!("archy_{}_{}", self.instance, self.app)
    }

    /// The podman name of the manifest's container `name`.
    pub fn container(&self, name: &str) -> String {
        format!("archy_{}_{}_{}", self.instance, self.app, name)
    }
}

/// What the plan needs beyond the manifest: the node's choices for this
/// install.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The orchestrator instance.
    pub instance: &'a str,
    /// The app's directory (`data/`, `secrets/` below it).
    pub app_dir: &'a Path,
    /// The host port chosen for each `container/port/protocol`.
    pub host_ports: &'a BTreeMap<String, u16>,
    /// Whether this is a dev app.
    pub dev: bool,
}

/// The key a host-port choice is recorded under.
pub fn port_key(container: &str, port: u16, protocol: Protocol) -> String {
    format!("{container}/{port}/{}", protocol_name(protocol))
}

/// `tcp` or `udp`.
pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
    }
}

/// Everything the orchestrator creates for one app.
#[derive(Debug, Clone)]
pub struct AppPlan {
    /// The app id.
    pub app: String,
    /// The app's network.
    pub network: String,
    /// Labels every object of the app carries.
    pub labels: HashMap<String, String>,
    /// Containers in start order (`depends_on` first).
    pub containers: Vec<ContainerPlan>,
    /// Host directories to create before any container (volumes).
    pub data_dirs: Vec<PathBuf>,
}

/// One container to create.
#[derive(Debug, Clone)]
pub struct ContainerPlan {
    /// The name in the manifest (and DNS alias on the app network).
    pub name: String,
    /// The podman name.
    pub podman_name: String,
    /// The image, by content id.
    pub image: String,
    /// The spec podman is asked for; its hash is the `archy.spec` label.
    pub spec: ContainerSpec,
    /// BLAKE3 of the spec's JSON, hex.
    pub spec_hash: String,
    /// SIGTERM-to-SIGKILL grace.
    pub grace: Duration,
    /// The health check, if the manifest has one.
    pub health: Option<Health>,
}

/// The part of a container's podman spec the node decides. Serialised for
/// the spec hash, so any change here is drift.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerSpec {
    /// Image id.
    pub image: String,
    /// Command, empty for the image's.
    pub command: Vec<String>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Published ports.
    pub ports: Vec<PortSpec>,
    /// Bind mounts.
    pub mounts: Vec<MountSpec>,
    /// User, if set.
    pub user: Option<String>,
    /// Capabilities kept (all others are dropped).
    pub capabilities: Vec<String>,
    /// The app network.
    pub network: String,
    /// DNS name on it.
    pub alias: String,
}

/// One published port.
#[derive(Debug, Clone, Serialize)]
pub struct PortSpec {
    /// Host address it is bound to.
    pub host_ip: String,
    /// Host port.
    pub host: u16,
    /// Container port.
    pub container: u16,
    /// tcp or udp.
    pub protocol: &'static str,
}

/// One bind mount.
#[derive(Debug, Clone, Serialize)]
pub struct MountSpec {
    /// Host path.
    pub source: PathBuf,
    /// Path inside the container.
    pub destination: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The directory holding volume `path` (or `name`) of an app.
pub fn volume_dir(app_dir: &Path, rel: &str) -> PathBuf {
    app_dir.join("data").join(rel)
}

/// The file holding secret `name` of an app.
pub fn secret_file(app_dir: &Path, name: &str) -> PathBuf {
    app_dir.join("secrets").join(name)
}

/// Builds the plan for a published manifest.
pub fn plan(manifest: &Manifest, input: &PlanInput<'_>) -> Result<AppPlan, Error> {
    let names = Names::new(input.instance, &manifest.id);
    let network = names.network();
    let labels = HashMap::from([
        (LABEL_INSTANCE.to_owned(), input.instance.to_owned()),
        (LABEL_APP.to_owned(), manifest.id.clone()),
        (LABEL_VERSION.to_owned(), manifest.version.to_string()),
        (LABEL_DEV.to_owned(), input.dev.to_string()),
    ]);
    let host_ip = if manifest.permissions.contains(&Permission::Lan) {
        ""
    } else {
        "127.0.0.1"
    };
    let mut data_dirs = Vec::new();
    let mut containers = Vec::new();
    for container in start_order(manifest)? {
        let spec = container_spec(
            manifest,
            container,
            input,
            &network,
            host_ip,
            &mut data_dirs,
        )?;
        let json =
            serde_json::to_vec(&spec).map_err(|e| Error::plan(&manifest.id, e.to_string()))?;
        containers.push(ContainerPlan {
            name: container.name.clone(),
            podman_name: names.container(&container.name),
            image: spec.image.clone(),
            spec_hash: hex::encode(&blake3::hash(&json).as_bytes()[..16]),
            spec,
            grace: Duration::from_secs(container.stop_grace_secs.into()),
            health: container.health.clone(),
        });
    }
    data_dirs.sort();
    data_dirs.dedup();
    Ok(AppPlan {
        app: manifest.id.clone(),
        network,
        labels,
        containers,
        data_dirs,
    })
}

fn container_spec(
    manifest: &Manifest,
    container: &Container,
    input: &PlanInput<'_>,
    network: &str,
    host_ip: &str,
    data_dirs: &mut Vec<PathBuf>,
) -> Result<ContainerSpec, Error> {
    let image = match &container.image {
        ImageRef::Published { id, .. } => id.to_string(),
        ImageRef::Archive(path) => {
            return Err(Error::plan(
                &manifest.id,
                format!(
                    "container {} names the archive {path}, not a verified image",
                    container.name
                ),
            ));
        }
    };
    let mut ports = Vec::new();
    for port in &container.ports {
        let key = port_key(&container.name, port.container, port.protocol);
        let host = *input.host_ports.get(&key).ok_or_else(|| {
            Error::plan(&manifest.id, format!("no host port was chosen for {key}"))
        })?;
        ports.push(PortSpec {
            host_ip: host_ip.to_owned(),
            host,
            container: port.container,
            protocol: protocol_name(port.protocol),
        });
    }
    let mut mounts = Vec::new();
    for volume in &container.volumes {
        let source = volume_dir(
            input.app_dir,
            volume.path.as_deref().unwrap_or(&volume.name),
        );
        data_dirs.push(source.clone());
        mounts.push(MountSpec {
            source,
            destination: volume.mount.clone(),
            read_only: volume.read_only,
        });
    }
    for secret in &container.secrets {
        mounts.push(MountSpec {
            source: secret_file(input.app_dir, secret),
            destination: format!("{SECRETS_MOUNT}/{secret}"),
            read_only: true,
        });
    }
    Ok(ContainerSpec {
        image,
        command: container.command.clone(),
        env: container.env.clone(),
        ports,
        mounts,
        user: container.user.clone(),
        capabilities: container.capabilities.clone(),
        network: network.to_owned(),
        alias: container.name.clone(),
    })
}

/// Containers in an order where each comes after everything it
/// `depends_on`; otherwise in manifest order. The manifest rules already
/// refuse cycles; one found here is still an error, never a loop.
pub fn start_order(manifest: &Manifest) -> Result<Vec<&Container>, Error> {
    let mut placed: Vec<&Container> = Vec::with_capacity(manifest.containers.len());
    while placed.len() < manifest.containers.len() {
        let next = manifest.containers.iter().find(|c| {
            !placed.iter().any(|p| p.name == c.name)
                && c.depends_on
                    .iter()
                    .all(|d| placed.iter().any(|p| &p.name == d))
        });
        match next {
            Some(c) => placed.push(c),
            None => {
                return Err(Error::plan(
                    &manifest.id,
                    "depends_on has a cycle or names an unknown container",
                ));
            }
        }
    }
    Ok(placed)
}

impl ContainerPlan {
    /// The podman create options for this container, labelled.
    pub fn create_opts(&self, labels: &HashMap<String, String>) -> ContainerCreateOpts {
        let mut labels = labels.clone();
        labels.insert(LABEL_CONTAINER.to_owned(), self.name.clone());
        labels.insert(LABEL_SPEC.to_owned(), self.spec_hash.clone());
        let spec = &self.spec;
        let mut builder = ContainerCreateOpts::builder()
            .name(&self.podman_name)
            .image(&spec.image)
            .labels(labels)
            .env(spec.env.clone())
            .drop_capabilities(["ALL"])
            .add_capabilities(spec.capabilities.clone())
            .no_new_privilages(true)
            .stop_timeout(self.grace.as_secs())
            // Bridge mode, asked for: podman's default network mode is
            // slirp4netns when it runs rootless, and it refuses networks
            // (the app's, with DNS) in any mode but bridge.
            .net_namespace(Namespace {
                nsmode: Some("bridge".into()),
                value: None,
            })
            .networks([(
                spec.network.clone(),
                serde_json::json!({ "aliases": [spec.alias] }),
            )])
            .portmappings(spec.ports.iter().map(|p| PortMapping {
                container_port: Some(p.container),
                host_ip: (!p.host_ip.is_empty()).then(|| p.host_ip.clone()),
                host_port: Some(p.host),
                protocol: Some(p.protocol.to_owned()),
                range: None,
            }))
            .mounts(spec.mounts.iter().map(|m| ContainerMount {
                destination: Some(m.destination.clone()),
                source: Some(m.source.display().to_string()),
                _type: Some("bind".into()),
                options: Some(if m.read_only {
                    vec!["rbind".into(), "ro".into()]
                } else {
                    vec!["rbind".into(), "rw".into()]
                }),
                uid_mappings: None,
                gid_mappings: None,
            }));
        if !spec.command.is_empty() {
            builder = builder.command(spec.command.clone());
        }
        if let Some(user) = &spec.user {
            builder = builder.user(user);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archy_registry::Form;

    const MANIFEST: &str = r#"
manifest_version: 1
id: org.example.duo
version: 1.0.0
title: Duo
summary: Two containers
publisher: did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
license: MIT
containers:
  - name: web
    image: {blake3: "1111111111111111111111111111111111111111111111111111111111111111", size: 10, id: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}
    ports: [{container: 8080}]
    volumes: [{name: data, mount: /data}]
    secrets: [token]
    depends_on: [api]
  - name: api
    image: {blake3: "1111111111111111111111111111111111111111111111111111111111111111", size: 10, id: "sha256:2222222222222222222222222222222222222222222222222222222222222222"}
generated_secrets: [{name: token}]
"#;

    fn manifest() -> Manifest {
        Manifest::from_yaml(MANIFEST, "test.yml", Form::Published).unwrap()
    }

    fn input<'a>(ports: &'a BTreeMap<String, u16>) -> PlanInput<'a> {
        PlanInput {
            instance: "n1",
            app_dir: Path::new("/var/lib/archy/apps/org.example.duo"),
            host_ports: ports,
            dev: false,
        }
    }

    #[test]
    fn dependencies_start_first_and_names_are_per_instance() {
        let ports = BTreeMap::from([("web/8080/tcp".to_owned(), 18080)]);
        let plan = plan(&manifest(), &input(&ports)).unwrap();
        let order: Vec<_> = plan.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(order, ["api", "web"]);
        assert_eq!(
            plan.containers[1].podman_name,
            "archy_n1_org.example.duo_web"
        );
        assert_eq!(plan.network, "archy_n1_org.example.duo");
        let web = &plan.containers[1].spec;
        assert_eq!(web.ports[0].host, 18080);
        assert_eq!(
            web.ports[0].host_ip, "127.0.0.1",
            "no lan permission: loopback only"
        );
        assert_eq!(web.mounts[1].destination, "/run/secrets/token");
        assert!(web.mounts[1].read_only);
        assert_eq!(
            plan.data_dirs,
            [PathBuf::from(
                "/var/lib/archy/apps/org.example.duo/data/data"
            )]
        );
    }

    #[test]
    fn the_spec_hash_changes_with_the_spec_and_only_then() {
        let ports = BTreeMap::from([("web/8080/tcp".to_owned(), 18080)]);
        let a = plan(&manifest(), &input(&ports)).unwrap();
        let b = plan(&manifest(), &input(&ports)).unwrap();
        assert_eq!(a.containers[1].spec_hash, b.containers[1].spec_hash);
        let moved = BTreeMap::from([("web/8080/tcp".to_owned(), 18081)]);
        let c = plan(&manifest(), &input(&moved)).unwrap();
        assert_ne!(a.containers[1].spec_hash, c.containers[1].spec_hash);
        assert_eq!(a.containers[0].spec_hash, c.containers[0].spec_hash);
    }

    #[test]
    fn the_create_spec_asks_for_bridge_mode_on_the_app_network() {
        let ports = BTreeMap::from([("web/8080/tcp".to_owned(), 18080)]);
        let plan = plan(&manifest(), &input(&ports)).unwrap();
        let web = &plan.containers[1];
        let opts = web.create_opts(&plan.labels).serialize().unwrap();
        let spec: serde_json::Value = serde_json::from_str(&opts).unwrap();
        assert_eq!(
            spec["netns"]["nsmode"], "bridge",
            "rootless podman defaults to slirp4netns, which takes no networks: {spec}"
        );
        assert_eq!(
            spec["Networks"]["archy_n1_org.example.duo"]["aliases"],
            serde_json::json!(["web"]),
            "{spec}"
        );
        assert_eq!(spec["portmappings"][0]["host_ip"], "127.0.0.1", "{spec}");
        assert_eq!(spec["portmappings"][0]["host_port"], 18080, "{spec}");
    }

    #[test]
    fn a_port_without_a_chosen_host_port_is_an_error() {
        let err = plan(&manifest(), &input(&BTreeMap::new())).unwrap_err();
        assert!(err.to_string().contains("web/8080/tcp"), "{err}");
    }
}
