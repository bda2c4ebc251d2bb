//! Rules against a schema: which table and column each rule names, whether its transform fits
//! the column, and what the masking plan of every table that holds rows is.
//!
//! A rule on a partitioned (or inheritance) parent applies to its partitions, unless a
//! partition has a rule of its own for the column. Everything that would make a masked copy
//! fail to load or break its own constraints is a problem found here, before a row moves:
//! a table or column that does not exist, a transform that cannot produce the column's type,
//! `null` on a NOT NULL column, a transform that can repeat values on a unique column, and a
//! foreign key whose two ends are masked differently (the rows would no longer match).

use std::collections::HashMap;

use serde::Serialize;

use super::column::ColumnType;
use super::copytext::TextForm;
use super::rules::{ColumnRule, Location, Rules, TableRules, Transform};
use super::transform::ColumnMask;
use crate::schema::{qualified, ConstraintKind, EngineKind, ForeignKeyTarget, Schema, Table};

/// Something wrong with the rules, or a column they leave uncovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Qualified table name (as in the schema), or the name the rules used when unknown.
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub kind: FindingKind,
    pub reason: String,
    /// Where in the rules file, when the finding is about a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        match &self.column {
            Some(column) => write!(f, "{}.{column}: {}", self.table, self.reason),
            None => write!(f, "{}: {}", self.table, self.reason),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A column without a rule that looks like personal data.
    Personal,
    /// A column without a rule (reported with `--strict`).
    Unruled,
    UnknownTable,
    UnknownColumn,
    /// A rule that cannot work on its column.
    InvalidRule,
}

/// How to mask the rows of one table that holds rows.
#[derive(Debug, Clone, Default)]
pub struct TablePlan {
    /// Masks by column name (columns that are kept have none).
    pub columns: HashMap<String, ColumnMask>,
    /// The table's columns in stream order (what a stream without a column list holds).
    pub stream_columns: Vec<String>,
}

/// The masking plan of a whole schema.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// By qualified table name; tables whose rows pass unchanged are absent.
    pub tables: HashMap<String, TablePlan>,
    /// Every table that holds rows (masked or not).
    pub data_tables: Vec<String>,
    /// Row filters of tables that hold rows: `(table, SQL condition)`.
    pub filters: Vec<(String, String)>,
    pub problems: Vec<Finding>,
}

/// Resolves `rules` against `schema`.
pub fn resolve(rules: &Rules, schema: &Schema) -> Plan {
    let mut problems = Vec::new();
    let mut by_table: HashMap<String, &TableRules> = HashMap::new();
    for table_rules in &rules.tables {
        let Some(table) = find_table(schema, &table_rules.name, &table_rules.at, &mut problems)
        else {
            continue;
        };
        let name = qualified(&table.schema, &table.name);
        if by_table.insert(name.clone(), table_rules).is_some() {
            problems.push(rule_problem(
                &name,
                None,
                &table_rules.at,
                "the table has two rule sections; merge them",
            ));
            continue;
        }
        for rule in &table_rules.columns {
            check_rule(schema, table, rule, &mut problems);
        }
        if table_rules.filter.is_some() && schema.engine != EngineKind::Postgres {
            problems.push(rule_problem(
                &name,
                None,
                &table_rules.at,
                "row filters (`where`) need a PostgreSQL database",
            ));
        }
    }
    let rules_of = Resolved::with(schema, by_table);
    check_foreign_keys(&rules_of, &mut problems);
    let mut plan = Plan {
        problems,
        ..Plan::default()
    };
    for table in schema.tables.iter().filter(|t| t.partition_by.is_none()) {
        let name = qualified(&table.schema, &table.name);
        plan.data_tables.push(name.clone());
        let mut table_plan = TablePlan {
            stream_columns: table
                .columns
                .iter()
                .filter(|c| c.generated.is_none())
                .map(|c| c.name.clone())
                .collect(),
            ..TablePlan::default()
        };
        for column in table.columns.iter().filter(|c| c.generated.is_none()) {
            let Some(rule) = rules_of.rule(table, &column.name) else {
                continue;
            };
            if rule.transform == Transform::Keep {
                continue;
            }
            let form = match schema.engine {
                EngineKind::Postgres => TextForm::Plain,
                EngineKind::Sqlite => TextForm::Sqlite {
                    text_affinity: crate::engine::sqlite::data::has_text_affinity(
                        &column.data_type,
                        table.strict,
                    ),
                },
            };
            table_plan.columns.insert(
                column.name.clone(),
                ColumnMask {
                    transform: rule.transform.clone(),
                    column_type: ColumnType::of(schema, &column.data_type),
                    form,
                },
            );
        }
        if !table_plan.columns.is_empty() {
            plan.tables.insert(name.clone(), table_plan);
        }
        if let Some(filter) = rules_of.filter(table) {
            plan.filters.push((name, filter.to_string()));
        }
    }
    plan
}

