//! DDL for the objects created before any table: schemas, extensions, collations, sequences
//! and types (enums, composite types, ranges, domains).

use super::{ident, literal, qualified, Names, Script};
use crate::schema::key::ObjectKey;
use crate::schema::{
    qualified as raw_qualified, CompositeType, Domain, EnumType, Namespace, RangeType, Schema,
    SequenceOptions,
};

/// The key of a type (enum, composite, range or domain); its parts share it.
fn type_key(schema: &str, name: &str) -> ObjectKey {
    ObjectKey::Type {
        name: raw_qualified(schema, name),
    }
}

/// Schemas, then extensions (which are installed into schemas).
pub(super) fn schemas_and_extensions(script: &mut Script, schema: &Schema) {
    for ns in &schema.schemas {
        namespace(script, ns);
    }
    for e in &schema.extensions {
        let key = ObjectKey::Extension {
            name: e.name.clone(),
        };
        let name = ident(&e.name);
        // No VERSION: the server installs its default version, which is what a fresh
        // database of that server would have; pinning would fail on other minor versions.
        script.push(
            key.clone(),
            format!(
                "CREATE EXTENSION IF NOT EXISTS {name} WITH SCHEMA {};",
                ident(&e.schema)
            ),
        );
        script.comment(&key, "EXTENSION", &name, e.comment.as_ref());
    }
}

fn namespace(script: &mut Script, ns: &Namespace) {
    let key = ObjectKey::Schema {
        name: ns.name.clone(),
    };
    let name = ident(&ns.name);
    // Every new database has `public`; its comment and access may still differ.
    if ns.name != "public" {
        script.push(key.clone(), format!("CREATE SCHEMA {name};"));
    }
    script.comment(&key, "SCHEMA", &name, ns.comment.as_ref());
    script.access(&key, "SCHEMA", "SCHEMA", &name, &ns.access);
}

pub(super) fn collations(script: &mut Script, schema: &Schema) {
    for c in &schema.collations {
        let name = qualified(&c.schema, &c.name);
        let mut options = vec![format!("provider = {}", c.provider)];
        // LOCALE sets both categories and may not be combined with them.
        match &c.locale {
            Some(locale) => options.push(format!("locale = {}", literal(locale))),
            None => {
                for (key, value) in [("lc_collate", &c.lc_collate), ("lc_ctype", &c.lc_ctype)] {
                    if let Some(v) = value {
                        options.push(format!("{key} = {}", literal(v)));
                    }
                }
            }
        }
        if !c.deterministic {
            options.push("deterministic = false".to_string());
        }
        let key = ObjectKey::Collation {
            name: raw_qualified(&c.schema, &c.name),
        };
        let sql = format!("CREATE COLLATION {name} ({});", options.join(", "));
        script.push(key.clone(), sql);
        script.comment(&key, "COLLATION", &name, c.comment.as_ref());
    }
}

/// Free-standing sequences. Their `OWNED BY` waits for the tables ([`sequence_ownership`]).
pub(super) fn sequences(script: &mut Script, schema: &Schema) {
    for s in &schema.sequences {
        let name = qualified(&s.schema, &s.name);
        let key = ObjectKey::Sequence {
            name: raw_qualified(&s.schema, &s.name),
        };
        let sql = format!(
            "CREATE SEQUENCE {name}\n    AS {}\n    {};",
            s.options.data_type,
            sequence_options(&s.options, "\n    ")
        );
        script.push(key.clone(), sql);
        script.comment(&key, "SEQUENCE", &name, s.comment.as_ref());
        script.access(&key, "SEQUENCE", "SEQUENCE", &name, &s.access);
    }
}

/// `ALTER SEQUENCE … OWNED BY table.column` for sequences that belong to a column.
pub(super) fn sequence_ownership(script: &mut Script, schema: &Schema, names: &Names) {
    for s in &schema.sequences {
        if let Some(owner) = &s.owned_by {
            let (table, column) = names.column_reference(owner);
            let key = ObjectKey::SequenceOwner {
                name: raw_qualified(&s.schema, &s.name),
            };
            let sql = format!(
                "ALTER SEQUENCE {} OWNED BY {table}.{column};",
                qualified(&s.schema, &s.name)
            );
            script.push(key, sql);
        }
    }
}

/// Every option of a sequence (so none depends on the server's defaults), separated by `sep`.
pub(super) fn sequence_options(o: &SequenceOptions, sep: &str) -> String {
    let mut parts = vec![
        format!("START WITH {}", o.start),
        format!("INCREMENT BY {}", o.increment),
        format!("MINVALUE {}", o.min_value),
        format!("MAXVALUE {}", o.max_value),
        format!("CACHE {}", o.cache),
    ];
    parts.push(if o.cycle { "CYCLE" } else { "NO CYCLE" }.to_string());
    parts.join(sep)
}

