//! Altering a PostgreSQL table in place: columns added, dropped and changed; storage options;
//! logged state; partition attachment and inheritance. A change PostgreSQL cannot make in
//! place (another partition key) asks for the table to be recreated.
//!
//! Column order is not migrated: PostgreSQL appends new columns, and the planner compares
//! columns by name.

use crate::diff::{Action, Hazard, HazardKind, Phase, Step};
use crate::engine::TableChange;
use crate::schema::key::ObjectKey;
use crate::schema::{qualified as raw_qualified, Column, IdentityGeneration, Schema, Table};

use super::migrate::{column_definition, identity_clause, type_change};
use super::render::{ident, qualified, Names};

struct TableSteps {
    key: ObjectKey,
    relation: String,
    raw: String,
    steps: Vec<Step>,
    changed_columns: Vec<String>,
}

impl TableSteps {
    /// Key of a column of this table, for column-level steps.
    fn column(&self, name: &str) -> ObjectKey {
        ObjectKey::Column {
            table: self.raw.clone(),
            column: name.to_string(),
        }
    }

    fn push(
        &mut self,
        reason: String,
        sql: String,
        inverse: Option<String>,
        hazards: Vec<Hazard>,
    ) -> &mut Step {
        let key = self.key.clone();
        self.push_on(key, Action::Alter, reason, sql, inverse, hazards)
    }

    /// A step on a sub-object of the table (a column).
    fn push_on(
        &mut self,
        object: ObjectKey,
        action: Action,
        reason: String,
        sql: String,
        inverse: Option<String>,
        hazards: Vec<Hazard>,
    ) -> &mut Step {
        self.steps.push(Step {
            object,
            action,
            reason,
            sql,
            hazards,
            inverse,
            run: Phase::InTransaction,
            precheck: None,
        });
        self.steps.last_mut().expect("just pushed")
    }

    fn alter(&self, clause: &str) -> String {
        format!("ALTER TABLE {} {clause};", self.relation)
    }
}

pub(super) fn alter_table(
    from: &Table,
    to: &Table,
    source: &Schema,
    target: &Schema,
) -> TableChange {
    if from.partition_by != to.partition_by {
        return TableChange::Recreate;
    }
    let raw = raw_qualified(&to.schema, &to.name);
    let mut t = TableSteps {
        key: ObjectKey::Table { name: raw.clone() },
        relation: qualified(&to.schema, &to.name),
        raw,
        steps: vec![],
        changed_columns: vec![],
    };
    table_properties(&mut t, from, to, source, target);
    for column in &from.columns {
        if column.inherited {
            continue;
        }
        match to.columns.iter().find(|c| c.name == column.name) {
            Some(new) if !new.inherited => alter_column(&mut t, column, new),
            Some(_) => {}
            None => drop_column(&mut t, column, from, to),
        }
    }
    for column in to.columns.iter().filter(|c| !c.inherited) {
        if !from.columns.iter().any(|c| c.name == column.name) {
            add_column(&mut t, column);
        }
    }
    TableChange::InPlace {
        steps: t.steps,
        changed_columns: t.changed_columns,
    }
}

