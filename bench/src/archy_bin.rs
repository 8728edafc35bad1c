//! Where the `archy` binary the benchmarks drive is: named by `--archy` or
//! `ARCHY_BIN`, else next to this executable, where cargo builds both
//! (`target/<profile>/`).

use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};

/// The `archy` binary: `given`, or the one next to this executable.
pub fn locate(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path,
        None => {
            let exe = std::env::current_exe().context("cannot find this executable")?;
            beside_path(&exe, "archy")?
        }
    };
    ensure!(
        path.is_file(),
        "no archy binary at {}: build it with `cargo build --release -p archy-node` \
         (next to archy-bench), or name it with --archy PATH or ARCHY_BIN",
        path.display()
    );
    Ok(path)
}

/// Another binary of the node package, `name`, next to `archy`.
pub fn beside(archy: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let path = beside_path(archy, name)?;
    ensure!(
        path.is_file(),
        "no {name} at {}: it is built with archy (`cargo build --release -p archy-node`)",
        path.display()
    );
    Ok(path)
}

fn beside_path(exe: &Path, name: &str) -> anyhow::Result<PathBuf> {
    Ok(exe
        .parent()
        .with_context(|| format!("{} has no directory", exe.display()))?
        .join(name))
}
