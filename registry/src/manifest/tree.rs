//! A small document tree with source positions, read from YAML or JSON.
//!
//! Manifests are read in two steps: text → [`Node`] tree (this module), then
//! tree → typed manifest ([`super::decode`]). The tree keeps every scalar as
//! text plus whether it was quoted, so the typed step decides what a scalar
//! means from the schema ("1.0" stays text where a version is expected; no
//! YAML 1.1 surprises such as `no` turning into `false`).
//!
//! The YAML reader accepts a strict subset, which keeps hostile input cheap:
//! one document, no anchors or aliases (no "billion laughs"), no tags, no
//! duplicate keys, scalar keys only, bounded depth and node count.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, counting from 1.
    pub line: usize,
    /// Column, counting from 1.
    pub column: usize,
}

/// One value of the document, with where it started (`None` for JSON input,
/// whose reader keeps no positions).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub pos: Option<Pos>,
    pub value: NodeValue,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeValue {
    /// Null: YAML `~`, `null` or an empty value; JSON `null`.
    Null,
    /// A scalar as written. `quoted` is true for quoted or block YAML
    /// scalars and for JSON strings: such text is never read as a number.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it stands.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub text: String,
    pub pos: Option<Pos>,
}

/// A YAML input the strict reader refuses, with where.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Deepest nesting accepted; a manifest needs about 6.
const MAX_DEPTH: usize = 32;
/// Most nodes accepted in one document.
const MAX_NODES: usize = 50_000;

fn pos_of(span: &Span) -> Option<Pos> {
    Some(Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    })
}

fn syntax(span: &Span, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        pos: pos_of(span),
        message: message.into(),
    }
}

/// Reads one YAML document into a tree.
pub(crate) fn parse_yaml(text: &str) -> Result<Node, SyntaxError> {
    let mut reader = YamlReader {
        parser: Parser::new_from_str(text),
        nodes: 0,
    };
    let mut root = None;
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::DocumentStart(_) if root.is_some() => {
                return Err(syntax(
                    &span,
                    "only one YAML document is allowed (found '---' after the first)",
                ));
            }
            Event::DocumentStart(_) => root = Some(reader.node(0)?),
            Event::StreamEnd => break,
            _ => return Err(syntax(&span, "unexpected YAML structure")),
        }
    }
    Ok(root.unwrap_or(Node {
        pos: Some(Pos { line: 1, column: 1 }),
        value: NodeValue::Null,
    }))
}

struct YamlReader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    nodes: usize,
}

impl<'a> YamlReader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(SyntaxError {
                pos: Some(Pos {
                    line: e.marker().line(),
                    column: e.marker().col() + 1,
                }),
                message: format!("YAML syntax: {}", e.info()),
            }),
            None => Err(SyntaxError {
                pos: None,
                message: "YAML ended unexpectedly".into(),
            }),
        }
    }

    /// Reads the node that starts with the next event.
    fn node(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        let (event, span) = self.next()?;
        self.node_from(event, span, depth)
    }

    fn node_from(
        &mut self,
        event: Event<'a>,
        span: Span,
        depth: usize,
    ) -> Result<Node, SyntaxError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(syntax(
                &span,
                format!("more than {MAX_NODES} values in one document"),
            ));
        }
        if depth > MAX_DEPTH {
            return Err(syntax(
                &span,
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        let pos = pos_of(&span);
        let value = match event {
            Event::Alias(_) => {
                return Err(syntax(
                    &span,
                    "YAML aliases (*name) are not supported in manifests",
                ));
            }
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if anchor != 0 =>
            {
                return Err(syntax(
                    &span,
                    "YAML anchors (&name) are not supported in manifests",
                ));
            }
            Event::Scalar(_, _, _, Some(tag))
            | Event::SequenceStart(_, Some(tag))
            | Event::MappingStart(_, Some(tag)) => {
                return Err(syntax(
                    &span,
                    format!(
                        "YAML tags ({}{}) are not supported in manifests",
                        tag.handle, tag.suffix
                    ),
                ));
            }
            Event::Scalar(text, style, _, None) => scalar(text.into_owned(), style),
            Event::SequenceStart(_, None) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(event, span, depth + 1)?);
                }
                NodeValue::Seq(items)
            }
            Event::MappingStart(_, None) => NodeValue::Map(self.mapping(depth)?),
            _ => return Err(syntax(&span, "unexpected YAML structure")),
        };
        Ok(Node { pos, value })
    }

    fn mapping(&mut self, depth: usize) -> Result<Vec<(Key, Node)>, SyntaxError> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            let text = match event {
                Event::MappingEnd => return Ok(entries),
                Event::Scalar(text, _, 0, None) => text.into_owned(),
                _ => return Err(syntax(&span, "mapping keys must be plain text")),
            };
            if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == text) {
                let earlier = first
                    .pos
                    .map(|p| format!(" (first at line {})", p.line))
                    .unwrap_or_default();
                return Err(syntax(&span, format!("duplicate key '{text}'{earlier}")));
            }
            let key = Key {
                text,
                pos: pos_of(&span),
            };
            let value = self.node(depth + 1)?;
            entries.push((key, value));
        }
    }
}

fn scalar(text: String, style: ScalarStyle) -> NodeValue {
    let quoted = !matches!(style, ScalarStyle::Plain);
    if !quoted && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
        NodeValue::Null
    } else {
        NodeValue::Scalar { text, quoted }
    }
}

