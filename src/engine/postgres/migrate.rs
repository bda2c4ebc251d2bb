//! PostgreSQL's dialect of schema changes: the SQL of each planned change, with its hazards,
//! its inverse and, where existing rows could make it fail, a query that counts them.
//!
//! Creation statements come from [`super::render`]; this module adds drops, renames and the
//! in-place forms PostgreSQL has (`ALTER TABLE … ALTER COLUMN`, `ALTER SEQUENCE`,
//! `ALTER TYPE … ADD VALUE`, `CREATE OR REPLACE FUNCTION`, …).

use crate::diff::{Action, Hazard, HazardKind, Phase, Step};
use crate::engine::{CreateContext, Dialect, InPlace, TableChange};
use crate::schema::key::{ObjectKey, Statement};
use crate::schema::{
    qualified as raw_qualified, Column, CompositeAttribute, CompositeType, ConstraintKind, Domain,
    EnumType, Function, FunctionKind, Identity, IdentityGeneration, Schema, SequenceOptions, Table,
};

use super::render::{ident, literal, qualified};
use super::types_change::{classify_type_change, TypeChange};

/// PostgreSQL's [`Dialect`].
pub struct PostgresDialect;

/// The quoted SQL form of a raw `schema.name` reference. Only a name with more than one dot
/// is ambiguous, and only then are the schema's names consulted.
fn quoted_ref(schema: &Schema, raw: &str) -> String {
    match raw.split_once('.') {
        Some((s, n)) if !n.contains('.') => qualified(s, n),
        _ => super::render::Names::new(schema).reference(raw),
    }
}

fn find_table<'a>(schema: &'a Schema, raw: &str) -> Option<&'a Table> {
    schema
        .tables
        .iter()
        .find(|t| raw_qualified(&t.schema, &t.name) == raw)
}

fn find_function<'a>(schema: &'a Schema, key: &str) -> Option<&'a Function> {
    schema
        .functions
        .iter()
        .find(|f| format!("{}.{}({})", f.schema, f.name, f.arguments) == key)
}

impl Dialect for PostgresDialect {
    fn creation_script(&self, schema: &Schema) -> Vec<Statement> {
        super::render::statements(schema)
    }

    fn create(&self, statement: &Statement, target: &Schema, context: CreateContext) -> Vec<Step> {
        let key = &statement.key;
        let mut s = crate::diff::create_step(key, statement.sql.clone(), context.recreated);
        s.inverse = drop_sql(key, target, std::slice::from_ref(&statement.sql));
        if context.table_is_new {
            return vec![s];
        }
        match key {
            ObjectKey::Index { .. } if statement.sql.starts_with("CREATE") => {
                if context.online && !statement.sql.contains(" ON ONLY ") {
                    s.sql = statement.sql.replacen(" INDEX ", " INDEX CONCURRENTLY ", 1);
                    s.run = Phase::AfterTransaction;
                    s.reason = format!("{} (concurrently, after the transaction)", s.reason);
                } else {
                    s = s.with_hazard(
                        HazardKind::LongLock,
                        "builds the index while blocking writes to the table (--online builds it concurrently)",
                    );
                }
                if statement.sql.starts_with("CREATE UNIQUE") {
                    s = s.with_hazard(
                        HazardKind::MayFail,
                        "fails if existing rows hold duplicates",
                    );
                }
                vec![s]
            }
            ObjectKey::Constraint { table, name } => {
                constraint_steps(s, target, table, name, context.online)
            }
            _ => vec![s],
        }
    }

    fn drop(&self, key: &ObjectKey, source: &Schema, created_by: &[String]) -> Vec<Step> {
        let Some(sql) = drop_sql(key, source, created_by) else {
            return vec![];
        };
        let mut s = Step::new(
            key.clone(),
            Action::Drop,
            format!("drop {}", key.describe()),
            sql,
        )
        .with_inverse(created_by.join("\n"));
        match key {
            ObjectKey::Table { name } => {
                s.inverse = None;
                s = s
                    .with_hazard(
                        HazardKind::DataLoss,
                        format!("drops table {name} with all its rows"),
                    )
                    .with_hazard(HazardKind::Irreversible, "the rows cannot be brought back");
            }
            ObjectKey::Sequence { name } => {
                s = s.with_hazard(
                    HazardKind::DataLoss,
                    format!("drops sequence {name} and its current value"),
                );
            }
            ObjectKey::View { name } => {
                let materialized = source
                    .views
                    .iter()
                    .any(|v| v.materialized && &raw_qualified(&v.schema, &v.name) == name);
                if materialized {
                    s = s.with_hazard(
                        HazardKind::TableRewrite,
                        "a materialized view's data is recomputed when it is created again",
                    );
                }
            }
            _ => {}
        }
        vec![s]
    }

