//! How results reach the user: text for people, JSON (`--json`) for scripts.

use archy_node::client::ClientError;
use archy_node::operations::causes_said_once;
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

    /// Prints a failure: `{"error": …}` on stdout with `--json`, else
    /// `error: …` on stderr; then what the user can do about it, if known.
    pub fn error(&self, err: &anyhow::Error, hint: Option<&str>) {
        let (error, causes) = describe(err);
        if self.json {
            let mut value = serde_json::json!({ "error": error, "causes": causes });
            if let Some(hint) = hint {
                value["hint"] = hint.into();
            }
            println!("{value}");
        } else {
            let text = std::iter::once(error.as_str())
                .chain(causes.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("error: {text}");
            if let Some(hint) = hint {
                eprintln!("hint: {hint}");
            }
        }
    }
}

/// A failure's message and the causes under it, each said once: a cause
/// whose text a message above already carries is left out (many errors
/// repeat their source's text in their own). A node's answer keeps its
/// own message and causes.
fn describe(err: &anyhow::Error) -> (String, Vec<String>) {
    if let Some(ClientError::Api { error, causes, .. }) = err.downcast_ref::<ClientError>() {
        return (
            error.clone(),
            causes_said_once(error, causes.iter().cloned()),
        );
    }
    let error = err.to_string();
    let causes = causes_said_once(&error, err.chain().skip(1).map(ToString::to_string));
    (error, causes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("port 8080 is taken")]
    struct Taken;

    #[derive(Debug, thiserror::Error)]
    #[error("install failed: {0}")]
    struct Install(#[source] Taken);

    #[test]
    fn a_cause_the_message_already_says_is_said_once() {
        let err = anyhow::Error::new(Install(Taken)).context("hello-web");
        let (error, causes) = describe(&err);
        assert_eq!(error, "hello-web");
        assert_eq!(causes, ["install failed: port 8080 is taken"]);
        let api = anyhow::Error::new(ClientError::Api {
            status: 409,
            error: "app x: port taken".into(),
            causes: vec!["app x: port taken".into(), "by y".into()],
        });
        assert_eq!(
            describe(&api),
            ("app x: port taken".to_owned(), vec!["by y".to_owned()])
        );
    }
}