/// The rules by table, with partition and inheritance parents consulted.
pub struct Resolved<'a> {
    schema: &'a Schema,
    tables: HashMap<String, &'a Table>,
    by_table: HashMap<String, &'a TableRules>,
}

impl<'a> Resolved<'a> {
    /// Rules by table name; names that match no table are left out (resolving reports them).
    pub fn new(rules: &'a Rules, schema: &'a Schema) -> Resolved<'a> {
        let mut ignored = Vec::new();
        let by_table = rules
            .tables
            .iter()
            .filter_map(|r| {
                let table = find_table(schema, &r.name, &r.at, &mut ignored)?;
                Some((qualified(&table.schema, &table.name), r))
            })
            .collect();
        Resolved::with(schema, by_table)
    }

    fn with(schema: &'a Schema, by_table: HashMap<String, &'a TableRules>) -> Resolved<'a> {
        let tables = schema
            .tables
            .iter()
            .map(|t| (qualified(&t.schema, &t.name), t))
            .collect();
        Resolved {
            schema,
            tables,
            by_table,
        }
    }

    /// A table by its qualified name.
    pub fn table(&self, name: &str) -> Option<&'a Table> {
        self.tables.get(name).copied()
    }

    /// The rule that applies to a column: the table's own, else the nearest parent's.
    pub fn rule(&self, table: &'a Table, column: &str) -> Option<&'a ColumnRule> {
        self.lineage(table).into_iter().find_map(|t| {
            self.by_table
                .get(&qualified(&t.schema, &t.name))?
                .columns
                .iter()
                .find(|c| c.column == column)
        })
    }

    /// The row filter that applies to a table: its own, else the nearest parent's.
    fn filter(&self, table: &'a Table) -> Option<&'a str> {
        self.lineage(table).into_iter().find_map(|t| {
            self.by_table
                .get(&qualified(&t.schema, &t.name))?
                .filter
                .as_deref()
        })
    }

    /// The table, then its partition parent or inheritance parents, nearest first.
    fn lineage(&self, table: &'a Table) -> Vec<&'a Table> {
        let mut line = vec![table];
        let mut i = 0;
        while i < line.len() && line.len() < 64 {
            let t = line[i];
            let parents = t.partition_of.iter().map(|p| &p.parent).chain(&t.inherits);
            for parent in parents {
                if let Some(p) = self.table(parent) {
                    if !line.iter().any(|x| std::ptr::eq(*x, p)) {
                        line.push(p);
                    }
                }
            }
            i += 1;
        }
        line
    }
}

fn rule_problem(table: &str, column: Option<&str>, at: &Location, reason: &str) -> Finding {
    Finding {
        table: table.to_string(),
        column: column.map(str::to_string),
        kind: FindingKind::InvalidRule,
        reason: reason.to_string(),
        at: Some(at.to_string()),
    }
}

/// A table named `schema.table`, or by its bare name when that is unambiguous.
fn find_table<'s>(
    schema: &'s Schema,
    name: &str,
    at: &Location,
    problems: &mut Vec<Finding>,
) -> Option<&'s Table> {
    if let Some(t) = schema
        .tables
        .iter()
        .find(|t| qualified(&t.schema, &t.name) == name)
    {
        return Some(t);
    }
    let bare: Vec<&Table> = schema.tables.iter().filter(|t| t.name == name).collect();
    match bare.as_slice() {
        [one] => return Some(one),
        [] => problems.push(Finding {
            table: name.to_string(),
            column: None,
            kind: FindingKind::UnknownTable,
            reason: "no such table in the database".into(),
            at: Some(at.to_string()),
        }),
        many => {
            let names: Vec<String> = many.iter().map(|t| qualified(&t.schema, &t.name)).collect();
            problems.push(rule_problem(
                name,
                None,
                at,
                &format!("ambiguous: {} — write schema.table", names.join(", ")),
            ));
        }
    }
    None
}

/// Whether a rule's transform can work on its column.
fn check_rule(schema: &Schema, table: &Table, rule: &ColumnRule, problems: &mut Vec<Finding>) {
    let name = qualified(&table.schema, &table.name);
    let mut problem =
        |reason: String| problems.push(rule_problem(&name, Some(&rule.column), &rule.at, &reason));
    let Some(column) = table.columns.iter().find(|c| c.name == rule.column) else {
        problems.push(Finding {
            table: name.clone(),
            column: Some(rule.column.clone()),
            kind: FindingKind::UnknownColumn,
            reason: "no such column in the table".into(),
            at: Some(rule.at.to_string()),
        });
        return;
    };
    if column.generated.is_some() {
        problem("a generated column is computed from the others in the target; rule the columns it is computed from".into());
        return;
    }
    let column_type = ColumnType::of(schema, &column.data_type);
    if let Some(reason) = unfit(&rule.transform, &column_type, &column.data_type) {
        problem(reason);
        return;
    }
    if rule.transform == Transform::Null && column.not_null {
        problem("the column is NOT NULL; use fixed, hash or fake instead of null".into());
    }
    if is_unique_column(table, &rule.column) && !keeps_values_distinct(&rule.transform) {
        problem(format!(
            "the column is unique and {} can give two rows the same value; use hash (or fake = \"email\" / \"username\", which stay unique)",
            rule.transform.describe()
        ));
    }
}

