//! Generic readers from a [`Node`] tree to typed values that collect every
//! problem instead of stopping at the first.
//!
//! Each reader takes the node, its field path and the [`Cx`] that gathers
//! diagnostics, and returns `None` when it reported a problem. Struct readers
//! use [`Obj`], which also reports fields the schema does not know.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::diagnostic::Diagnostic;
use super::tree::{Key, Node, NodeValue, Pos};

/// Collects diagnostics and remembers where each field path stands, so
/// checks that run after reading can still point at a line.
#[derive(Default)]
pub(crate) struct Cx {
    pub diags: Vec<Diagnostic>,
    positions: HashMap<String, Pos>,
}

impl Cx {
    pub fn error(&mut self, pos: Option<Pos>, path: impl fmt::Display, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            pos,
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Reports a problem at a path read earlier.
    pub fn error_at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.positions.get(path).copied();
        self.error(pos, path, message);
    }

    /// Notes where `path` stands; JSON input has no positions, so reading it
    /// never spells out a path unless there is a problem to report.
    fn remember(&mut self, path: &FieldPath<'_>, pos: Option<Pos>) {
        if let Some(pos) = pos {
            self.positions.insert(path.to_string(), pos);
        }
    }
}

/// Where a value sits, such as `containers[0].ports[1].host`. Built on the
/// stack as reading descends and only turned into text for a diagnostic.
#[derive(Clone, Copy)]
pub(crate) enum FieldPath<'a> {
    /// The document itself.
    Root,
    /// A named field of a mapping.
    Field(&'a FieldPath<'a>, &'a str),
    /// An item of a list.
    Index(&'a FieldPath<'a>, usize),
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Root => Ok(()),
            FieldPath::Field(FieldPath::Root, name) => f.write_str(name),
            FieldPath::Field(parent, name) => write!(f, "{parent}.{name}"),
            FieldPath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// What a node is, for "expected X, found Y" messages.
fn kind(node: &Node) -> &'static str {
    match &node.value {
        NodeValue::Null => "nothing",
        NodeValue::Scalar { quoted: true, .. } => "quoted text",
        NodeValue::Scalar { .. } => "a plain value",
        NodeValue::Seq(_) => "a list",
        NodeValue::Map(_) => "a mapping",
    }
}

/// The fields of one mapping, read one by one; whatever is left unread at
/// [`Obj::finish`] is an unknown field.
pub(crate) struct Obj<'n, 'p> {
    entries: &'n [(Key, Node)],
    read: Vec<bool>,
    path: &'p FieldPath<'p>,
    pub pos: Option<Pos>,
}

impl<'n, 'p> Obj<'n, 'p> {
    pub fn open(node: &'n Node, path: &'p FieldPath<'p>, cx: &mut Cx) -> Option<Self> {
        cx.remember(path, node.pos);
        match &node.value {
            NodeValue::Map(entries) => Some(Self {
                entries,
                read: vec![false; entries.len()],
                path,
                pos: node.pos,
            }),
            _ => {
                cx.error(
                    node.pos,
                    path,
                    format!("expected a mapping, found {}", kind(node)),
                );
                None
            }
        }
    }

