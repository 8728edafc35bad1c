//! Health probes, run by the node itself: `tcp` and `http` checks connect
//! to the container (through its published host port when it has one, else
//! its address on the app network); `cmd` checks run inside it. Every probe
//! has the manifest's timeout, and waiting for health has a deadline.

use std::time::Duration;

use archy_registry::manifest::{Health, HealthCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::plan::ContainerPlan;
use crate::podman::Podman;

/// Time between the first probes while waiting for a container to become
/// healthy; it doubles after each failure up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(20);
/// Longest time between probes while waiting.
const POLL_MAX: Duration = Duration::from_millis(500);
/// Most bytes of an HTTP answer read to find its status.
const MAX_STATUS_BYTES: usize = 1024;

/// How long a container may take to become healthy: its start period, then
/// `retries` intervals, plus one probe's timeout.
pub fn deadline(health: &Health) -> Duration {
    Duration::from_secs(
        u64::from(health.start_period_secs)
            + u64::from(health.interval_secs) * u64::from(health.retries)
            + u64::from(health.timeout_secs),
    )
}

/// One probe of a container's health check. `Err` says why it failed.
pub async fn probe(
    podman: &Podman,
    container: &ContainerPlan,
    health: &Health,
) -> Result<(), String> {
    let limit = Duration::from_secs(health.timeout_secs.into());
    match &health.check {
        HealthCheck::Tcp { port } => {
            let addr = address(podman, container, *port).await?;
            connect(&addr, limit).await.map(drop)
        }
        HealthCheck::Http { port, path } => {
            let addr = address(podman, container, *port).await?;
            timeout(limit, http_get(&addr, path, limit))
                .await
                .map_err(|_| {
                    format!(
                        "GET {path} on {addr} took longer than {} s",
                        limit.as_secs()
                    )
                })?
        }
        HealthCheck::Cmd(args) => match podman.exec(&container.podman_name, args, limit).await {
            Ok(0) => Ok(()),
            Ok(code) => Err(format!("`{}` exited with {code}", args.join(" "))),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Where to reach `port` of the container from the host.
async fn address(podman: &Podman, container: &ContainerPlan, port: u16) -> Result<String, String> {
    if let Some(published) = container
        .spec
        .ports
        .iter()
        .find(|p| p.container == port && p.protocol == "tcp")
    {
        return Ok(format!("127.0.0.1:{}", published.host));
    }
    match podman
        .address_on(&container.podman_name, &container.spec.network)
        .await
    {
        Ok(Some(ip)) => Ok(format!("{ip}:{port}")),
        Ok(None) => Err(format!(
            "container has no address on {}",
            container.spec.network
        )),
        Err(e) => Err(e.to_string()),
    }
}

async fn connect(addr: &str, limit: Duration) -> Result<TcpStream, String> {
    match timeout(limit, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(format!("connect to {addr}: {e}")),
        Err(_) => Err(format!(
            "connect to {addr} took longer than {} s",
            limit.as_secs()
        )),
    }
}

async fn http_get(addr: &str, path: &str, limit: Duration) -> Result<(), String> {
    let mut stream = connect(addr, limit).await?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: archy-health\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut answer = Vec::with_capacity(MAX_STATUS_BYTES);
    let mut chunk = [0u8; 256];
    while !answer.contains(&b'\n') && answer.len() < MAX_STATUS_BYTES {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&answer);
    let status = line.lines().next().unwrap_or_default();
    match status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
    {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(code) => Err(format!("GET {path} answered {code}")),
        None => Err(format!(
            "GET {path} on {addr}: no HTTP status in {status:?}"
        )),
    }
}

/// Probes until the check passes or its [`deadline`] passes; the wait ends
/// early when the container has exited.
pub async fn wait_healthy(
    podman: &Podman,
    container: &ContainerPlan,
    health: &Health,
) -> Result<(), (Duration, String)> {
    let budget = deadline(health);
    let end = Instant::now() + budget;
    let mut poll = POLL_FIRST;
    loop {
        let failure = match probe(podman, container, health).await {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if !podman
            .is_alive(&container.podman_name)
            .await
            .unwrap_or(true)
        {
            return Err((budget, format!("the container exited ({failure})")));
        }
        if Instant::now() + poll >= end {
            return Err((budget, failure));
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(POLL_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve_once(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            s.write_all(answer.as_bytes()).await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn http_checks_accept_2xx_and_3xx_only() {
        let ok = serve_once("HTTP/1.0 200 OK\r\n\r\nhi").await;
        assert!(http_get(&ok, "/", Duration::from_secs(2)).await.is_ok());
        let moved = serve_once("HTTP/1.1 302 Found\r\n\r\n").await;
        assert!(http_get(&moved, "/", Duration::from_secs(2)).await.is_ok());
        let broken = serve_once("HTTP/1.0 500 Oops\r\n\r\n").await;
        let err = http_get(&broken, "/x", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(err, "GET /x answered 500");
        let junk = serve_once("hello\r\n").await;
        assert!(
            http_get(&junk, "/", Duration::from_secs(2))
                .await
                .unwrap_err()
                .contains("no HTTP status")
        );
    }

    #[test]
    fn the_deadline_covers_start_period_retries_and_one_timeout() {
        let health = Health {
            check: HealthCheck::Tcp { port: 1 },
            interval_secs: 5,
            timeout_secs: 2,
            retries: 3,
            start_period_secs: 10,
        };
        assert_eq!(deadline(&health), Duration::from_secs(27));
    }
}
