//! Shell-style globs as Python's `fnmatch` reads them: `*`, `?`, `[abc]`,
//! `[a-z]` and `[!abc]`. TUF delegations match one path segment at a time
//! with these, and python-tuf is the reference for their meaning.

/// Whether `text` matches `pattern` as a whole.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches_from(&pattern, &text)
}

fn matches_from(pattern: &[char], text: &[char]) -> bool {
    // Iterative matching with one backtrack point per `*` (the classic
    // wildcard algorithm): linear in practice, never exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(&c) => {
                let (matched, next) = match_one(pattern, p, c, text[t]);
                if matched {
                    p = next;
                    t += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Matches one pattern element starting at `p` (whose first char is `c`)
/// against `ch`; returns whether it matched and where the next element is.
fn match_one(pattern: &[char], p: usize, c: char, ch: char) -> (bool, usize) {
    match c {
        '?' => (true, p + 1),
        '[' => match bracket(pattern, p) {
            Some(set) => (set.contains(ch), set.end),
            None => (ch == '[', p + 1),
        },
        _ => (ch == c, p + 1),
    }
}

/// A `[...]` set: its members as inclusive ranges, whether it is negated,
/// and the pattern index after its `]`.
struct CharSet {
    ranges: Vec<(char, char)>,
    negated: bool,
    end: usize,
}

impl CharSet {
    fn contains(&self, ch: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= ch && ch <= hi) != self.negated
    }
}

/// The `[...]` set starting at `p`, or `None` when it is unclosed (then `[`
/// is an ordinary character).
fn bracket(pattern: &[char], p: usize) -> Option<CharSet> {
    let mut i = p + 1;
    let negated = pattern.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let start = i;
    let mut ranges = Vec::new();
    loop {
        let &c = pattern.get(i)?;
        if c == ']' && i > start {
            return Some(CharSet {
                ranges,
                negated,
                end: i + 1,
            });
        }
        if pattern.get(i + 1) == Some(&'-')
            && let Some(&hi) = pattern.get(i + 2)
            && hi != ']'
        {
            ranges.push((c, hi));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn fnmatch_semantics() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("*.tgz", "app.tgz", true),
            ("*.tgz", "app.tar", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[!ab]x", "cx", true),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[]]", "]", true),
            ("[", "[", true),
            ("[a", "[a", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("**", "x", true),
            ("file", "File", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "a*".repeat(200));
        assert!(!glob_match(&pattern, &text));
    }
}