/// Builds a position-less tree from parsed JSON (a signed manifest's
/// payload), taking its strings over rather than copying them.
pub(crate) fn from_json(value: Value) -> Node {
    let value = match value {
        Value::Null => NodeValue::Null,
        Value::Bool(b) => NodeValue::Scalar {
            text: b.to_string(),
            quoted: false,
        },
        Value::Number(n) => NodeValue::Scalar {
            text: n.to_string(),
            quoted: false,
        },
        Value::String(text) => NodeValue::Scalar { text, quoted: true },
        Value::Array(items) => NodeValue::Seq(items.into_iter().map(from_json).collect()),
        Value::Object(map) => NodeValue::Map(
            map.into_iter()
                .map(|(text, v)| (Key { text, pos: None }, from_json(v)))
                .collect(),
        ),
    };
    Node { pos: None, value }
}

/// Reads JSON text (a signed manifest's payload) straight into a
/// position-less tree, the same tree [`from_json`] builds from parsed
/// JSON, without building that JSON first. A mapping that names a key
/// twice is refused: which of the two was meant is not for the reader to
/// guess.
pub(crate) fn parse_json(text: &str) -> Result<Node, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let node = Node::deserialize(&mut reader)?;
    reader.end()?;
    Ok(node)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserializer.deserialize_any(JsonNode)?;
        Ok(Node { pos: None, value })
    }
}

/// Builds one [`NodeValue`] from whatever JSON value comes next.
struct JsonNode;

impl<'de> Visitor<'de> for JsonNode {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<NodeValue, E> {
        Ok(unquoted(b.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<NodeValue, E> {
        Ok(unquoted(n.to_string()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<NodeValue, E> {
        Ok(unquoted(n.to_string()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<NodeValue, E> {
        // Written as serde_json writes a number, as `from_json` does.
        Ok(unquoted(
            Number::from_f64(n).map_or_else(String::new, |n| n.to_string()),
        ))
    }

    fn visit_str<E>(self, text: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar {
            text: text.to_owned(),
            quoted: true,
        })
    }

    fn visit_string<E>(self, text: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar { text, quoted: true })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(text) = map.next_key::<String>()? {
            let value = map.next_value()?;
            entries.push((Key { text, pos: None }, value));
        }
        let mut keys: Vec<&str> = entries.iter().map(|(k, _)| k.text.as_str()).collect();
        keys.sort_unstable();
        if let Some(twice) = keys.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(de::Error::custom(format!(
                "key '{}' appears twice",
                twice[0]
            )));
        }
        Ok(NodeValue::Map(entries))
    }
}

fn unquoted(text: String) -> NodeValue {
    NodeValue::Scalar {
        text,
        quoted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = parse_yaml(text).unwrap_err();
        format!("{:?}: {}", e.pos, e.message)
    }

    #[test]
    fn scalars_keep_text_and_quoting() {
        let node = parse_yaml("a: 1.0\nb: '1.0'\nc:\nd: no\n").unwrap();
        let NodeValue::Map(entries) = node.value else {
            panic!()
        };
        let texts: Vec<_> = entries
            .iter()
            .map(|(k, v)| (k.text.as_str(), format!("{:?}", v.value)))
            .collect();
        assert!(texts[0].1.contains("\"1.0\", quoted: false"));
        assert!(texts[1].1.contains("\"1.0\", quoted: true"));
        assert_eq!(texts[2].1, "Null");
        assert!(texts[3].1.contains("\"no\""));
    }

    #[test]
    fn json_text_reads_into_the_tree_parsed_json_gives() {
        let text = r#"{"a":[1,-2,2.5,1e300,true,null,"x\n\u00e9"],"b":{"c":"1.0","d":{}},"e":[]}"#;
        let direct = parse_json(text).unwrap();
        let through_value = from_json(serde_json::from_str(text).unwrap());
        assert_eq!(format!("{direct:?}"), format!("{through_value:?}"));
    }

    #[test]
    fn json_text_naming_a_key_twice_is_refused() {
        let e = parse_json(r#"{"a":{"b":1,"c":2,"b":3}}"#).unwrap_err();
        assert!(e.to_string().contains("key 'b' appears twice"), "{e}");
        assert!(parse_json(r#"{"a":1} x"#).is_err(), "trailing text");
    }

    #[test]
    fn positions_are_one_based() {
        let node = parse_yaml("a:\n  - x\n  - y\n").unwrap();
        let NodeValue::Map(entries) = node.value else {
            panic!()
        };
        let NodeValue::Seq(items) = &entries[0].1.value else {
            panic!()
        };
        assert_eq!(items[1].pos, Some(Pos { line: 3, column: 5 }));
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let e = err("a: 1\nb: 2\na: 3\n");
        assert!(
            e.contains("line: 3") && e.contains("duplicate key 'a' (first at line 1)"),
            "{e}"
        );
    }

    #[test]
    fn aliases_anchors_and_tags_are_refused() {
        assert!(err("a: &x 1\nb: *x\n").contains("anchors"));
        assert!(err("a: !!str 1\n").contains("tags"));
    }

    #[test]
    fn second_document_is_refused() {
        assert!(err("a: 1\n---\nb: 2\n").contains("only one YAML document"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(err(&deep).contains("nested deeper"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.pos.is_some());
        assert!(e.message.starts_with("YAML syntax"));
    }
}
