//! Which objects need which: the reverse edges the planner follows to recreate everything
//! that depends on a changed object.
//!
//! Edges come from the model (`depends_on` of views and functions, which inspection reads from
//! `pg_depend`; foreign keys; sequence ownership; sub-objects of a relation) and from the names
//! an object's SQL mentions: a default calling `public.next_id()`, a policy reading
//! `public.team`, a trigger executing `public.touch()`. Mentions are found by scanning the SQL
//! once for schema-qualified names (the creation script qualifies every name), so building the
//! graph is linear in the size of the schema. Relations without a schema (SQLite has none) are
//! named bare, and a trigger's body then needs every relation whose name it mentions — an
//! over-approximation (a column spelled like a table), which only recreates a trigger more.

use std::collections::{BTreeSet, HashMap};

use crate::schema::key::ObjectKey;
use crate::schema::{qualified, Schema, Table};

/// Fast lookups into one schema, built once per plan.
pub(super) struct Lookup<'a> {
    pub tables: HashMap<String, &'a Table>,
    views: HashMap<String, bool>,
    /// `schema.name` → keys of the functions with that name (overloads).
    functions: HashMap<String, Vec<ObjectKey>>,
    function_depends: HashMap<String, &'a [String]>,
    view_depends: HashMap<String, &'a [String]>,
    /// `schema.index` → the relation it is on and the index it is attached to.
    pub indexes: HashMap<String, (ObjectKey, Option<String>)>,
    sequence_owner: HashMap<String, String>,
    publications: HashMap<&'a str, Vec<String>>,
    /// Relations without a schema, by lowercase name (such names are case-insensitive).
    bare: HashMap<String, String>,
}