    fn alter_table(
        &self,
        from: &Table,
        to: &Table,
        source: &Schema,
        target: &Schema,
    ) -> TableChange {
        super::migrate_table::alter_table(from, to, source, target)
    }

    fn alter_in_place(
        &self,
        key: &ObjectKey,
        source: &Schema,
        target: &Schema,
        target_sql: &[String],
    ) -> Option<InPlace> {
        let restate = |reason: &str| {
            let steps = target_sql
                .iter()
                .cloned()
                .map(|sql| {
                    Step::new(
                        key.clone(),
                        Action::Alter,
                        format!("{reason} {}", key.owner().describe()),
                        sql,
                    )
                })
                .collect();
            Some(InPlace {
                steps,
                changed_columns: vec![],
            })
        };
        match key {
            ObjectKey::Comment { .. } => restate("change the comment on"),
            ObjectKey::Access { .. } => restate("change owner and grants of"),
            ObjectKey::Column { .. } => restate("change the default of"),
            ObjectKey::ReplicaIdentity { .. } => restate("change"),
            ObjectKey::SequenceOwner { .. } => restate("change"),
            ObjectKey::Sequence { name } => alter_sequence(name, source, target),
            ObjectKey::Type { name } => alter_type(name, source, target),
            ObjectKey::Function { name } => replace_function(key, name, source, target),
            ObjectKey::Extension { name } => alter_extension(key, name, source, target),
            ObjectKey::Trigger { table, name } => {
                alter_trigger_state(key, table, name, source, target)
            }
            _ => None,
        }
    }

    fn rename_table(
        &self,
        old_schema: &str,
        old_name: &str,
        new_schema: &str,
        new_name: &str,
    ) -> String {
        let mut sql = Vec::new();
        let mut current_schema = old_schema;
        if old_schema != new_schema {
            sql.push(format!(
                "ALTER TABLE {} SET SCHEMA {};",
                qualified(old_schema, old_name),
                ident(new_schema)
            ));
            current_schema = new_schema;
        }
        if old_name != new_name {
            sql.push(format!(
                "ALTER TABLE {} RENAME TO {};",
                qualified(current_schema, old_name),
                ident(new_name)
            ));
        }
        sql.join("\n")
    }

    fn rename_column(&self, schema: &str, table: &str, old: &str, new: &str) -> String {
        format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {};",
            qualified(schema, table),
            ident(old),
            ident(new)
        )
    }

    fn quote_ident(&self, name: &str) -> String {
        ident(name)
    }

    fn quote_qualified(&self, schema: &str, name: &str) -> String {
        qualified(schema, name)
    }

    /// Text holds any value's COPY form, even of a type the database no longer has.
    fn staging_type(&self, _column: &Column) -> String {
        "text".to_string()
    }

    /// The type's input function reads the text as COPY would.
    fn read_staged(&self, value: &str, column: &Column) -> String {
        format!("CAST({value} AS {})", column.data_type)
    }

    fn insert_override(&self) -> &'static str {
        " OVERRIDING SYSTEM VALUE"
    }
}

