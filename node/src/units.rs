//! Quantities people type on a command line: sizes and rates like `50MB`.
//! Shared by the `archy` and `archy-bench` command lines, which take the
//! same units.

/// Reads `50MB`, `1.5GiB`, `300k` or a plain number of bytes; the error
/// says what was wrong with `text`, for clap to show.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit '{other}': use B, kB, MB, GB, KiB, MiB or GiB"
            ));
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a number followed by a unit, like 50MB"))?;
    let bytes = (n * scale).round();
    if !(1.0..=1e18).contains(&bytes) {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(bytes as u64)
}
