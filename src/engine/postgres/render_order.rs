//! Creation order where the kind of an object does not settle it: types, the functions that
//! need no relation and tables (phase 2 of the script), and the functions that need relations
//! together with views (phase 4).
//!
//! Each phase is a dependency graph sorted with Kahn's algorithm; among the objects that are
//! ready, the lowest rank and then the name come first, so the order is deterministic and reads
//! by kind where dependencies allow. Dependencies come from the model (`depends_on`, parents)
//! and from names found in deparsed text (a domain's CHECK calling a function, an aggregate's
//! SFUNC): the server qualifies every name it deparses under the empty `search_path`, so a
//! qualified name followed by a non-identifier character is a reliable mention.
//!
//! A function is *late* when it needs a table or view, directly or through another late
//! function; every other function is created before the tables. Types come before functions
//! and tables, except a composite type or domain built on a table's row type, which follows
//! that table.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::qualified;
use crate::schema::{
    qualified as raw_qualified, CompositeType, Domain, EnumType, Function, FunctionKind, RangeType,
    Schema, Table, View,
};

/// An object of phase 2.
pub(super) enum Early<'a> {
    Enum(&'a EnumType),
    Composite(&'a CompositeType),
    Range(&'a RangeType),
    Domain(&'a Domain),
    Function(&'a Function),
    Table(&'a Table),
}

/// An object of phase 4.
pub(super) enum Late<'a> {
    Function(&'a Function),
    View(&'a View),
}

/// The ordered objects of the phases that need a dependency sort.
pub(super) struct Plan<'a> {
    pub early: Vec<Early<'a>>,
    pub late: Vec<Late<'a>>,
}

impl<'a> Plan<'a> {
    pub(super) fn new(schema: &'a Schema) -> Plan<'a> {
        let mentions = FunctionMentions::new(schema);
        let deps: Vec<Vec<String>> = schema
            .functions
            .iter()
            .map(|f| function_deps(f, &mentions))
            .collect();
        let late = late_functions(schema, &deps);
        Plan {
            early: early_order(schema, &deps, &late, &mentions),
            late: late_order(schema, &deps, &late),
        }
    }
}

/// Types, the functions that need no relation, then tables, where dependencies allow.
fn early_order<'a>(
    schema: &'a Schema,
    deps: &[Vec<String>],
    late: &[bool],
    mentions: &FunctionMentions,
) -> Vec<Early<'a>> {
    let mut nodes = type_nodes(schema, mentions);
    for (i, f) in schema.functions.iter().enumerate() {
        if !late[i] {
            nodes.push(function_node(Early::Function(f), f, 4, &deps[i]));
        }
    }
    nodes.extend(schema.tables.iter().map(table_node));
    dependency_order(nodes)
}

/// Types depend on the types they are built from and on the functions their definitions call
/// (a domain's CHECK or DEFAULT, a range's subtype_diff).
fn type_nodes<'a>(schema: &'a Schema, mentions: &FunctionMentions) -> Vec<Node<Early<'a>>> {
    let mut nodes = Vec::new();
    for t in &schema.enums {
        nodes.push(Node::named(Early::Enum(t), 0, &t.schema, &t.name, vec![]));
    }
    for t in &schema.composite_types {
        let deps = t.attributes.iter().map(|a| type_name(&a.data_type));
        let node = Node::named(Early::Composite(t), 1, &t.schema, &t.name, deps.collect());
        nodes.push(node);
    }
    for t in &schema.range_types {
        let mut deps = vec![type_name(&t.subtype)];
        for f in [&t.canonical, &t.subtype_diff].into_iter().flatten() {
            deps.extend(mentions.in_text(f));
        }
        nodes.push(Node::named(Early::Range(t), 2, &t.schema, &t.name, deps));
    }
    for t in &schema.domains {
        let mut deps = vec![type_name(&t.data_type)];
        let texts = t
            .default
            .iter()
            .chain(t.constraints.iter().map(|c| &c.definition));
        for text in texts {
            deps.extend(mentions.in_text(text));
        }
        nodes.push(Node::named(Early::Domain(t), 3, &t.schema, &t.name, deps));
    }
    nodes
}

/// The functions that need relations, and the views, each after what it reads.
fn late_order<'a>(schema: &'a Schema, deps: &[Vec<String>], late: &[bool]) -> Vec<Late<'a>> {
    let mut nodes = Vec::new();
    for (i, f) in schema.functions.iter().enumerate() {
        if late[i] {
            nodes.push(function_node(Late::Function(f), f, 0, &deps[i]));
        }
    }
    for v in &schema.views {
        let rank = if v.materialized { 3 } else { 2 };
        let node = Node::named(
            Late::View(v),
            rank,
            &v.schema,
            &v.name,
            v.depends_on.clone(),
        );
        nodes.push(node);
    }
    dependency_order(nodes)
}

/// A table comes after its parents (inheritance and partitioning) and after the types of its
/// columns, which may be other tables' row types.
fn table_node(t: &Table) -> Node<Early<'_>> {
    let mut deps: Vec<String> = t.inherits.clone();
    deps.extend(t.partition_of.iter().map(|p| p.parent.clone()));
    deps.extend(t.columns.iter().map(|c| type_name(&c.data_type)));
    Node::named(Early::Table(t), 6, &t.schema, &t.name, deps)
}