/// Adds hazards, pre-checks and the online form to an `ADD CONSTRAINT` on an existing table.
fn constraint_steps(
    mut s: Step,
    target: &Schema,
    table: &str,
    name: &str,
    online: bool,
) -> Vec<Step> {
    let Some(t) = find_table(target, table) else {
        return vec![s];
    };
    let Some(c) = t.constraints.iter().find(|c| c.name == name) else {
        return vec![s];
    };
    if !s.sql.contains(" ADD CONSTRAINT ") {
        return vec![s];
    }
    let relation = qualified(&t.schema, &t.name);
    let columns: Vec<String> = c.columns.iter().map(|c| ident(c)).collect();
    match c.kind {
        ConstraintKind::PrimaryKey | ConstraintKind::Unique => {
            let cols = columns.join(", ");
            s = s
                .with_hazard(HazardKind::MayFail, "fails if existing rows hold duplicates")
                .with_hazard(HazardKind::LongLock, "builds a unique index while blocking writes")
                .with_precheck(format!(
                    "SELECT count(*) FROM (SELECT {cols} FROM {relation} WHERE ({cols}) IS NOT NULL GROUP BY {cols} HAVING count(*) > 1) AS duplicates"
                ));
            if c.kind == ConstraintKind::PrimaryKey {
                let nulls: Vec<String> = columns.iter().map(|c| format!("{c} IS NULL")).collect();
                s.precheck = Some(format!(
                    "SELECT (SELECT count(*) FROM (SELECT {cols} FROM {relation} GROUP BY {cols} HAVING count(*) > 1) AS duplicates) + (SELECT count(*) FROM {relation} WHERE {})",
                    nulls.join(" OR ")
                ));
            }
            vec![s]
        }
        ConstraintKind::Check => {
            let expression = c
                .definition
                .trim_start_matches("CHECK ")
                .trim_end_matches(" NOT VALID")
                .to_string();
            s = s
                .with_hazard(
                    HazardKind::MayFail,
                    "fails if existing rows violate the check",
                )
                .with_precheck(format!(
                    "SELECT count(*) FROM {relation} WHERE NOT {expression}"
                ));
            validate_separately(s, &relation, name, online, c.not_valid)
        }
        ConstraintKind::ForeignKey => {
            let Some(r) = &c.references else {
                return vec![s];
            };
            let parent = quoted_ref(target, &r.table);
            let joins: Vec<String> = columns
                .iter()
                .zip(&r.columns)
                .map(|(child, parent)| format!("p.{} = c.{child}", ident(parent)))
                .collect();
            let present: Vec<String> = columns
                .iter()
                .map(|col| format!("c.{col} IS NOT NULL"))
                .collect();
            s = s
                .with_hazard(
                    HazardKind::MayFail,
                    "fails if existing rows reference missing parent rows",
                )
                .with_precheck(format!(
                    "SELECT count(*) FROM {relation} AS c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {})",
                    present.join(" AND "),
                    joins.join(" AND ")
                ));
            validate_separately(s, &relation, name, online, c.not_valid)
        }
        ConstraintKind::Exclusion => vec![s
            .with_hazard(HazardKind::MayFail, "fails if existing rows conflict")
            .with_hazard(
                HazardKind::LongLock,
                "builds an index while blocking writes",
            )],
    }
}

/// Online mode adds a check or foreign key NOT VALID (a brief lock) and validates it in a
/// second step (which does not block writes); otherwise the one step holds the lock while it
/// scans.
fn validate_separately(
    mut s: Step,
    relation: &str,
    name: &str,
    online: bool,
    already_not_valid: bool,
) -> Vec<Step> {
    if already_not_valid {
        return vec![s];
    }
    if !online {
        s = s.with_hazard(
            HazardKind::LongLock,
            "checks every row while holding a lock that blocks writes (--online validates separately)",
        );
        return vec![s];
    }
    let add = s.sql.trim_end().trim_end_matches(';').to_string();
    s.sql = format!("{add} NOT VALID;");
    let validate = Step::new(
        s.object.clone(),
        Action::Alter,
        format!("validate {} without blocking writes", s.object.describe()),
        format!(
            "ALTER TABLE {relation} VALIDATE CONSTRAINT {};",
            ident(name)
        ),
    )
    .with_hazard(
        HazardKind::MayFail,
        "fails if existing rows violate the constraint",
    );
    let precheck = s.precheck.take();
    vec![
        s,
        Step {
            precheck,
            ..validate
        },
    ]
}