/// Why a transform cannot produce values of the column's type, if it cannot.
fn unfit(transform: &Transform, column_type: &ColumnType, declared: &str) -> Option<String> {
    use super::rules::{FakeKind, Spread};
    let ok = match transform {
        Transform::Keep | Transform::Null | Transform::Fixed(_) | Transform::Shuffle { .. } => true,
        Transform::Hash => matches!(
            column_type,
            ColumnType::Text { .. }
                | ColumnType::Integer { .. }
                | ColumnType::Uuid
                | ColumnType::Bytes
                | ColumnType::Dynamic
        ),
        Transform::Fake(FakeKind::Ip) => matches!(
            column_type,
            ColumnType::Text { .. } | ColumnType::Inet | ColumnType::Dynamic
        ),
        Transform::Fake(kind) => match column_type {
            ColumnType::Text {
                max_chars: Some(max),
            } if kind.stays_unique() && *max < 24 => {
                return Some(format!(
                    "{declared} is too short for a unique fake {}; use hash",
                    kind.name()
                ))
            }
            ColumnType::Text { .. } | ColumnType::Dynamic => true,
            _ => false,
        },
        Transform::Range(Spread::Number(_)) => matches!(
            column_type,
            ColumnType::Integer { .. }
                | ColumnType::Decimal { .. }
                | ColumnType::Float
                | ColumnType::Dynamic
        ),
        Transform::Range(Spread::Seconds(s)) => match column_type {
            ColumnType::Date if *s < 86_400 => {
                return Some("a date moves by whole days: use a range of at least \"1 day\"".into())
            }
            ColumnType::Date | ColumnType::Timestamp | ColumnType::Dynamic => true,
            _ => false,
        },
        Transform::Json(_) => matches!(
            column_type,
            ColumnType::Json | ColumnType::Text { .. } | ColumnType::Dynamic
        ),
    };
    (!ok).then(|| {
        format!(
            "{} does not apply to a {declared} column",
            transform.describe()
        )
    })
}

/// Transforms under which distinct values stay distinct.
fn keeps_values_distinct(transform: &Transform) -> bool {
    match transform {
        Transform::Keep | Transform::Hash | Transform::Shuffle { .. } | Transform::Null => true,
        Transform::Fake(kind) => kind.stays_unique(),
        Transform::Fixed(_) | Transform::Range(_) | Transform::Json(_) => false,
    }
}

/// Whether a column alone is a primary key, a unique constraint or a unique index.
fn is_unique_column(table: &Table, column: &str) -> bool {
    let by_constraint = table.constraints.iter().any(|c| {
        matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
            && c.columns.len() == 1
            && c.columns[0] == column
    });
    by_constraint
        || table
            .indexes
            .iter()
            .any(|i| unique_index_column(&i.definition).as_deref() == Some(column))
}

/// The column of a single-column, non-partial `CREATE UNIQUE INDEX … (column)`.
fn unique_index_column(definition: &str) -> Option<String> {
    if !definition
        .to_ascii_uppercase()
        .starts_with("CREATE UNIQUE INDEX")
        || definition.to_ascii_uppercase().contains(" WHERE ")
    {
        return None;
    }
    let open = definition.find('(')?;
    let close = definition.rfind(')')?;
    let inside = definition.get(open + 1..close)?.trim();
    if inside.contains([',', '(', ' ']) && !(inside.starts_with('"') && inside.ends_with('"')) {
        return None;
    }
    Some(inside.trim_matches('"').replace("\"\"", "\""))
}

/// Every foreign key of a schema: the referencing table, its columns, and what they
/// reference.
pub fn foreign_keys(
    schema: &Schema,
) -> impl Iterator<Item = (&Table, &Vec<String>, &ForeignKeyTarget)> {
    schema.tables.iter().flat_map(|table| {
        table
            .constraints
            .iter()
            .filter(|c| c.kind == ConstraintKind::ForeignKey)
            .filter_map(move |c| Some((table, &c.columns, c.references.as_ref()?)))
    })
}

