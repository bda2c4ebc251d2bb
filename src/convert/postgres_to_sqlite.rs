//! A PostgreSQL schema → a SQLite schema, where it makes sense: tables, columns, keys,
//! foreign keys, checks, btree indexes, simple defaults and views; enums become TEXT with a
//! CHECK on their labels; a single-column integer primary key fed by an identity or a sequence
//! becomes `INTEGER PRIMARY KEY AUTOINCREMENT`.
//!
//! What SQLite has no place for — functions, sequences, triggers, rules, policies, exclusion
//! constraints, partitioning, extensions, types other than enums and domains, publications,
//! event triggers — is named in the report as omitted. SQLite has one namespace: tables of
//! other schemas keep their bare name, and a name already taken is left out.
//!
//! The result is validated by loading it into a temporary SQLite database (`settle.rs`).

use std::collections::HashSet;

use super::report::{Report, Severity};
use super::types;
use super::{pg_expressions, pg_indexes};
use crate::engine::sqlite::lexer::quote_ident;
use crate::schema::{
    qualified, Access, Column, Constraint, ConstraintKind, EngineKind, ForeignKeyTarget, Identity,
    IdentityGeneration, Index, Schema, Table, View,
};

/// The SQLite version converted schemas are written for (the library's major version).
const SQLITE_VERSION: &str = "3";

/// Converts `source` (a PostgreSQL schema) into a SQLite schema.
pub fn convert(source: &Schema) -> (Schema, Report) {
    let mut converter = Converter {
        source,
        schemas: source
            .schemas
            .iter()
            .map(|s| s.name.clone())
            .chain(["pg_catalog".to_string()])
            .collect(),
        report: Report::new(EngineKind::Postgres, EngineKind::Sqlite),
        names: HashSet::new(),
    };
    let mut target = Schema::new(EngineKind::Sqlite, SQLITE_VERSION);
    converter.report_unsupported();
    for table in &source.tables {
        if let Some(table) = converter.table(table) {
            target.tables.push(table);
        }
    }
    let kept: HashSet<String> = target.tables.iter().map(|t| t.name.clone()).collect();
    for table in &mut target.tables {
        converter.drop_dangling_keys(table, &kept);
    }
    for view in &source.views {
        if let Some(view) = converter.view(view) {
            target.views.push(view);
        }
    }
    target.canonicalize();
    converter.report.sort();
    (target, converter.report)
}

struct Converter<'s> {
    source: &'s Schema,
    /// PostgreSQL schema names, dropped where they qualify a name.
    schemas: Vec<String>,
    report: Report,
    /// Names taken in SQLite's single namespace (lowercase: SQLite names ignore case).
    names: HashSet<String>,
}