/// The statement that removes an object as `schema` describes it.
/// `created_by` is the object's creation statements, when known (comments and grants are
/// undone statement by statement).
pub(super) fn drop_sql(key: &ObjectKey, schema: &Schema, created_by: &[String]) -> Option<String> {
    let q = |raw: &str| quoted_ref(schema, raw);
    let sql = match key {
        ObjectKey::Schema { name } => format!("DROP SCHEMA {};", ident(name)),
        ObjectKey::Extension { name } => format!("DROP EXTENSION {};", ident(name)),
        ObjectKey::Collation { name } => format!("DROP COLLATION {};", q(name)),
        ObjectKey::Type { name } => {
            let is_domain = schema.domains.iter().any(|d| &raw_qualified(&d.schema, &d.name) == name);
            format!("DROP {} {};", if is_domain { "DOMAIN" } else { "TYPE" }, q(name))
        }
        ObjectKey::Sequence { name } => format!("DROP SEQUENCE {};", q(name)),
        ObjectKey::SequenceOwner { name } => format!("ALTER SEQUENCE {} OWNED BY NONE;", q(name)),
        ObjectKey::Function { name } => {
            let f = find_function(schema, name)?;
            let kind = match f.kind {
                FunctionKind::Procedure => "PROCEDURE",
                FunctionKind::Aggregate => "AGGREGATE",
                FunctionKind::Function | FunctionKind::Window => "FUNCTION",
            };
            let arguments = if f.kind == FunctionKind::Aggregate && f.arguments.is_empty() {
                "*".to_string()
            } else {
                f.arguments.clone()
            };
            format!("DROP {kind} {}({arguments});", qualified(&f.schema, &f.name))
        }
        ObjectKey::Table { name } => format!("DROP TABLE {};", q(name)),
        ObjectKey::Column { table, column } => format!(
            "ALTER TABLE ONLY {} ALTER COLUMN {} DROP DEFAULT;",
            q(table),
            ident(column)
        ),
        ObjectKey::Constraint { table, name } => {
            format!("ALTER TABLE ONLY {} DROP CONSTRAINT {};", q(table), ident(name))
        }
        ObjectKey::Index { name } => format!("DROP INDEX {};", q(name)),
        ObjectKey::IndexAttachment { .. } => return None,
        ObjectKey::Trigger { table, name } => {
            format!("DROP TRIGGER {} ON {};", ident(name), q(table))
        }
        ObjectKey::Rule { table, name } => format!("DROP RULE {} ON {};", ident(name), q(table)),
        ObjectKey::RowSecurity { table } => format!(
            "ALTER TABLE ONLY {0} NO FORCE ROW LEVEL SECURITY;\nALTER TABLE ONLY {0} DISABLE ROW LEVEL SECURITY;",
            q(table)
        ),
        ObjectKey::Policy { table, name } => {
            format!("DROP POLICY {} ON {};", ident(name), q(table))
        }
        ObjectKey::ReplicaIdentity { table } => {
            format!("ALTER TABLE ONLY {} REPLICA IDENTITY DEFAULT;", q(table))
        }
        ObjectKey::View { name } => {
            let materialized = schema
                .views
                .iter()
                .any(|v| v.materialized && &raw_qualified(&v.schema, &v.name) == name);
            let kind = if materialized { "MATERIALIZED VIEW" } else { "VIEW" };
            format!("DROP {kind} {};", q(name))
        }
        ObjectKey::EventTrigger { name } => format!("DROP EVENT TRIGGER {};", ident(name)),
        ObjectKey::Publication { name } => format!("DROP PUBLICATION {};", ident(name)),
        ObjectKey::Comment { .. } => {
            let removals: Vec<String> = created_by.iter().filter_map(|s| comment_removal(s)).collect();
            if removals.is_empty() {
                return None;
            }
            removals.join("\n")
        }
        ObjectKey::Access { .. } => {
            let statements: Vec<String> = created_by.iter().filter_map(|s| grant_to_revoke(s)).collect();
            if statements.is_empty() {
                return None;
            }
            statements.join("\n")
        }
    };
    Some(sql)
}

/// `COMMENT ON x IS '…';` → `COMMENT ON x IS NULL;`, finding the literal from the end (the
/// comment text may itself contain ` IS '`).
fn comment_removal(sql: &str) -> Option<String> {
    let body = sql.trim_end().strip_suffix(';')?;
    let bytes = body.as_bytes();
    if bytes.last() != Some(&b'\'') {
        return None;
    }
    let mut i = bytes.len() - 1;
    loop {
        if i == 0 {
            return None;
        }
        i -= 1;
        if bytes[i] == b'\'' {
            if i > 0 && bytes[i - 1] == b'\'' {
                i -= 1;
            } else {
                break;
            }
        }
    }
    let prefix = body[..i].strip_suffix(" IS ")?;
    Some(format!("{prefix} IS NULL;"))
}

/// `GRANT p ON k x TO r…;` → `REVOKE p ON k x FROM r;`; ownership and REVOKE lines need no
/// undoing when the grants are removed.
fn grant_to_revoke(sql: &str) -> Option<String> {
    let rest = sql.strip_prefix("GRANT ")?;
    let (privileges_on, grantee) = rest.rsplit_once(" TO ")?;
    let grantee = grantee
        .trim_end_matches(';')
        .trim_end_matches(" WITH GRANT OPTION");
    Some(format!("REVOKE {privileges_on} FROM {grantee};"))
}