fn table_properties(
    t: &mut TableSteps,
    from: &Table,
    to: &Table,
    source: &Schema,
    target: &Schema,
) {
    if from.unlogged != to.unlogged {
        let (now, before) = if to.unlogged {
            ("SET UNLOGGED", "SET LOGGED")
        } else {
            ("SET LOGGED", "SET UNLOGGED")
        };
        let sql = t.alter(now);
        let inverse = t.alter(before);
        t.push(
            format!("{} table {}", now.to_lowercase(), t.raw),
            sql,
            Some(inverse),
            vec![Hazard::new(HazardKind::TableRewrite, "rewrites the table")],
        );
    }
    if from.options != to.options {
        let removed: Vec<String> = from
            .options
            .iter()
            .filter_map(|o| o.split_once('=').map(|(k, _)| k.to_string()))
            .filter(|k| !to.options.iter().any(|o| o.starts_with(&format!("{k}="))))
            .collect();
        if !removed.is_empty() {
            let sql = t.alter(&format!("RESET ({})", removed.join(", ")));
            t.push(
                format!("reset storage options of {}", t.raw),
                sql,
                None,
                vec![],
            );
        }
        if !to.options.is_empty() {
            let sql = t.alter(&format!("SET ({})", to.options.join(", ")));
            t.push(
                format!("set storage options of {}", t.raw),
                sql,
                None,
                vec![],
            );
        }
    }
    if from.partition_of != to.partition_of {
        let source_names = Names::new(source);
        let target_names = Names::new(target);
        if let Some(old) = &from.partition_of {
            let parent = source_names.reference(&old.parent);
            let sql = format!("ALTER TABLE {parent} DETACH PARTITION {};", t.relation);
            let inverse = format!(
                "ALTER TABLE {parent} ATTACH PARTITION {} {};",
                t.relation, old.bound
            );
            t.push(
                format!("detach partition {} from {}", t.raw, old.parent),
                sql,
                Some(inverse),
                vec![],
            );
        }
        if let Some(new) = &to.partition_of {
            let parent = target_names.reference(&new.parent);
            let sql = format!(
                "ALTER TABLE {parent} ATTACH PARTITION {} {};",
                t.relation, new.bound
            );
            let inverse = format!("ALTER TABLE {parent} DETACH PARTITION {};", t.relation);
            t.push(
                format!("attach {} to {}", t.raw, new.parent),
                sql,
                Some(inverse),
                vec![
                    Hazard::new(
                        HazardKind::MayFail,
                        "fails if rows fall outside the partition bound",
                    ),
                    Hazard::new(
                        HazardKind::LongLock,
                        "scans the partition to check its bound",
                    ),
                ],
            );
        }
    }
    if from.inherits != to.inherits {
        let source_names = Names::new(source);
        let target_names = Names::new(target);
        for parent in from.inherits.iter().filter(|p| !to.inherits.contains(p)) {
            let sql = t.alter(&format!("NO INHERIT {}", source_names.reference(parent)));
            t.push(
                format!("stop {} inheriting from {parent}", t.raw),
                sql,
                None,
                vec![],
            );
        }
        for parent in to.inherits.iter().filter(|p| !from.inherits.contains(p)) {
            let sql = t.alter(&format!("INHERIT {}", target_names.reference(parent)));
            t.push(
                format!("make {} inherit from {parent}", t.raw),
                sql,
                None,
                vec![Hazard::new(
                    HazardKind::MayFail,
                    "fails unless the columns match the parent's",
                )],
            );
        }
    }
}

fn add_column(t: &mut TableSteps, c: &Column) {
    let column_key = t.column(&c.name);
    let sql = t.alter(&format!("ADD COLUMN {}", column_definition(c)));
    let inverse = t.alter(&format!("DROP COLUMN {}", ident(&c.name)));
    let relation = t.relation.clone();
    let mut hazards = vec![];
    let needs_value =
        c.not_null && c.default.is_none() && c.identity.is_none() && c.generated.is_none();
    if needs_value {
        hazards.push(Hazard::new(
            HazardKind::MayFail,
            "a NOT NULL column without a default cannot be added to a table that has rows",
        ));
    }
    if c.generated.is_some() {
        hazards.push(Hazard::new(
            HazardKind::TableRewrite,
            "computes the column for every row",
        ));
    }
    let step = t.push_on(
        column_key.clone(),
        Action::Create,
        format!("add column {}.{}", t.raw, c.name),
        sql,
        Some(inverse),
        hazards,
    );
    if needs_value {
        step.precheck = Some(format!("SELECT count(*) FROM {relation}"));
    }
}

fn drop_column(t: &mut TableSteps, c: &Column, from: &Table, to: &Table) {
    let column_key = t.column(&c.name);
    let sql = t.alter(&format!("DROP COLUMN {}", ident(&c.name)));
    let mut hazards = vec![
        Hazard::new(
            HazardKind::DataLoss,
            format!("drops column {}.{} and its values", t.raw, c.name),
        ),
        Hazard::new(
            HazardKind::Irreversible,
            "the values cannot be brought back",
        ),
    ];
    // A column that is new in the target and has the dropped column's type.
    let twin = to.columns.iter().find(|n| {
        n.data_type == c.data_type
            && n.renamed_from.is_none()
            && !from.columns.iter().any(|x| x.name == n.name)
    });
    if let Some(twin) = twin {
        hazards.push(Hazard::new(
            HazardKind::PossibleRename,
            format!(
                "new column {} has the same type: if this is a rename, add `renamed_from: {}` to it in the schema file to keep the values",
                twin.name, c.name
            ),
        ));
    }
    t.changed_columns.push(c.name.clone());
    t.push_on(
        column_key.clone(),
        Action::Drop,
        format!("drop column {}.{}", t.raw, c.name),
        sql,
        None,
        hazards,
    );
}