impl Converter<'_> {
    /// Names every object kind SQLite has no place for.
    fn report_unsupported(&mut self) {
        let s = self.source;
        let named = |schema: &str, name: &str| qualified(schema, name);
        let unsupported: Vec<(&str, Vec<String>, &str)> = vec![
            (
                "extension",
                s.extensions.iter().map(|e| e.name.clone()).collect(),
                "SQLite has no extensions",
            ),
            (
                "collation",
                s.collations
                    .iter()
                    .map(|c| named(&c.schema, &c.name))
                    .collect(),
                "SQLite only has BINARY, NOCASE and RTRIM",
            ),
            (
                "type",
                s.composite_types
                    .iter()
                    .map(|t| named(&t.schema, &t.name))
                    .collect(),
                "SQLite has no composite types",
            ),
            (
                "type",
                s.range_types
                    .iter()
                    .map(|t| named(&t.schema, &t.name))
                    .collect(),
                "SQLite has no range types",
            ),
            (
                "sequence",
                s.sequences
                    .iter()
                    .filter(|q| q.owned_by.is_none())
                    .map(|q| named(&q.schema, &q.name))
                    .collect(),
                "SQLite has no sequences",
            ),
            (
                "function",
                s.functions
                    .iter()
                    .map(|f| format!("{}({})", named(&f.schema, &f.name), f.arguments))
                    .collect(),
                "SQLite has no stored functions",
            ),
            (
                "event trigger",
                s.event_triggers.iter().map(|e| e.name.clone()).collect(),
                "SQLite has no event triggers",
            ),
            (
                "publication",
                s.publications.iter().map(|p| p.name.clone()).collect(),
                "SQLite has no replication",
            ),
        ];
        for (kind, names, reason) in unsupported {
            for name in names {
                self.report.omit(kind, name, "", reason);
            }
        }
        for d in &s.domains {
            self.report.add(
                Severity::Warning,
                "type",
                qualified(&d.schema, &d.name),
                &d.data_type,
                "",
                "a domain becomes its base type; its constraints and default are not carried over",
            );
        }
        if s.access().any(|a| !a.is_empty()) {
            self.report.add(
                Severity::Info,
                "access",
                "(all objects)",
                "",
                "",
                "SQLite has no owners or grants",
            );
        }
    }

    fn claim(&mut self, kind: &str, object: &str, name: &str) -> bool {
        if self.names.insert(name.to_lowercase()) {
            return true;
        }
        self.report.omit(kind, object, "", format!("SQLite keeps every table, view and index in one namespace, and {name:?} is already taken (by an object of another schema)"));
        false
    }

    fn table(&mut self, t: &Table) -> Option<Table> {
        let object = qualified(&t.schema, &t.name);
        if let Some(partition) = &t.partition_of {
            self.report.omit(
                "table",
                &object,
                &partition.bound,
                "a partition: SQLite has no partitioning (the parent becomes a plain table)",
            );
            return None;
        }
        if !self.claim("table", &object, &t.name) {
            return None;
        }
        if t.partition_by.is_some() {
            self.report.add(
                Severity::Warning,
                "table",
                &object,
                t.partition_by.clone().unwrap_or_default(),
                "",
                "SQLite has no partitioning: a plain table (its partitions are left out)",
            );
        }
        if !t.inherits.is_empty() {
            self.report.add(
                Severity::Warning,
                "table",
                &object,
                t.inherits.join(", "),
                "",
                "SQLite has no inheritance: a table of its own with every column",
            );
        }
        for (kind, names) in [
            (
                "trigger",
                t.triggers
                    .iter()
                    .map(|x| x.name.clone())
                    .collect::<Vec<_>>(),
            ),
            ("rule", t.rules.iter().map(|x| x.name.clone()).collect()),
            (
                "policy",
                t.policies.iter().map(|x| x.name.clone()).collect(),
            ),
        ] {
            for name in names {
                self.report.omit(kind, format!("{object}.{name}"), "", format!("SQLite has no {kind}s of this kind (trigger bodies are PL/pgSQL functions)"));
            }
        }
        if t.comment.is_some() || t.columns.iter().any(|c| c.comment.is_some()) {
            self.report.add(
                Severity::Info,
                "comment",
                &object,
                "",
                "",
                "SQLite has no comments",
            );
        }
        let key: Vec<&String> = t
            .constraints
            .iter()
            .filter(|c| c.kind == ConstraintKind::PrimaryKey)
            .flat_map(|c| &c.columns)
            .collect();
        let columns = t
            .columns
            .iter()
            .filter_map(|c| self.column(t, c, key.as_slice()))
            .collect();
        let mut constraints: Vec<Constraint> = t
            .constraints
            .iter()
            .filter(|c| !c.inherited)
            .filter_map(|c| self.constraint(t, c))
            .collect();
        constraints.extend(self.enum_checks(t));
        let indexes = t
            .indexes
            .iter()
            .filter(|i| i.attached_to.is_none())
            .filter_map(|i| self.index(t, i))
            .collect();
        Some(super::plain_table(
            String::new(),
            &t.name,
            columns,
            constraints,
            indexes,
            None,
        ))
    }

    /// The enum or domain a PostgreSQL column type names, resolved to a built-in type.
    fn resolve_type(&self, pg_type: &str) -> Resolved {
        let named = |schema: &str, name: &str| {
            pg_type == qualified(schema, name)
                || pg_type
                    == format!(
                        "{}.{}",
                        super::expressions::pg_ident(schema),
                        super::expressions::pg_ident(name)
                    )
                || pg_type == name
        };
        if let Some(e) = self.source.enums.iter().find(|e| named(&e.schema, &e.name)) {
            return Resolved::Enum(e.values.clone());
        }
        if let Some(d) = self
            .source
            .domains
            .iter()
            .find(|d| named(&d.schema, &d.name))
        {
            return Resolved::Builtin(d.data_type.clone());
        }
        Resolved::Builtin(pg_type.to_string())
    }

    fn column(&mut self, t: &Table, c: &Column, key: &[&String]) -> Option<Column> {
        let object = format!("{}.{}", qualified(&t.schema, &t.name), c.name);
        let data_type = match self.resolve_type(&c.data_type) {
            Resolved::Enum(_) => {
                self.report.add(Severity::Info, "type", &object, &c.data_type, "TEXT", "SQLite has no enums: TEXT with a CHECK on the labels (their order is not kept)");
                "TEXT".to_string()
            }
            Resolved::Builtin(pg_type) => match types::postgres_to_sqlite(&pg_type) {
                Some(mapped) => {
                    if let Some((severity, reason)) = mapped.note {
                        self.report.add(
                            severity,
                            "type",
                            &object,
                            &c.data_type,
                            &mapped.to,
                            reason,
                        );
                    }
                    mapped.to
                }
                None => {
                    self.report.add(
                        Severity::Warning,
                        "type",
                        &object,
                        &c.data_type,
                        "TEXT",
                        "SQLite has no such type; values would be kept as their text",
                    );
                    "TEXT".to_string()
                }
            },
        };
        let sole_key = key.len() == 1 && key[0] == &c.name;
        let sequence_default = c
            .default
            .as_deref()
            .is_some_and(|d| d.starts_with("nextval("));
        let numbered = c.identity.is_some() || sequence_default;
        let mut column = Column {
            name: c.name.clone(),
            renamed_from: None,
            data_type,
            collation: None,
            not_null: c.not_null,
            default: None,
            identity: None,
            generated: None,
            inherited: false,
            comment: None,
        };
        if numbered && sole_key && column.data_type == "INTEGER" {
            self.report.add(Severity::Info, "identity", &object, c.default.clone().unwrap_or_else(|| "identity".into()), "INTEGER PRIMARY KEY AUTOINCREMENT", "SQLite numbers rows of an INTEGER PRIMARY KEY; AUTOINCREMENT never reuses a value, as a sequence does not");
            column.identity = Some(Identity {
                generation: IdentityGeneration::ByDefault,
                sequence: None,
                options: None,
                autoincrement: true,
            });
        } else if numbered {
            self.report.omit("identity", &object, c.default.clone().unwrap_or_else(|| "identity".into()), "SQLite only numbers rows through a single-column INTEGER PRIMARY KEY; the column keeps its values but new rows must supply them");
        } else if let Some(default) = &c.default {
            match pg_expressions::default_value(default, &self.schemas) {
                Ok(text) => column.default = Some(text),
                Err(reason) => self.report.omit("default", &object, default, reason),
            }
        }
        if let Some(collation) = &c.collation {
            if collation != "pg_catalog.\"C\"" && collation != "pg_catalog.\"POSIX\"" {
                self.report.add(
                    Severity::Warning,
                    "collation",
                    &object,
                    collation,
                    "",
                    "SQLite compares text byte by byte (BINARY) unless told otherwise",
                );
            }
        }
        if let Some(generated) = &c.generated {
            let translated = pg_expressions::expression(&generated.expression, &self.schemas);
            column.generated = Some(super::generated_column(
                &mut self.report,
                &object,
                &generated.expression,
                translated,
            )?);
        }
        Some(column)
    }

    /// `CHECK ("c" IN ('a', 'b'))` for every enum column.
    fn enum_checks(&mut self, t: &Table) -> Vec<Constraint> {
        let mut checks = Vec::new();
        for c in &t.columns {
            let Resolved::Enum(labels) = self.resolve_type(&c.data_type) else {
                continue;
            };
            let list: Vec<String> = labels
                .iter()
                .map(|l| format!("'{}'", l.replace('\'', "''")))
                .collect();
            let mut name = format!("{}_{}_check", t.name, c.name);
            while t.constraints.iter().any(|k| k.name == name) {
                name.push('_');
            }
            checks.push(Constraint {
                name,
                kind: ConstraintKind::Check,
                definition: format!("CHECK ({} IN ({}))", quote_ident(&c.name), list.join(", ")),
                columns: vec![c.name.clone()],
                references: None,
                deferrable: false,
                initially_deferred: false,
                not_valid: false,
                inherited: false,
                comment: None,
            });
        }
        checks
    }

    fn constraint(&mut self, t: &Table, c: &Constraint) -> Option<Constraint> {
        let object = format!("{}.{}", qualified(&t.schema, &t.name), c.name);
        let definition = match c.kind {
            ConstraintKind::PrimaryKey => format!("PRIMARY KEY ({})", quoted_list(&c.columns)),
            ConstraintKind::Unique => format!("UNIQUE ({})", quoted_list(&c.columns)),
            ConstraintKind::Check => {
                let body = c
                    .definition
                    .trim()
                    .strip_prefix("CHECK")
                    .unwrap_or(&c.definition);
                let body = body.trim().strip_suffix("NOT VALID").unwrap_or(body).trim();
                match pg_expressions::expression(body, &self.schemas) {
                    Ok(expression) => format!("CHECK {expression}"),
                    Err(reason) => {
                        self.report
                            .omit("constraint", &object, &c.definition, reason);
                        return None;
                    }
                }
            }
            ConstraintKind::ForeignKey => return self.foreign_key(c, &object),
            ConstraintKind::Exclusion => {
                self.report.omit(
                    "constraint",
                    &object,
                    &c.definition,
                    "SQLite has no exclusion constraints",
                );
                return None;
            }
        };
        Some(Constraint {
            definition,
            references: None,
            not_valid: false,
            comment: None,
            ..c.clone()
        })
    }

    fn foreign_key(&mut self, c: &Constraint, object: &str) -> Option<Constraint> {
        let Some(target) = &c.references else {
            self.report.omit(
                "constraint",
                object,
                &c.definition,
                "a foreign key without a referenced table",
            );
            return None;
        };
        let table = self
            .source
            .tables
            .iter()
            .find(|t| qualified(&t.schema, &t.name) == target.table)
            .map_or_else(|| target.table.clone(), |t| t.name.clone());
        let mut definition = format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            quoted_list(&c.columns),
            quote_ident(&table),
            quoted_list(&target.columns)
        );
        if target.match_type != "simple" {
            definition.push_str(&format!(
                " MATCH {}",
                target.match_type.to_ascii_uppercase()
            ));
        }
        definition.push_str(&super::foreign_key_actions(target, c));
        Some(Constraint {
            definition,
            references: Some(ForeignKeyTarget {
                table,
                ..target.clone()
            }),
            not_valid: false,
            comment: None,
            ..c.clone()
        })
    }

    /// Foreign keys to tables that were left out go too (SQLite would accept them, and fail
    /// every write to the child with "no such table").
    fn drop_dangling_keys(&mut self, table: &mut Table, kept: &HashSet<String>) {
        let report = &mut self.report;
        table.constraints.retain(|c| {
            let Some(target) = &c.references else {
                return true;
            };
            if kept.contains(&target.table) {
                return true;
            }
            report.omit(
                "constraint",
                format!("{}.{}", table.name, c.name),
                &c.definition,
                format!("it references {:?}, which was left out", target.table),
            );
            false
        });
    }

    fn index(&mut self, t: &Table, i: &Index) -> Option<Index> {
        let object = qualified(&t.schema, &i.name);
        if !self.claim("index", &object, &i.name) {
            return None;
        }
        match pg_indexes::index_definition(&i.definition, &i.name, &t.name, &self.schemas) {
            Ok(definition) => Some(Index {
                name: i.name.clone(),
                definition,
                attached_to: None,
                invalid: false,
                comment: None,
            }),
            Err(reason) => {
                self.report.omit("index", &object, &i.definition, reason);
                None
            }
        }
    }

    fn view(&mut self, v: &View) -> Option<View> {
        let object = qualified(&v.schema, &v.name);
        if !self.claim("view", &object, &v.name) {
            return None;
        }
        if v.materialized {
            self.report.add(
                Severity::Warning,
                "view",
                &object,
                "MATERIALIZED",
                "",
                "SQLite has no materialized views: a plain view, computed on every read",
            );
        }
        if v.check_option.is_some() {
            self.report.add(
                Severity::Warning,
                "view",
                &object,
                "WITH CHECK OPTION",
                "",
                "SQLite views are read-only; the option has no meaning",
            );
        }
        for name in v
            .triggers
            .iter()
            .map(|t| &t.name)
            .chain(v.rules.iter().map(|r| &r.name))
            .chain(v.indexes.iter().map(|i| &i.name))
        {
            self.report.omit(
                "view part",
                format!("{object}.{name}"),
                "",
                "SQLite has no triggers, rules or indexes of this kind on views",
            );
        }
        match pg_expressions::expression(&v.definition, &self.schemas) {
            Ok(query) => Some(View {
                schema: String::new(),
                name: v.name.clone(),
                materialized: false,
                definition: format!("CREATE VIEW {} AS {query}", quote_ident(&v.name)),
                check_option: None,
                options: vec![],
                populated: true,
                depends_on: v
                    .depends_on
                    .iter()
                    .map(|d| d.rsplit('.').next().unwrap_or(d).to_string())
                    .collect(),
                column_comments: vec![],
                indexes: vec![],
                triggers: vec![],
                rules: vec![],
                comment: None,
                access: Access::default(),
            }),
            Err(reason) => {
                self.report.omit("view", &object, &v.definition, reason);
                None
            }
        }
    }
}

/// `"a", "b"`.
fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

enum Resolved {
    Enum(Vec<String>),
    Builtin(String),
}