fn sequence_option_clauses(o: &SequenceOptions) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        o.data_type,
        o.increment,
        o.min_value,
        o.max_value,
        o.start,
        o.cache,
        if o.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

fn alter_sequence(name: &str, source: &Schema, target: &Schema) -> Option<InPlace> {
    let find = |s: &Schema| {
        s.sequences
            .iter()
            .find(|q| raw_qualified(&q.schema, &q.name) == name)
            .cloned()
    };
    let (from, to) = (find(source)?, find(target)?);
    let key = ObjectKey::Sequence {
        name: name.to_string(),
    };
    let seq = qualified(&to.schema, &to.name);
    let mut s = Step::new(
        key,
        Action::Alter,
        format!("change the options of sequence {name}"),
        format!(
            "ALTER SEQUENCE {seq} {};",
            sequence_option_clauses(&to.options)
        ),
    )
    .with_inverse(format!(
        "ALTER SEQUENCE {seq} {};",
        sequence_option_clauses(&from.options)
    ));
    if to.options.max_value < from.options.max_value
        || to.options.min_value > from.options.min_value
    {
        s = s.with_hazard(
            HazardKind::MayFail,
            "fails if the sequence's current value is outside the new bounds",
        );
    }
    Some(InPlace {
        steps: vec![s],
        changed_columns: vec![],
    })
}

fn alter_type(name: &str, source: &Schema, target: &Schema) -> Option<InPlace> {
    let find_enum = |s: &Schema| {
        s.enums
            .iter()
            .find(|t| raw_qualified(&t.schema, &t.name) == name)
            .cloned()
    };
    if let (Some(from), Some(to)) = (find_enum(source), find_enum(target)) {
        return Some(alter_enum(&from, &to, source));
    }
    let find_domain = |s: &Schema| {
        s.domains
            .iter()
            .find(|t| raw_qualified(&t.schema, &t.name) == name)
            .cloned()
    };
    if let (Some(from), Some(to)) = (find_domain(source), find_domain(target)) {
        return alter_domain(&from, &to);
    }
    let find_composite = |s: &Schema| {
        s.composite_types
            .iter()
            .find(|t| raw_qualified(&t.schema, &t.name) == name)
            .cloned()
    };
    if let (Some(from), Some(to)) = (find_composite(source), find_composite(target)) {
        return alter_composite(&from, &to);
    }
    None
}

/// Attributes are dropped and appended in place (columns of this type keep their values); a
/// retyped or reordered attribute means the type is recreated.
fn alter_composite(from: &CompositeType, to: &CompositeType) -> Option<InPlace> {
    let kept: Vec<&str> = from
        .attributes
        .iter()
        .filter(|a| to.attributes.iter().any(|b| b.name == a.name))
        .map(|a| a.name.as_str())
        .collect();
    let added: Vec<&CompositeAttribute> = to
        .attributes
        .iter()
        .filter(|b| !from.attributes.iter().any(|a| a.name == b.name))
        .collect();
    let resulting: Vec<&str> = kept
        .iter()
        .copied()
        .chain(added.iter().map(|a| a.name.as_str()))
        .collect();
    let wanted: Vec<&str> = to.attributes.iter().map(|a| a.name.as_str()).collect();
    if resulting != wanted {
        return None;
    }
    let key = ObjectKey::Type {
        name: raw_qualified(&to.schema, &to.name),
    };
    let type_name = qualified(&to.schema, &to.name);
    let mut actions = Vec::new();
    let mut hazards = Vec::new();
    for a in from
        .attributes
        .iter()
        .filter(|a| !kept.contains(&a.name.as_str()))
    {
        actions.push(format!("DROP ATTRIBUTE {}", ident(&a.name)));
        hazards.push(Hazard::new(
            HazardKind::DataLoss,
            format!(
                "drops attribute {} and its values in every column of the type",
                a.name
            ),
        ));
    }
    for b in &to.attributes {
        if let Some(a) = from.attributes.iter().find(|a| a.name == b.name) {
            // PostgreSQL refuses to retype an attribute while a table column uses the type.
            if a.data_type != b.data_type || a.collation != b.collation {
                return None;
            }
        }
    }
    for b in &added {
        let collate = b
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        actions.push(format!(
            "ADD ATTRIBUTE {} {}{collate} CASCADE",
            ident(&b.name),
            b.data_type
        ));
    }
    let mut steps = Vec::new();
    if !actions.is_empty() {
        steps.push(Step {
            hazards,
            ..Step::new(
                key.clone(),
                Action::Alter,
                format!("change the attributes of {}", key.describe()),
                format!("ALTER TYPE {type_name} {};", actions.join(", ")),
            )
        });
    }
    Some(InPlace {
        steps,
        changed_columns: vec![],
    })
}

