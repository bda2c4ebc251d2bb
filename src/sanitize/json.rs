//! Paths inside JSON documents, and applying an action at every place a path matches.
//!
//! The syntax is a small, predictable subset of JSONPath:
//!
//! | form | matches |
//! |---|---|
//! | `$` | the whole document (first in every path) |
//! | `.name`, `['name']`, `["name"]` | the member `name` of an object |
//! | `[3]` | element 3 of an array (from 0) |
//! | `[*]`, `.*` | every element of an array, or every member of an object |
//! | `..name` | the member `name` of any object at any depth below |
//!
//! A path that matches nothing in a document leaves it alone; JSON `null` values are left as
//! they are (there is nothing to mask).

use serde_json::Value;

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(String),
    Index(usize),
    Every,
    /// `..name`: the member at any depth.
    Descendant(String),
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let rest = text
            .strip_prefix('$')
            .ok_or("a path starts with `$` (the document), e.g. $.profile.phone")?;
        let chars: Vec<char> = rest.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' if chars.get(i + 1) == Some(&'.') => {
                    i += 2;
                    let (step, next) = member_after_dot(&chars, i)?;
                    let Step::Member(name) = step else {
                        return Err("`..` must be followed by a member name".into());
                    };
                    steps.push(Step::Descendant(name));
                    i = next;
                }
                '.' => {
                    let (step, next) = member_after_dot(&chars, i + 1)?;
                    steps.push(step);
                    i = next;
                }
                '[' => {
                    let close = chars[i..]
                        .iter()
                        .position(|&c| c == ']')
                        .map(|p| i + p)
                        .ok_or("an unclosed `[`")?;
                    let inside: String = chars[i + 1..close].iter().collect();
                    steps.push(bracket(inside.trim())?);
                    i = close + 1;
                }
                other => return Err(format!("unexpected `{other}`; use .name or [\"name\"]")),
            }
        }
        Ok(JsonPath {
            text: text.to_string(),
            steps,
        })
    }

    /// Applies `action` at every place the path matches. `action` gets the matched value and
    /// returns `Ok(true)` to have it removed from its parent. Returns whether anything
    /// matched.
    pub fn apply(
        &self,
        document: &mut Value,
        action: &mut dyn FnMut(&mut Value) -> Result<bool, String>,
    ) -> Result<bool, String> {
        if self.steps.is_empty() {
            // `$` itself cannot be removed; masking it replaces the document.
            action(document)?;
            return Ok(true);
        }
        walk(document, &self.steps, action)
    }
}

fn member_after_dot(chars: &[char], start: usize) -> Result<(Step, usize), String> {
    if chars.get(start) == Some(&'*') {
        return Ok((Step::Every, start + 1));
    }
    let end = chars[start..]
        .iter()
        .position(|&c| c == '.' || c == '[')
        .map_or(chars.len(), |p| start + p);
    if end == start {
        return Err("an empty member name".into());
    }
    Ok((Step::Member(chars[start..end].iter().collect()), end))
}

fn bracket(inside: &str) -> Result<Step, String> {
    if inside == "*" {
        return Ok(Step::Every);
    }
    for quote in ['\'', '"'] {
        if let Some(name) = inside
            .strip_prefix(quote)
            .and_then(|s| s.strip_suffix(quote))
        {
            return Ok(Step::Member(name.to_string()));
        }
    }
    inside
        .parse()
        .map(Step::Index)
        .map_err(|_| format!("`[{inside}]` is neither an index, `*` nor a quoted name"))
}

