//! Where a field sits in a TOML text: the line of a dotted path (`signals.inline[2].sl_pct`),
//! and the dotted path of the value at a byte offset (for serde's errors, which carry a span but
//! name a key or a bad value ambiguously). Used by scenario and sweep errors so that every
//! message cites the user's own file and line.
//!
//! Contract: pure functions of the text; a text that does not parse yields `None` (the caller
//! then names the file and field without a line).

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Splits `a.b[2].c` into segments (a key holding dots must be given as [`Seg::Key`] directly).
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(Seg::Key(rest[..i].to_string()));
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else { break };
                if let Ok(n) = r[..end].parse() {
                    out.push(Seg::Index(n));
                }
                rest = &r[end + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The span of the key (or array element) that `path` names, if every step exists.
pub fn span_of(text: &str, path: &[Seg]) -> Option<Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let mut table: &DeTable = doc.get_ref();
    let mut value: Option<&DeValue> = None;
    let mut span = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if let Some(v) = value {
                    table = match v {
                        DeValue::Table(t) => t,
                        _ => return None,
                    };
                }
                let (key, v) = table.iter().find(|(key, _)| key.get_ref().as_ref() == k)?;
                span = Some(key.span());
                value = Some(v.get_ref());
            }
            Seg::Index(i) => {
                let DeValue::Array(a) = value? else {
                    return None;
                };
                let item = a.get(*i)?;
                span = Some(item.span());
                value = Some(item.get_ref());
            }
        }
    }
    span
}

/// The 1-based line of the field at a dotted path (`signals.inline[2].sl_pct`), if present.
pub fn line_of_path(text: &str, path: &str) -> Option<usize> {
    span_of(text, &parse_path(path)).map(|s| line_at(text, s.start))
}

/// The 1-based line of a field given as segments, if present.
pub fn line_of_segs(text: &str, path: &[Seg]) -> Option<usize> {
    span_of(text, path).map(|s| line_at(text, s.start))
}

/// The dotted path of the innermost key or array element whose key or value span contains
/// `offset` (`signals.inline[0].action`), if any. Tables written with a `[header]` are searched
/// whatever their own span (it may cover the header only).
pub fn path_at(text: &str, offset: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    find_in_table(doc.get_ref(), offset, "")
}

fn inside(r: &Range<usize>, offset: usize) -> bool {
    r.start <= offset && offset < r.end.max(r.start + 1)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn find_in_table(t: &DeTable, offset: usize, prefix: &str) -> Option<String> {
    for (k, v) in t.iter() {
        let p = join(prefix, k.get_ref());
        if inside(&k.span(), offset) {
            return Some(p);
        }
        if let Some(deeper) = find_in_value(v.get_ref(), &v.span(), offset, &p) {
            return Some(deeper);
        }
    }
    None
}

fn find_in_value(v: &DeValue, span: &Range<usize>, offset: usize, path: &str) -> Option<String> {
    match v {
        DeValue::Table(t) => find_in_table(t, offset, path)
            .or_else(|| inside(span, offset).then(|| path.to_string())),
        DeValue::Array(a) => {
            for (i, it) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                if let Some(x) = find_in_value(it.get_ref(), &it.span(), offset, &p) {
                    return Some(x);
                }
            }
            inside(span, offset).then(|| path.to_string())
        }
        _ => inside(span, offset).then(|| path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "name = \"x\"\n[data]\nklines = [\"a\"]\nfrom = \"2026-02-01\"\n\n[signals]\ninline = [\n  { at = \"1\", action = \"buy\" },\n  { at = \"2\", action = \"sell\", sl_pct = \"0.5\" },\n]\n[grid]\n\"engine.poll_interval_ms\" = [1, 2]\n";

    #[test]
    fn lines_of_nested_fields_and_array_elements() {
        assert_eq!(line_of_path(T, "name"), Some(1));
        assert_eq!(line_of_path(T, "data"), Some(2));
        assert_eq!(line_of_path(T, "data.from"), Some(4));
        assert_eq!(line_of_path(T, "signals.inline[1].sl_pct"), Some(9));
        assert_eq!(line_of_path(T, "signals.inline[0]"), Some(8));
        assert_eq!(line_of_path(T, "signals.inline[5]"), None);
        assert_eq!(line_of_path(T, "data.to"), None);
        assert_eq!(
            line_of_segs(
                T,
                &[
                    Seg::Key("grid".into()),
                    Seg::Key("engine.poll_interval_ms".into())
                ]
            ),
            Some(12)
        );
        assert_eq!(line_of_path("not = = toml", "not"), None);
    }

    #[test]
    fn path_of_an_offset() {
        let at = T.find("\"sell\"").unwrap();
        assert_eq!(path_at(T, at).as_deref(), Some("signals.inline[1].action"));
        let at = T.find("2026").unwrap();
        assert_eq!(path_at(T, at).as_deref(), Some("data.from"));
        let at = T.find("[1, 2]").unwrap() + 1;
        assert_eq!(
            path_at(T, at).as_deref(),
            Some("grid.engine.poll_interval_ms[0]")
        );
    }
}