impl<'a> Lookup<'a> {
    pub fn new(schema: &'a Schema) -> Lookup<'a> {
        let mut lookup = Lookup {
            tables: HashMap::new(),
            views: HashMap::new(),
            functions: HashMap::new(),
            function_depends: HashMap::new(),
            view_depends: HashMap::new(),
            indexes: HashMap::new(),
            sequence_owner: HashMap::new(),
            publications: HashMap::new(),
            bare: HashMap::new(),
        };
        for t in &schema.tables {
            let name = qualified(&t.schema, &t.name);
            for i in &t.indexes {
                lookup.indexes.insert(
                    qualified(&t.schema, &i.name),
                    (
                        ObjectKey::Table { name: name.clone() },
                        i.attached_to.clone(),
                    ),
                );
            }
            if t.schema.is_empty() {
                lookup.bare.insert(t.name.to_lowercase(), name.clone());
            }
            lookup.tables.insert(name, t);
        }
        for v in &schema.views {
            let name = qualified(&v.schema, &v.name);
            for i in &v.indexes {
                lookup.indexes.insert(
                    qualified(&v.schema, &i.name),
                    (
                        ObjectKey::View { name: name.clone() },
                        i.attached_to.clone(),
                    ),
                );
            }
            if v.schema.is_empty() {
                lookup.bare.insert(v.name.to_lowercase(), name.clone());
            }
            lookup.view_depends.insert(name.clone(), &v.depends_on);
            lookup.views.insert(name, v.materialized);
        }
        for f in &schema.functions {
            let key = format!("{}.{}({})", f.schema, f.name, f.arguments);
            lookup.function_depends.insert(key.clone(), &f.depends_on);
            lookup
                .functions
                .entry(format!("{}.{}", f.schema, f.name))
                .or_default()
                .push(ObjectKey::Function { name: key });
        }
        for s in &schema.sequences {
            if let Some((table, _column)) = s.owned_by.as_deref().and_then(|o| o.rsplit_once('.')) {
                lookup
                    .sequence_owner
                    .insert(qualified(&s.schema, &s.name), table.to_string());
            }
        }
        for p in &schema.publications {
            lookup
                .publications
                .insert(&p.name, p.tables.iter().map(|t| t.table.clone()).collect());
        }
        lookup
    }

    /// The key of a relation: a view's, or else a table's.
    pub fn relation(&self, name: &str) -> ObjectKey {
        if self.views.contains_key(name) {
            ObjectKey::View {
                name: name.to_string(),
            }
        } else {
            ObjectKey::Table {
                name: name.to_string(),
            }
        }
    }

    /// A `depends_on` entry: `schema.name(args)` is a function, anything else a relation.
    fn dependency(&self, reference: &str) -> ObjectKey {
        if reference.ends_with(')') && reference.contains('(') {
            ObjectKey::Function {
                name: reference.to_string(),
            }
        } else {
            self.relation(reference)
        }
    }

    fn is_relation(&self, name: &str) -> bool {
        self.tables.contains_key(name) || self.views.contains_key(name)
    }

    /// What one object needs to exist.
    fn requirements(&self, key: &ObjectKey, sql: &str) -> Vec<ObjectKey> {
        let mut needs = Vec::new();
        match key {
            ObjectKey::Comment { on } | ObjectKey::Access { on } => {
                needs.push((**on).clone());
                // A column's comment and grants go with its table when the table is replaced.
                if let ObjectKey::Column { table, .. } = &**on {
                    needs.push(self.relation(table));
                }
            }
            ObjectKey::SequenceOwner { name } => {
                needs.push(ObjectKey::Sequence { name: name.clone() });
                if let Some(table) = self.sequence_owner.get(name) {
                    needs.push(ObjectKey::Table {
                        name: table.clone(),
                    });
                }
            }
            ObjectKey::View { name } => {
                let depends = self.view_depends.get(name).copied().unwrap_or_default();
                needs.extend(depends.iter().map(|d| self.dependency(d)));
            }
            ObjectKey::Function { name } => {
                let depends = self.function_depends.get(name).copied().unwrap_or_default();
                needs.extend(depends.iter().map(|d| self.dependency(d)));
            }
            ObjectKey::Publication { name } => {
                if let Some(tables) = self.publications.get(name.as_str()) {
                    needs.extend(tables.iter().map(|t| ObjectKey::Table { name: t.clone() }));
                }
            }
            ObjectKey::Index { name } => {
                if let Some((relation, _)) = self.indexes.get(name) {
                    needs.push(relation.clone());
                }
            }
            ObjectKey::ReplicaIdentity { table } => {
                let index = self.tables.get(table).and_then(|t| {
                    Some((t, t.replica_identity.as_deref()?.strip_prefix("index ")?))
                });
                if let Some((t, index)) = index {
                    needs.push(ObjectKey::Index {
                        name: qualified(&t.schema, index),
                    });
                }
            }
            ObjectKey::Constraint { table, name } => {
                let target = self
                    .tables
                    .get(table)
                    .and_then(|t| t.constraints.iter().find(|c| &c.name == name))
                    .and_then(|c| c.references.as_ref());
                if let Some(target) = target {
                    needs.push(ObjectKey::Table {
                        name: target.table.clone(),
                    });
                }
            }
            _ => {}
        }
        if let Some(relation) = key.table() {
            if !matches!(key, ObjectKey::Table { .. }) {
                needs.push(self.relation(relation));
            }
        }
        // Defaults, triggers, policies, checks, index expressions, domains and event triggers
        // call functions and read relations by (qualified) name.
        if matches!(
            key,
            ObjectKey::Column { .. }
                | ObjectKey::Trigger { .. }
                | ObjectKey::Policy { .. }
                | ObjectKey::Type { .. }
                | ObjectKey::EventTrigger { .. }
                | ObjectKey::Constraint { .. }
                | ObjectKey::Index { .. }
        ) {
            for (name, is_call) in qualified_names(sql) {
                if is_call {
                    if let Some(keys) = self.functions.get(&name) {
                        needs.extend(keys.iter().cloned());
                    }
                } else if self.is_relation(&name) && key.table() != Some(name.as_str()) {
                    needs.push(self.relation(&name));
                }
            }
        }
        if matches!(key, ObjectKey::Trigger { .. }) && !self.bare.is_empty() {
            for name in bare_names(sql) {
                if let Some(relation) = self.bare.get(&name.to_lowercase()) {
                    if key.table() != Some(relation.as_str()) {
                        needs.push(self.relation(relation));
                    }
                }
            }
        }
        needs
    }
}

/// Reverse dependency edges: for each object, the objects that need it.
pub(super) struct Dependents {
    edges: HashMap<ObjectKey, BTreeSet<ObjectKey>>,
}

impl Dependents {
    /// Edges of both schemas together: what depends on an object in the source must be
    /// dropped before it, what depends on it in the target must be created after it.
    pub fn new<'k>(
        sides: [(
            &Lookup<'_>,
            &mut dyn Iterator<Item = (&'k ObjectKey, &'k str)>,
        ); 2],
    ) -> Dependents {
        let mut edges: HashMap<ObjectKey, BTreeSet<ObjectKey>> = HashMap::new();
        for (lookup, objects) in sides {
            for (key, sql) in objects {
                for needed in lookup.requirements(key, sql) {
                    if &needed != key {
                        edges.entry(needed).or_default().insert(key.clone());
                    }
                }
            }
        }
        Dependents { edges }
    }