/// Walks `steps` from `node`; `action` runs on each match and may ask for its removal.
fn walk(
    node: &mut Value,
    steps: &[Step],
    action: &mut dyn FnMut(&mut Value) -> Result<bool, String>,
) -> Result<bool, String> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(false);
    };
    let last = rest.is_empty();
    let mut matched = false;
    match step {
        Step::Member(name) => {
            if let Value::Object(map) = node {
                if let Some(child) = map.get_mut(name) {
                    matched = true;
                    if last {
                        if action(child)? {
                            map.remove(name);
                        }
                    } else {
                        walk(child, rest, action)?;
                    }
                }
            }
        }
        Step::Index(i) => {
            if let Value::Array(items) = node {
                if let Some(child) = items.get_mut(*i) {
                    matched = true;
                    if last {
                        if action(child)? {
                            items.remove(*i);
                        }
                    } else {
                        walk(child, rest, action)?;
                    }
                }
            }
        }
        Step::Every => {
            let children: Vec<&mut Value> = match node {
                Value::Object(map) => map.values_mut().collect(),
                Value::Array(items) => items.iter_mut().collect(),
                _ => Vec::new(),
            };
            let mut removed = Vec::new();
            for (i, child) in children.into_iter().enumerate() {
                matched = true;
                if last {
                    if action(child)? {
                        removed.push(i);
                    }
                } else {
                    walk(child, rest, action)?;
                }
            }
            remove_positions(node, &removed);
        }
        Step::Descendant(name) => {
            // The member here, then the same search in every child (the member's own value
            // included, so nested matches are found too).
            let direct = [Step::Member(name.clone())]
                .into_iter()
                .chain(rest.iter().cloned())
                .collect::<Vec<_>>();
            matched |= walk(node, &direct, action)?;
            let children: Vec<&mut Value> = match node {
                Value::Object(map) => map.values_mut().collect(),
                Value::Array(items) => items.iter_mut().collect(),
                _ => Vec::new(),
            };
            for child in children {
                matched |= walk(child, steps, action)?;
            }
        }
    }
    Ok(matched)
}

/// Removes the members or elements at `positions` (in iteration order).
fn remove_positions(node: &mut Value, positions: &[usize]) {
    if positions.is_empty() {
        return;
    }
    match node {
        Value::Object(map) => {
            let keys: Vec<String> = map
                .keys()
                .enumerate()
                .filter(|(i, _)| positions.contains(i))
                .map(|(_, k)| k.clone())
                .collect();
            for key in keys {
                map.remove(&key);
            }
        }
        Value::Array(items) => {
            let mut i = 0;
            items.retain(|_| {
                i += 1;
                !positions.contains(&(i - 1))
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mask(path: &str, mut doc: Value) -> Value {
        let path = JsonPath::parse(path).unwrap();
        path.apply(&mut doc, &mut |v| {
            *v = json!("X");
            Ok(false)
        })
        .unwrap();
        doc
    }

    #[test]
    fn paths_reach_members_elements_and_descendants() {
        let doc =
            json!({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 1}, {"e": 2}], "deep": {"x": {"e": 3}}});
        assert_eq!(mask("$.a.b", doc.clone())["a"]["b"], "X");
        assert_eq!(
            mask("$['a'][\"c\"][1]", doc.clone())["a"]["c"],
            json!([1, "X"])
        );
        assert_eq!(
            mask("$.d[*].e", doc.clone())["d"],
            json!([{"e": "X"}, {"e": "X"}])
        );
        let all = mask("$..e", doc.clone());
        assert_eq!(all["d"], json!([{"e": "X"}, {"e": "X"}]));
        assert_eq!(all["deep"]["x"]["e"], "X");
        assert_eq!(mask("$.a.*", doc.clone())["a"], json!({"b": "X", "c": "X"}));
        assert_eq!(mask("$.missing.x", doc.clone()), doc);
        assert_eq!(mask("$", doc), json!("X"));
    }

    #[test]
    fn matches_can_be_removed() {
        let mut doc = json!({"keep": 1, "ssn": "x", "list": [1, 2, 3]});
        let mut remove = |_: &mut Value| Ok(true);
        JsonPath::parse("$.ssn")
            .unwrap()
            .apply(&mut doc, &mut remove)
            .unwrap();
        JsonPath::parse("$.list[1]")
            .unwrap()
            .apply(&mut doc, &mut remove)
            .unwrap();
        assert_eq!(doc, json!({"keep": 1, "list": [1, 3]}));
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["phone", "$.", "$[x]", "$[1", "$..", "$.a b"] {
            let parsed = JsonPath::parse(bad);
            if bad == "$.a b" {
                // A member name may hold spaces.
                assert!(parsed.is_ok());
            } else {
                assert!(parsed.is_err(), "{bad} parsed");
            }
        }
    }
}