/// New labels are added in place (`ADD VALUE … BEFORE/AFTER`, outside the transaction: a value
/// added in a transaction cannot be used before it commits). Removing or reordering labels
/// rebuilds the type: the old one is renamed, the new one created, every column converted
/// through text, the old type dropped.
fn alter_enum(from: &EnumType, to: &EnumType, source: &Schema) -> InPlace {
    let key = ObjectKey::Type {
        name: raw_qualified(&to.schema, &to.name),
    };
    let type_name = qualified(&to.schema, &to.name);
    let kept: Vec<&String> = to
        .values
        .iter()
        .filter(|v| from.values.contains(v))
        .collect();
    let only_additions =
        kept.len() == from.values.len() && kept.iter().copied().eq(from.values.iter());
    if only_additions {
        let mut steps = Vec::new();
        for (i, value) in to.values.iter().enumerate() {
            if from.values.contains(value) {
                continue;
            }
            let position = match to.values[i + 1..].iter().find(|v| from.values.contains(v)) {
                Some(next) => format!(" BEFORE {}", literal(next)),
                None => match to.values[..i].last() {
                    Some(previous) => format!(" AFTER {}", literal(previous)),
                    None => String::new(),
                },
            };
            let mut s = Step::new(
                key.clone(),
                Action::Alter,
                format!("add value {} to enum {}", literal(value), key.describe()),
                format!(
                    "ALTER TYPE {type_name} ADD VALUE {}{position};",
                    literal(value)
                ),
            )
            .with_hazard(
                HazardKind::Irreversible,
                "PostgreSQL cannot remove an enum value in place",
            );
            s.run = Phase::BeforeTransaction;
            steps.push(s);
        }
        return InPlace {
            steps,
            changed_columns: vec![],
        };
    }
    rebuild_enum(from, to, source, key, &type_name)
}

fn rebuild_enum(
    from: &EnumType,
    to: &EnumType,
    source: &Schema,
    key: ObjectKey,
    type_name: &str,
) -> InPlace {
    let old_name = format!("{}__strata_old", to.name);
    let removed: Vec<String> = from
        .values
        .iter()
        .filter(|v| !to.values.contains(v))
        .map(|v| literal(v))
        .collect();
    let mut steps = vec![Step::new(
        key.clone(),
        Action::Alter,
        format!(
            "rebuild enum {} (values removed or reordered)",
            key.describe()
        ),
        format!("ALTER TYPE {type_name} RENAME TO {};", ident(&old_name)),
    )];
    let values: Vec<String> = to.values.iter().map(|v| literal(v)).collect();
    steps.push(Step::new(
        key.clone(),
        Action::Alter,
        format!("create the new {}", key.describe()),
        format!("CREATE TYPE {type_name} AS ENUM ({});", values.join(", ")),
    ));
    let mut changed_columns = Vec::new();
    let used_as = [type_name.to_string(), format!("{type_name}[]")];
    for t in &source.tables {
        for c in t
            .columns
            .iter()
            .filter(|c| !c.inherited && used_as.contains(&c.data_type))
        {
            let relation = qualified(&t.schema, &t.name);
            let column = ident(&c.name);
            let array = c.data_type.ends_with("[]");
            let cast = if array {
                format!("{column}::text[]::{type_name}[]")
            } else {
                format!("{column}::text::{type_name}")
            };
            let mut s = Step::new(
                key.clone(),
                Action::Alter,
                format!("convert {relation}.{column} to the rebuilt enum"),
                format!(
                    "ALTER TABLE {relation} ALTER COLUMN {column} TYPE {} USING {cast};",
                    c.data_type
                ),
            )
            .with_hazard(HazardKind::TableRewrite, format!("rewrites {relation}"));
            if !removed.is_empty() && !array {
                s = s
                    .with_hazard(
                        HazardKind::DataLoss,
                        format!(
                            "rows holding a removed value ({}) make the conversion fail",
                            removed.join(", ")
                        ),
                    )
                    .with_precheck(format!(
                        "SELECT count(*) FROM {relation} WHERE {column}::text IN ({})",
                        removed.join(", ")
                    ));
            }
            steps.push(s);
            changed_columns.push((raw_qualified(&t.schema, &t.name), c.name.clone()));
        }
    }
    steps.push(Step::new(
        key.clone(),
        Action::Alter,
        "drop the old enum".to_string(),
        format!("DROP TYPE {};", qualified(&to.schema, &old_name)),
    ));
    if !removed.is_empty() {
        steps[0] = steps[0].clone().with_hazard(
            HazardKind::DataLoss,
            format!("removes enum values {}", removed.join(", ")),
        );
    }
    InPlace {
        steps,
        changed_columns,
    }
}