    pub fn of(&self, key: &ObjectKey) -> Vec<&ObjectKey> {
        self.edges
            .get(key)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }
}

/// Schema-qualified names in SQL text (`schema.name` with either part bare or double-quoted),
/// raw (unquoted), each with whether a `(` follows (a call). String literals and comments are
/// skipped.
pub(crate) fn qualified_names(sql: &str) -> Vec<(String, bool)> {
    let tokens = tokens(sql);
    let mut names = Vec::new();
    let mut i = 0;
    while i + 2 < tokens.len() {
        if let (Token::Ident(schema), Token::Dot, Token::Ident(name)) =
            (&tokens[i], &tokens[i + 1], &tokens[i + 2])
        {
            let preceded_by_dot = i > 0 && tokens[i - 1] == Token::Dot;
            if !preceded_by_dot {
                let call = tokens.get(i + 3) == Some(&Token::Open);
                names.push((format!("{schema}.{name}"), call));
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    names
}

/// Names in SQL text that stand alone: neither `x.` nor `.x` (a qualifier or a column of one),
/// as written (quotes removed; unquoted names lowercase).
fn bare_names(sql: &str) -> Vec<String> {
    let tokens = tokens(sql);
    let dot = |i: Option<usize>| i.and_then(|i| tokens.get(i)) == Some(&Token::Dot);
    tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Token::Ident(name) if !dot(i.checked_sub(1)) && !dot(Some(i + 1)) => Some(name.clone()),
            _ => None,
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    Dot,
    Open,
    Other,
}

fn tokens(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Other);
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '"' {
            let mut name = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        name.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                name.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Ident(name));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            // Unquoted identifiers fold to lower case.
            out.push(Token::Ident(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else {
            out.push(match c {
                '.' => Token::Dot,
                '(' => Token::Open,
                _ => Token::Other,
            });
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            continue;
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_qualified_calls_and_relations_outside_literals() {
        let names = qualified_names(
            "CHECK ((public.is_valid(code) AND 'public.fake(' <> x AND \"My Schema\".\"T\".col > 0))",
        );
        assert_eq!(
            names,
            vec![
                ("public.is_valid".to_string(), true),
                ("My Schema.T".to_string(), false)
            ]
        );
    }

    #[test]
    fn bare_names_leave_out_qualifiers_and_their_columns() {
        assert_eq!(
            bare_names("INSERT INTO \"Audit\" (x) SELECT NEW.id FROM [order] o WHERE o.v = 'lit'"),
            ["insert", "into", "Audit", "x", "select", "from", "order", "o", "where"]
        );
    }

    #[test]
    fn a_column_reference_is_not_taken_for_a_relation() {
        // `t.col` inside `public.t.col`: only the leading schema.name pair counts.
        let names = qualified_names("public.t.col = 1");
        assert_eq!(names, vec![("public.t".to_string(), false)]);
    }
}