/// Marks the functions that need a table or view, directly or through other functions.
fn late_functions(schema: &Schema, deps: &[Vec<String>]) -> Vec<bool> {
    let relations: HashSet<String> = schema
        .tables
        .iter()
        .map(|t| raw_qualified(&t.schema, &t.name))
        .chain(
            schema
                .views
                .iter()
                .map(|v| raw_qualified(&v.schema, &v.name)),
        )
        .collect();
    let mut late = vec![false; schema.functions.len()];
    loop {
        let late_names: HashSet<String> = schema
            .functions
            .iter()
            .zip(&late)
            .filter(|(_, &l)| l)
            .flat_map(|(f, _)| [raw_qualified(&f.schema, &f.name), raw_signature(f)])
            .collect();
        let mut changed = false;
        for (i, f_deps) in deps.iter().enumerate() {
            if !late[i]
                && f_deps
                    .iter()
                    .any(|d| relations.contains(d) || late_names.contains(d))
            {
                late[i] = true;
                changed = true;
            }
        }
        if !changed {
            return late;
        }
    }
}

/// A function's dependencies: the model's `depends_on`, plus for aggregates the functions
/// their definition names (SFUNC, FINALFUNC …), which must exist first.
fn function_deps(f: &Function, mentions: &FunctionMentions) -> Vec<String> {
    let mut deps = f.depends_on.clone();
    if f.kind == FunctionKind::Aggregate {
        deps.extend(mentions.in_text(&f.definition));
    }
    deps
}

/// A function node, known by its name (shared by overloads) and by its signature, as
/// `depends_on` may use either (`public.f` or `public.f(a integer)`).
fn function_node<T>(item: T, f: &Function, rank: u8, deps: &[String]) -> Node<T> {
    let rank = if f.kind == FunctionKind::Aggregate {
        rank + 1
    } else {
        rank
    };
    let mut node = Node::named(item, rank, &f.schema, &f.name, deps.to_vec());
    node.names.push(raw_signature(f));
    node.sort_name.push('\0');
    node.sort_name.push_str(&f.arguments);
    node
}

/// `schema.name(arguments)` with raw names, as the model's references to a function read.
fn raw_signature(f: &Function) -> String {
    format!("{}({})", raw_qualified(&f.schema, &f.name), f.arguments)
}

/// The user type a `format_type` string names (`public.mood[]` → `public.mood`).
fn type_name(data_type: &str) -> String {
    let mut t = data_type.trim();
    while let Some(base) = t.strip_suffix("[]") {
        t = base.trim_end();
    }
    t.to_string()
}

/// Finds the user functions a deparsed text names.
struct FunctionMentions {
    /// Quoted qualified name → raw `schema.name`.
    functions: Vec<(String, String)>,
}

impl FunctionMentions {
    fn new(schema: &Schema) -> FunctionMentions {
        let mut functions: Vec<(String, String)> = schema
            .functions
            .iter()
            .map(|f| {
                (
                    qualified(&f.schema, &f.name),
                    raw_qualified(&f.schema, &f.name),
                )
            })
            .collect();
        functions.dedup();
        FunctionMentions { functions }
    }

    fn in_text(&self, text: &str) -> Vec<String> {
        self.functions
            .iter()
            .filter(|(quoted, _)| mentions(text, quoted))
            .map(|(_, raw)| raw.clone())
            .collect()
    }
}

/// Whether `text` contains `name` as a whole name (not as part of a longer identifier).
pub(super) fn mentions(text: &str, name: &str) -> bool {
    let is_name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == '"';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(|c| is_name_char(c) || c == '.') && !after.is_some_and(is_name_char)
    })
}

/// One object in a dependency graph.
struct Node<T> {
    item: T,
    /// Names by which other nodes' dependencies refer to this node.
    names: Vec<String>,
    /// Among ready nodes, lower ranks come first, then `sort_name`.
    rank: u8,
    sort_name: String,
    deps: Vec<String>,
}

impl<T> Node<T> {
    /// A node known by its raw `schema.name` and by its quoted name (as deparsed text has it).
    fn named(item: T, rank: u8, schema: &str, name: &str, deps: Vec<String>) -> Node<T> {
        Node {
            item,
            names: vec![raw_qualified(schema, name), qualified(schema, name)],
            rank,
            sort_name: format!("{schema}\0{name}"),
            deps,
        }
    }
}

/// Kahn's algorithm with a deterministic choice among ready nodes. Dependencies on names that
/// are not in the graph are taken as already satisfied. A cycle (which the server would not
/// have allowed) is broken at its first node in sort order rather than dropping objects.
fn dependency_order<T>(nodes: Vec<Node<T>>) -> Vec<T> {
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        for name in &node.names {
            by_name.entry(name.as_str()).or_default().push(i);
        }
    }
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    let mut waiting_on = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        let required: BTreeSet<usize> = node
            .deps
            .iter()
            .filter_map(|d| by_name.get(d.as_str()))
            .flatten()
            .copied()
            .filter(|&j| j != i)
            .collect();
        waiting_on[i] = required.len();
        for j in required {
            dependents[j].push(i);
        }
    }
    let key = |i: usize| (nodes[i].rank, nodes[i].sort_name.clone(), i);
    let mut ready: BTreeSet<_> = (0..nodes.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(key)
        .collect();
    let mut pending: BTreeSet<_> = (0..nodes.len()).map(key).collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(next) = ready.pop_first().or_else(|| pending.first().cloned()) {
        if !pending.remove(&next) {
            continue;
        }
        let i = next.2;
        order.push(i);
        for &d in &dependents[i] {
            waiting_on[d] = waiting_on[d].saturating_sub(1);
            if waiting_on[d] == 0 {
                ready.insert(key(d));
            }
        }
    }
    let mut slots: Vec<Option<T>> = nodes.into_iter().map(|n| Some(n.item)).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
