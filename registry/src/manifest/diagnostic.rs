//! Problems found in a manifest, each with where it is and why it is wrong.
//!
//! Readers collect every problem rather than stop at the first, so a
//! developer fixes a manifest in one round trip:
//!
//! ```text
//! apps/notes/manifest.yml:12:7: containers[0].volumes[1].path: '../etc' escapes the app's data dir
//! ```

use std::fmt;

use super::tree::Pos;

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where in the source text, when the source was YAML.
    pub pos: Option<Pos>,
    /// The field path, such as `containers[0].ports[1].container`; empty for
    /// the document as a whole.
    pub path: String,
    /// What is wrong, in words.
    pub message: String,
}

/// Every problem found in one manifest, with the file they belong to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics {
    /// The file name shown before each problem.
    pub file: String,
    /// The problems, in document order where positions are known.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// A single problem with the file as a whole (unreadable, too large, …).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            items: vec![Diagnostic {
                pos: None,
                path: String::new(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pos) = self.pos {
            write!(f, "{}:{}: ", pos.line, pos.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let gap = if item.pos.is_some() { "" } else { " " };
            write!(f, "{}:{gap}{item}", self.file)?;
        }
        Ok(())
    }
}