fn alter_domain(from: &Domain, to: &Domain) -> Option<InPlace> {
    if from.data_type != to.data_type || from.collation != to.collation {
        return None;
    }
    let key = ObjectKey::Type {
        name: raw_qualified(&to.schema, &to.name),
    };
    let domain = qualified(&to.schema, &to.name);
    let mut steps = Vec::new();
    let alter = |sql: String, reason: &str| {
        Step::new(
            key.clone(),
            Action::Alter,
            format!("{reason} of domain {domain}"),
            sql,
        )
    };
    if from.default != to.default {
        steps.push(match &to.default {
            Some(d) => alter(
                format!("ALTER DOMAIN {domain} SET DEFAULT {d};"),
                "change the default",
            ),
            None => alter(
                format!("ALTER DOMAIN {domain} DROP DEFAULT;"),
                "drop the default",
            ),
        });
    }
    if from.not_null != to.not_null {
        steps.push(if to.not_null {
            alter(
                format!("ALTER DOMAIN {domain} SET NOT NULL;"),
                "set NOT NULL",
            )
            .with_hazard(
                HazardKind::MayFail,
                "fails if a column of this domain holds NULLs",
            )
        } else {
            alter(
                format!("ALTER DOMAIN {domain} DROP NOT NULL;"),
                "drop NOT NULL",
            )
        });
    }
    for c in &from.constraints {
        if !to.constraints.contains(c) {
            steps.push(alter(
                format!("ALTER DOMAIN {domain} DROP CONSTRAINT {};", ident(&c.name)),
                "drop a constraint",
            ));
        }
    }
    for c in &to.constraints {
        if !from.constraints.contains(c) {
            steps.push(
                alter(
                    format!(
                        "ALTER DOMAIN {domain} ADD CONSTRAINT {} {};",
                        ident(&c.name),
                        c.definition
                    ),
                    "add a constraint",
                )
                .with_hazard(HazardKind::MayFail, "fails if existing values violate it"),
            );
            if let Some(comment) = &c.comment {
                steps.push(alter(
                    format!(
                        "COMMENT ON CONSTRAINT {} ON DOMAIN {domain} IS {};",
                        ident(&c.name),
                        literal(comment)
                    ),
                    "comment a constraint",
                ));
            }
        }
    }
    Some(InPlace {
        steps,
        changed_columns: vec![],
    })
}

/// `CREATE OR REPLACE` keeps a function's identity (and what depends on it) when its result
/// type and argument names stay the same; otherwise it must be dropped and created.
fn replace_function(
    key: &ObjectKey,
    name: &str,
    source: &Schema,
    target: &Schema,
) -> Option<InPlace> {
    let (from, to) = (find_function(source, name)?, find_function(target, name)?);
    if from.kind == FunctionKind::Aggregate || from.kind != to.kind {
        return None;
    }
    let header = |f: &Function| -> Vec<String> {
        f.definition
            .lines()
            .take_while(|l| !l.starts_with(" LANGUAGE") && !l.starts_with("AS "))
            .filter(|l| l.starts_with("CREATE") || l.starts_with(" RETURNS"))
            .map(str::to_string)
            .collect()
    };
    if header(from) != header(to) {
        return None;
    }
    let s = Step::new(
        key.clone(),
        Action::Alter,
        format!("replace the body of {}", key.describe()),
        format!("{};", to.definition.trim_end()),
    )
    .with_inverse(format!("{};", from.definition.trim_end()));
    Some(InPlace {
        steps: vec![s],
        changed_columns: vec![],
    })
}