/// Both ends of a foreign key must mask equal values equally, or rows stop matching.
fn check_foreign_keys(rules: &Resolved<'_>, problems: &mut Vec<Finding>) {
    let schema = rules.schema;
    for (table, columns, target) in foreign_keys(schema) {
        let Some(parent) = rules.table(&target.table) else {
            continue;
        };
        for (column, referenced) in columns.iter().zip(&target.columns) {
            let child_rule = rules.rule(table, column);
            let parent_rule = rules.rule(parent, referenced);
            let child = child_rule.map_or(&Transform::Keep, |r| &r.transform);
            let parent_transform = parent_rule.map_or(&Transform::Keep, |r| &r.transform);
            let type_of = |t: &Table, c: &str| {
                t.columns
                    .iter()
                    .find(|x| x.name == c)
                    .map(|x| ColumnType::of(schema, &x.data_type))
            };
            let same_type = type_of(table, column) == type_of(parent, referenced);
            let compatible = match (child, parent_transform) {
                (Transform::Null, _) => true,
                (Transform::Shuffle { .. }, Transform::Keep) => true,
                (Transform::Hash, Transform::Hash) => same_type,
                (a, b) => a == b && matches!(a, Transform::Keep | Transform::Fake(_)),
            };
            if compatible {
                continue;
            }
            let at = child_rule.or(parent_rule).map(|r| r.at.to_string());
            problems.push(Finding {
                table: qualified(&table.schema, &table.name),
                column: Some(column.clone()),
                kind: FindingKind::InvalidRule,
                reason: format!(
                    "references {}.{referenced} ({}), but this column is {}: masked rows would no longer match — give both the same rule{}",
                    target.table,
                    parent_transform.describe(),
                    child.describe(),
                    if same_type { "" } else { " and the same type" }
                ),
                at,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let column = |name: &str, data_type: &str, not_null: bool| serde_json::json!({"name": name, "type": data_type, "not_null": not_null});
        let columns = serde_json::json!([
            column("id", "integer", true),
            column("email", "text", false),
            column("paid", "numeric(5,2)", true)
        ]);
        Schema::parse(
            &serde_json::json!({
                "format": 1, "engine": "postgres", "server_version": "15",
                "tables": [
                    {"schema": "public", "name": "payment", "partition_by": "RANGE (id)",
                     "columns": columns},
                    {"schema": "public", "name": "payment_p1", "columns": columns,
                     "partition_of": {"parent": "public.payment", "bound": "DEFAULT"},
                     "constraints": [{"name": "p1_pkey", "kind": "primary_key",
                                      "definition": "PRIMARY KEY (id)", "columns": ["id"]}]}
                ]
            })
            .to_string(),
            "test.json",
        )
        .unwrap()
    }

    #[test]
    fn a_parent_rule_masks_its_partitions_and_a_partition_rule_wins() {
        let rules = Rules::parse(
            "[tables.payment]\nwhere = \"paid > 1\"\n[tables.payment.columns]\nemail = \"hash\"\npaid = { range = 1 }\n[tables.payment_p1.columns]\npaid = \"keep\"\n",
            "r.toml",
        )
        .unwrap();
        let plan = resolve(&rules, &schema());
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert!(
            !plan.tables.contains_key("public.payment"),
            "a partitioned table holds no rows"
        );
        let leaf = &plan.tables["public.payment_p1"];
        assert_eq!(leaf.columns["email"].transform, Transform::Hash);
        assert!(
            !leaf.columns.contains_key("paid"),
            "the partition's own rule wins"
        );
        assert_eq!(
            plan.filters,
            vec![("public.payment_p1".to_string(), "paid > 1".to_string())]
        );
    }

    #[test]
    fn rules_that_cannot_work_are_problems() {
        let rules = Rules::parse(
            "[tables.payment_p1.columns]\nid = { fixed = 1 }\npaid = \"null\"\nemail = { range = 3 }\n",
            "r.toml",
        )
        .unwrap();
        let plan = resolve(&rules, &schema());
        let reasons: Vec<String> = plan.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("id: the column is unique")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("paid: the column is NOT NULL")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("range does not apply to a text column")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().all(|r| r.starts_with("r.toml:")),
            "{reasons:?}"
        );
    }

    #[test]
    fn unique_index_columns_are_recognized() {
        assert_eq!(
            unique_index_column("CREATE UNIQUE INDEX x ON public.t USING btree (email)").as_deref(),
            Some("email")
        );
        assert_eq!(
            unique_index_column("CREATE UNIQUE INDEX x ON public.t USING btree (\"E mail\")")
                .as_deref(),
            Some("E mail")
        );
        assert_eq!(
            unique_index_column("CREATE UNIQUE INDEX x ON public.t USING btree (a, b)"),
            None
        );
        assert_eq!(
            unique_index_column("CREATE UNIQUE INDEX x ON public.t USING btree (lower(email))"),
            None
        );
        assert_eq!(
            unique_index_column("CREATE INDEX x ON public.t USING btree (email)"),
            None
        );
    }
}