    /// The field `name` if present and not null, marked as read.
    fn take(&mut self, name: &str) -> Option<&'n Node> {
        let index = self.entries.iter().position(|(k, _)| k.text == name)?;
        self.read[index] = true;
        let node = &self.entries[index].1;
        (!matches!(node.value, NodeValue::Null)).then_some(node)
    }

    /// Whether the mapping has the field at all (even if null).
    pub fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.text == name)
    }

    /// A field that must be present.
    pub fn req<T>(
        &mut self,
        cx: &mut Cx,
        name: &str,
        read: impl FnOnce(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>,
    ) -> Option<T> {
        let found = self.take(name);
        let path = FieldPath::Field(self.path, name);
        match found {
            Some(node) => {
                cx.remember(&path, node.pos);
                read(node, &path, cx)
            }
            None => {
                cx.error(self.pos, path, format!("missing required field '{name}'"));
                None
            }
        }
    }

    /// A field that may be absent: `Some(None)` when absent or null, `None`
    /// when present but wrong.
    pub fn opt<T>(
        &mut self,
        cx: &mut Cx,
        name: &str,
        read: impl FnOnce(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>,
    ) -> Option<Option<T>> {
        let found = self.take(name);
        let path = FieldPath::Field(self.path, name);
        match found {
            Some(node) => {
                cx.remember(&path, node.pos);
                read(node, &path, cx).map(Some)
            }
            None => Some(None),
        }
    }

    /// A field with a default when absent.
    pub fn or<T>(
        &mut self,
        cx: &mut Cx,
        name: &str,
        default: T,
        read: impl FnOnce(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>,
    ) -> Option<T> {
        self.opt(cx, name, read).map(|v| v.unwrap_or(default))
    }

    /// Reports every field not read. `forbidden` gives a specific reason for
    /// fields people try on purpose (`privileged`, `network: host`, …).
    pub fn finish(self, cx: &mut Cx, forbidden: &[(&str, &str)]) {
        for ((key, _), read) in self.entries.iter().zip(&self.read) {
            if *read {
                continue;
            }
            let path = FieldPath::Field(self.path, &key.text);
            match forbidden.iter().find(|(name, _)| *name == key.text) {
                Some((_, reason)) => cx.error(key.pos, path, *reason),
                None => cx.error(key.pos, path, format!("unknown field '{}'", key.text)),
            }
        }
    }
}

/// Text of at most `max` characters, without control characters other than
/// newlines (and newlines only when `multiline`).
pub(crate) fn text(
    max: usize,
    multiline: bool,
) -> impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<String> {
    move |node, path, cx| {
        let NodeValue::Scalar { text, .. } = &node.value else {
            cx.error(
                node.pos,
                path,
                format!("expected text, found {}", kind(node)),
            );
            return None;
        };
        let chars = text.chars().count();
        if chars > max {
            cx.error(
                node.pos,
                path,
                format!("is {chars} characters long; the limit is {max}"),
            );
            return None;
        }
        if text.trim().is_empty() {
            cx.error(node.pos, path, "must not be empty");
            return None;
        }
        if text
            .chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t')))
        {
            let what = if multiline {
                "control characters"
            } else {
                "line breaks or control characters"
            };
            cx.error(node.pos, path, format!("must not contain {what}"));
            return None;
        }
        Some(text.clone())
    }
}

/// A whole number in `min..=max`, written plainly (not quoted).
pub(crate) fn number<T>(min: T, max: T) -> impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    move |node, path, cx| {
        let NodeValue::Scalar {
            text,
            quoted: false,
        } = &node.value
        else {
            cx.error(
                node.pos,
                path,
                format!("expected a number, found {}", kind(node)),
            );
            return None;
        };
        match text.parse::<T>() {
            Ok(n) if n >= min && n <= max => Some(n),
            _ => {
                cx.error(
                    node.pos,
                    path,
                    format!("'{text}' is not a whole number from {min} to {max}"),
                );
                None
            }
        }
    }
}

/// `true` or `false`, written plainly.
pub(crate) fn boolean(node: &Node, path: &FieldPath<'_>, cx: &mut Cx) -> Option<bool> {
    match &node.value {
        NodeValue::Scalar {
            text,
            quoted: false,
        } if text == "true" => Some(true),
        NodeValue::Scalar {
            text,
            quoted: false,
        } if text == "false" => Some(false),
        _ => {
            cx.error(node.pos, path, "expected true or false");
            None
        }
    }
}

/// A list of at most `max` items, each read by `item`. Every item is read
/// even after one fails, so all problems are reported.
pub(crate) fn list<T>(
    max: usize,
    item: impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>,
) -> impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<Vec<T>> {
    move |node, path, cx| {
        let NodeValue::Seq(items) = &node.value else {
            cx.error(
                node.pos,
                path,
                format!("expected a list, found {}", kind(node)),
            );
            return None;
        };
        if items.len() > max {
            cx.error(
                node.pos,
                path,
                format!("has {} items; the limit is {max}", items.len()),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, child) in items.iter().enumerate() {
            let child_path = FieldPath::Index(path, i);
            cx.remember(&child_path, child.pos);
            match item(child, &child_path, cx) {
                Some(v) => out.push(v),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// A mapping from text keys to values, with at most `max` entries.
pub(crate) fn map<T>(
    max: usize,
    key: impl Fn(&str) -> Result<(), String>,
    value: impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<T>,
) -> impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<Vec<(String, T)>> {
    move |node, path, cx| {
        let NodeValue::Map(entries) = &node.value else {
            cx.error(
                node.pos,
                path,
                format!("expected a mapping, found {}", kind(node)),
            );
            return None;
        };
        if entries.len() > max {
            cx.error(
                node.pos,
                path,
                format!("has {} entries; the limit is {max}", entries.len()),
            );
            return None;
        }
        let mut out = Vec::with_capacity(entries.len());
        let mut ok = true;
        for (k, v) in entries {
            let entry_path = FieldPath::Field(path, &k.text);
            if let Err(reason) = key(&k.text) {
                cx.error(k.pos, entry_path, reason);
                ok = false;
                continue;
            }
            match value(v, &entry_path, cx) {
                Some(v) => out.push((k.text.clone(), v)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// Text that must parse with `parse`, whose error explains why not.
pub(crate) fn parsed<T>(
    max: usize,
    parse: impl Fn(&str) -> Result<T, String>,
) -> impl Fn(&Node, &FieldPath<'_>, &mut Cx) -> Option<T> {
    move |node, path, cx| {
        let raw = text(max, false)(node, path, cx)?;
        parse(&raw)
            .map_err(|reason| cx.error(node.pos, path, reason))
            .ok()
    }
}