fn alter_extension(
    key: &ObjectKey,
    name: &str,
    source: &Schema,
    target: &Schema,
) -> Option<InPlace> {
    let find = |s: &Schema| s.extensions.iter().find(|e| e.name == name).cloned();
    let (from, to) = (find(source)?, find(target)?);
    let mut steps = Vec::new();
    if from.schema != to.schema {
        steps.push(
            Step::new(
                key.clone(),
                Action::Alter,
                format!("move extension {name}"),
                format!(
                    "ALTER EXTENSION {} SET SCHEMA {};",
                    ident(name),
                    ident(&to.schema)
                ),
            )
            .with_inverse(format!(
                "ALTER EXTENSION {} SET SCHEMA {};",
                ident(name),
                ident(&from.schema)
            )),
        );
    }
    if from.version != to.version {
        steps.push(
            Step::new(
                key.clone(),
                Action::Alter,
                format!("update extension {name} to {}", to.version),
                format!(
                    "ALTER EXTENSION {} UPDATE TO {};",
                    ident(name),
                    literal(&to.version)
                ),
            )
            .with_hazard(
                HazardKind::Irreversible,
                "extension downgrades are not always available",
            ),
        );
    }
    if steps.is_empty() {
        return None;
    }
    Some(InPlace {
        steps,
        changed_columns: vec![],
    })
}

/// A trigger whose definition is unchanged but whose enabled state differs is switched, not
/// recreated.
fn alter_trigger_state(
    key: &ObjectKey,
    table: &str,
    name: &str,
    source: &Schema,
    target: &Schema,
) -> Option<InPlace> {
    let find = |s: &Schema| {
        find_table(s, table).and_then(|t| t.triggers.iter().find(|tr| tr.name == name).cloned())
    };
    let (from, to) = (find(source)?, find(target)?);
    if from.definition != to.definition || from.comment != to.comment {
        return None;
    }
    let action = |state: &str| match state {
        "disabled" => "DISABLE TRIGGER",
        "always" => "ENABLE ALWAYS TRIGGER",
        "replica" => "ENABLE REPLICA TRIGGER",
        _ => "ENABLE TRIGGER",
    };
    let relation = quoted_ref(target, table);
    let s = Step::new(
        key.clone(),
        Action::Alter,
        format!("set {} to {}", key.describe(), to.enabled),
        format!(
            "ALTER TABLE {relation} {} {};",
            action(&to.enabled),
            ident(name)
        ),
    )
    .with_inverse(format!(
        "ALTER TABLE {relation} {} {};",
        action(&from.enabled),
        ident(name)
    ));
    Some(InPlace {
        steps: vec![s],
        changed_columns: vec![],
    })
}

/// The column definition for `ADD COLUMN`.
pub(super) fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(collation) = &c.collation {
        sql.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(g) = &c.generated {
        sql.push_str(&format!(" GENERATED ALWAYS AS ({}) STORED", g.expression));
    }
    if let Some(identity) = &c.identity {
        sql.push_str(&format!(" {}", identity_clause(identity)));
    } else if let Some(default) = &c.default {
        sql.push_str(&format!(" DEFAULT {default}"));
    }
    if c.not_null && c.identity.is_none() {
        sql.push_str(" NOT NULL");
    }
    sql
}

pub(super) fn identity_clause(identity: &Identity) -> String {
    let generation = match identity.generation {
        IdentityGeneration::Always => "ALWAYS",
        IdentityGeneration::ByDefault => "BY DEFAULT",
    };
    let mut options = Vec::new();
    if let Some(seq) = &identity.sequence {
        let (schema, name) = seq.split_once('.').unwrap_or(("", seq));
        options.push(format!("SEQUENCE NAME {}", qualified(schema, name)));
    }
    if let Some(o) = &identity.options {
        options.push(format!(
            "START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
            o.start,
            o.increment,
            o.min_value,
            o.max_value,
            o.cache,
            if o.cycle { " CYCLE" } else { "" }
        ));
    }
    if options.is_empty() {
        format!("GENERATED {generation} AS IDENTITY")
    } else {
        format!("GENERATED {generation} AS IDENTITY ({})", options.join(" "))
    }
}

pub(super) fn type_change(from: &str, to: &str) -> TypeChange {
    classify_type_change(from, to)
}