pub(super) fn enum_type(script: &mut Script, t: &EnumType) {
    let name = qualified(&t.schema, &t.name);
    let labels: Vec<String> = t
        .values
        .iter()
        .map(|v| format!("    {}", literal(v)))
        .collect();
    let key = type_key(&t.schema, &t.name);
    let sql = format!("CREATE TYPE {name} AS ENUM (\n{}\n);", labels.join(",\n"));
    script.push(key.clone(), sql);
    script.comment(&key, "TYPE", &name, t.comment.as_ref());
    script.access(&key, "TYPE", "TYPE", &name, &t.access);
}

pub(super) fn composite_type(script: &mut Script, t: &CompositeType) {
    let name = qualified(&t.schema, &t.name);
    let attributes: Vec<String> = t
        .attributes
        .iter()
        .map(|a| {
            let collate = a.collation.as_ref().map(|c| format!(" COLLATE {c}"));
            format!(
                "    {} {}{}",
                ident(&a.name),
                a.data_type,
                collate.unwrap_or_default()
            )
        })
        .collect();
    let key = type_key(&t.schema, &t.name);
    let sql = format!("CREATE TYPE {name} AS (\n{}\n);", attributes.join(",\n"));
    script.push(key.clone(), sql);
    script.comment(&key, "TYPE", &name, t.comment.as_ref());
    // Attributes are parts of the type: their comments are keyed by the type.
    for a in &t.attributes {
        let column = format!("{name}.{}", ident(&a.name));
        script.comment(&key, "COLUMN", &column, a.comment.as_ref());
    }
    script.access(&key, "TYPE", "TYPE", &name, &t.access);
}

pub(super) fn range_type(script: &mut Script, t: &RangeType) {
    let name = qualified(&t.schema, &t.name);
    let mut options = vec![format!("subtype = {}", t.subtype)];
    let optional = [
        ("subtype_opclass", &t.subtype_opclass),
        ("collation", &t.collation),
        ("canonical", &t.canonical),
        ("subtype_diff", &t.subtype_diff),
    ];
    for (key, value) in optional {
        if let Some(v) = value {
            options.push(format!("{key} = {v}"));
        }
    }
    if let Some(m) = &t.multirange_name {
        options.push(format!(
            "multirange_type_name = {}",
            type_reference(m, &t.schema)
        ));
    }
    let key = type_key(&t.schema, &t.name);
    let sql = format!(
        "CREATE TYPE {name} AS RANGE (\n    {}\n);",
        options.join(",\n    ")
    );
    script.push(key.clone(), sql);
    script.comment(&key, "TYPE", &name, t.comment.as_ref());
    script.access(&key, "TYPE", "TYPE", &name, &t.access);
}

/// A type name that is either already SQL (`public.x`, `"X"`) or a bare raw name in `schema`.
fn type_reference(name: &str, schema: &str) -> String {
    if name.contains('.') || name.contains('"') {
        name.to_string()
    } else {
        qualified(schema, name)
    }
}

/// `CREATE DOMAIN` with its valid constraints; NOT VALID ones cannot be declared there and
/// are added afterwards, as pg_dump does.
pub(super) fn domain(script: &mut Script, d: &Domain) {
    let name = qualified(&d.schema, &d.name);
    let mut text = format!("CREATE DOMAIN {name} AS {}", d.data_type);
    if let Some(c) = &d.collation {
        text.push_str(&format!(" COLLATE {c}"));
    }
    if let Some(default) = &d.default {
        text.push_str(&format!(" DEFAULT {default}"));
    }
    if d.not_null {
        text.push_str(" NOT NULL");
    }
    let (valid, not_valid): (Vec<_>, Vec<_>) = d.constraints.iter().partition(|c| !is_not_valid(c));
    for c in &valid {
        text.push_str(&format!(
            "\n    CONSTRAINT {} {}",
            ident(&c.name),
            c.definition
        ));
    }
    text.push(';');
    // NOT VALID constraints and the comments on constraints are parts of the domain.
    let key = type_key(&d.schema, &d.name);
    script.push(key.clone(), text);
    for c in &not_valid {
        let mut definition = c.definition.clone();
        if !definition.ends_with(" NOT VALID") {
            definition.push_str(" NOT VALID");
        }
        let sql = format!(
            "ALTER DOMAIN {name} ADD CONSTRAINT {} {definition};",
            ident(&c.name)
        );
        script.push(key.clone(), sql);
    }
    script.comment(&key, "DOMAIN", &name, d.comment.as_ref());
    for c in &d.constraints {
        let target = format!("{} ON DOMAIN {name}", ident(&c.name));
        script.comment(&key, "CONSTRAINT", &target, c.comment.as_ref());
    }
    script.access(&key, "DOMAIN", "DOMAIN", &name, &d.access);
}

fn is_not_valid(c: &crate::schema::DomainConstraint) -> bool {
    c.not_valid || c.definition.ends_with(" NOT VALID")
}
