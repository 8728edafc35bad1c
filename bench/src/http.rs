//! Plain HTTP/1.1 requests to a node's API on loopback, written by hand so
//! every header is what the benchmark says (its `Host`, its token).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest answer read.
const MAX_ANSWER: u64 = 64 << 20;

/// One `GET path` with the token over a fresh connection; its body, which
/// must come with 200 and a `Content-Length`.
pub async fn get(addr: SocketAddr, path: &str, token: &str) -> anyhow::Result<Vec<u8>> {
    get_with(addr, path, &[format!("Authorization: Bearer {token}")]).await
}

/// The same, with `headers` (whole lines, like `Cookie: a=b`) instead of
/// the token alone.
pub async fn get_with(addr: SocketAddr, path: &str, headers: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        (&mut stream).take(MAX_ANSWER).read_to_end(&mut answer),
    )
    .await
    .context("no answer within 30 s")??;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("an answer without a header")?;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let body = answer[split + 4..].to_vec();
    ensure!(
        head.starts_with("http/1.1 200"),
        "GET {path} answered {}",
        head.lines().next().unwrap_or_default()
    );
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .context("an answer without Content-Length")?;
    ensure!(
        length == body.len(),
        "GET {path}: {} bytes of {length}",
        body.len()
    );
    Ok(body)
}
