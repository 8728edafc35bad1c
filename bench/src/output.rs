//! How results reach the user: text for people, JSON (`--json`) for scripts.

use serde::Serialize;

/// Where command results and errors are printed, in the chosen format.
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether results are printed as JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn result<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: cannot encode result as JSON: {e}"),
            }
        } else {
            println!("{}", text().trim_end());
        }
    }

    /// Prints a failure: `{"error": …}` on stdout with `--json`, else `error: …` on stderr.
    pub fn error(&self, err: &anyhow::Error) {
        if self.json {
            let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
            println!(
                "{}",
                serde_json::json!({ "error": format!("{err:#}"), "causes": chain })
            );
        } else {
            eprintln!("error: {err:#}");
        }
    }
}