fn alter_column(t: &mut TableSteps, from: &Column, to: &Column) {
    let column_key = t.column(&to.name);
    let column = ident(&to.name);
    let generated_changed = from.generated != to.generated;
    if generated_changed {
        regenerate_column(t, from, to);
        return;
    }
    if from.data_type != to.data_type || from.collation != to.collation {
        change_type(t, from, to);
    }
    if from.not_null != to.not_null && to.identity.is_none() && from.identity.is_none() {
        if to.not_null {
            let sql = t.alter(&format!("ALTER COLUMN {column} SET NOT NULL"));
            let inverse = t.alter(&format!("ALTER COLUMN {column} DROP NOT NULL"));
            let relation = t.relation.clone();
            let step = t.push_on(
                column_key.clone(),
                Action::Alter,
                format!("set {}.{} NOT NULL", t.raw, to.name),
                sql,
                Some(inverse),
                vec![
                    Hazard::new(HazardKind::MayFail, "fails if the column holds NULLs"),
                    Hazard::new(
                        HazardKind::LongLock,
                        "scans the table while blocking reads and writes",
                    ),
                ],
            );
            step.precheck = Some(format!(
                "SELECT count(*) FROM {relation} WHERE {column} IS NULL"
            ));
        } else {
            let sql = t.alter(&format!("ALTER COLUMN {column} DROP NOT NULL"));
            let inverse = t.alter(&format!("ALTER COLUMN {column} SET NOT NULL"));
            t.push_on(
                column_key.clone(),
                Action::Alter,
                format!("allow NULL in {}.{}", t.raw, to.name),
                sql,
                Some(inverse),
                vec![],
            );
        }
    }
    if from.identity != to.identity {
        change_identity(t, from, to);
    }
}

fn change_type(t: &mut TableSteps, from: &Column, to: &Column) {
    let column_key = t.column(&to.name);
    let column = ident(&to.name);
    let user_type = |ty: &str| ty.contains('.');
    let using = if user_type(&from.data_type) || user_type(&to.data_type) {
        let text = if to.data_type.ends_with("[]") {
            "text[]"
        } else {
            "text"
        };
        format!("{column}::{text}::{}", to.data_type)
    } else {
        format!("{column}::{}", to.data_type)
    };
    let collate = |c: &Column| {
        c.collation
            .as_ref()
            .map(|x| format!(" COLLATE {x}"))
            .unwrap_or_default()
    };
    let sql = t.alter(&format!(
        "ALTER COLUMN {column} TYPE {}{} USING {using}",
        to.data_type,
        collate(to)
    ));
    let inverse = t.alter(&format!(
        "ALTER COLUMN {column} TYPE {}{} USING {column}::{}",
        from.data_type,
        collate(from),
        from.data_type
    ));
    let cost = type_change(&from.data_type, &to.data_type);
    let mut hazards = vec![];
    if cost.rewrite || from.collation != to.collation {
        hazards.push(Hazard::new(
            HazardKind::TableRewrite,
            format!("rewrites {} and its indexes", t.raw),
        ));
    }
    if cost.narrowing {
        hazards.push(Hazard::new(
            HazardKind::DataLoss,
            format!(
                "narrows {}.{} from {} to {}",
                t.raw, to.name, from.data_type, to.data_type
            ),
        ));
    }
    if cost.may_fail {
        hazards.push(Hazard::new(
            HazardKind::MayFail,
            "fails if a value cannot be converted",
        ));
    }
    let relation = t.relation.clone();
    let precheck = cost
        .narrowing
        .then(|| narrowing_precheck(&relation, &column, &to.data_type));
    t.changed_columns.push(to.name.clone());
    let step = t.push_on(
        column_key.clone(),
        Action::Alter,
        format!(
            "change type of {}.{} from {} to {}",
            t.raw, to.name, from.data_type, to.data_type
        ),
        sql,
        Some(inverse),
        hazards,
    );
    step.precheck = precheck;
}

/// Counts the values that would not survive the new type. Casting to text and back and
/// comparing catches truncation and rounding; values that cannot be cast at all count too.
fn narrowing_precheck(relation: &str, column: &str, new_type: &str) -> String {
    if let Some(length) = new_type
        .strip_prefix("character varying(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return format!("SELECT count(*) FROM {relation} WHERE length({column}::text) > {length}");
    }
    let bounds = match new_type {
        "smallint" => Some(("-32768", "32767")),
        "integer" => Some(("-2147483648", "2147483647")),
        _ => None,
    };
    if let Some((low, high)) = bounds {
        return format!(
            "SELECT count(*) FROM {relation} WHERE {column} IS NOT NULL AND ({column}::numeric < {low} OR {column}::numeric > {high} OR {column}::numeric <> trunc({column}::numeric))"
        );
    }
    if new_type.starts_with("numeric(") {
        return format!(
            "SELECT count(*) FROM {relation} WHERE {column} IS NOT NULL AND {column}::numeric <> ({column}::numeric)::{new_type}"
        );
    }
    format!("SELECT count(*) FROM {relation} WHERE {column} IS NOT NULL AND {column}::text <> ({column}::{new_type})::text")
}

fn change_identity(t: &mut TableSteps, from: &Column, to: &Column) {
    let column_key = t.column(&to.name);
    let column = ident(&to.name);
    match (&from.identity, &to.identity) {
        (None, Some(identity)) => {
            let sql = t.alter(&format!(
                "ALTER COLUMN {column} ADD {}",
                identity_clause(identity)
            ));
            let inverse = t.alter(&format!("ALTER COLUMN {column} DROP IDENTITY"));
            t.push_on(
                column_key.clone(),
                Action::Alter,
                format!("make {}.{} an identity column", t.raw, to.name),
                sql,
                Some(inverse),
                vec![],
            );
        }
        (Some(_), None) => {
            let sql = t.alter(&format!("ALTER COLUMN {column} DROP IDENTITY"));
            t.push_on(
                column_key.clone(),
                Action::Alter,
                format!("stop {}.{} being an identity column", t.raw, to.name),
                sql,
                None,
                vec![Hazard::new(
                    HazardKind::Irreversible,
                    "the identity sequence and its position are dropped",
                )],
            );
        }
        (Some(old), Some(new)) => {
            let mut clauses = Vec::new();
            if old.generation != new.generation {
                clauses.push(match new.generation {
                    IdentityGeneration::Always => "SET GENERATED ALWAYS".to_string(),
                    IdentityGeneration::ByDefault => "SET GENERATED BY DEFAULT".to_string(),
                });
            }
            if let (Some(o), Some(n)) = (&old.options, &new.options) {
                if o != n {
                    clauses.push(format!(
                        "SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET START WITH {} SET CACHE {} SET {}",
                        n.increment,
                        n.min_value,
                        n.max_value,
                        n.start,
                        n.cache,
                        if n.cycle { "CYCLE" } else { "NO CYCLE" }
                    ));
                }
                if o.data_type != n.data_type {
                    if let Some(seq) = &new.sequence {
                        let (schema, name) = seq.split_once('.').unwrap_or(("", seq));
                        let sql = format!(
                            "ALTER SEQUENCE {} AS {};",
                            qualified(schema, name),
                            n.data_type
                        );
                        t.push_on(
                            column_key.clone(),
                            Action::Alter,
                            format!("change the type of identity sequence {seq}"),
                            sql,
                            None,
                            vec![],
                        );
                    }
                }
            }
            if !clauses.is_empty() {
                let sql = t.alter(&format!("ALTER COLUMN {column} {}", clauses.join(" ")));
                t.push_on(
                    column_key.clone(),
                    Action::Alter,
                    format!("change identity of {}.{}", t.raw, to.name),
                    sql,
                    None,
                    vec![],
                );
            }
        }
        (None, None) => {}
    }
}

/// PostgreSQL cannot change a generated column's expression in place: the column is dropped
/// and added again (values are recomputed; a column that stops being generated keeps its
/// values through DROP EXPRESSION).
fn regenerate_column(t: &mut TableSteps, from: &Column, to: &Column) {
    let column_key = t.column(&to.name);
    let column = ident(&to.name);
    if from.generated.is_some() && to.generated.is_none() && from.data_type == to.data_type {
        let sql = t.alter(&format!("ALTER COLUMN {column} DROP EXPRESSION"));
        t.push_on(
            column_key.clone(),
            Action::Alter,
            format!("stop computing {}.{}", t.raw, to.name),
            sql,
            None,
            vec![],
        );
        return;
    }
    let drop = t.alter(&format!("DROP COLUMN {column}"));
    let mut hazards = vec![Hazard::new(
        HazardKind::TableRewrite,
        "recomputes the column for every row",
    )];
    if from.generated.is_none() {
        hazards.push(Hazard::new(
            HazardKind::DataLoss,
            format!(
                "{}.{} becomes computed: its stored values are replaced",
                t.raw, to.name
            ),
        ));
    }
    t.changed_columns.push(to.name.clone());
    t.push_on(
        column_key.clone(),
        Action::Alter,
        format!("drop {}.{} to redefine it", t.raw, to.name),
        drop,
        None,
        hazards,
    );
    let add = t.alter(&format!("ADD COLUMN {}", column_definition(to)));
    t.push_on(
        column_key.clone(),
        Action::Alter,
        format!("add {}.{} with its new definition", t.raw, to.name),
        add,
        None,
        vec![],
    );
}
