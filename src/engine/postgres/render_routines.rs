//! DDL for code-like objects: functions, procedures and aggregates, views and materialized
//! views, publications and event triggers.

use super::{ident, literal, qualified, terminated, with_options, Names, Script};
use crate::schema::key::ObjectKey;
use crate::schema::{
    qualified as raw_qualified, EventTrigger, Function, FunctionKind, Publication, Schema, View,
};

/// The key of a function, procedure or aggregate: `schema.name(arguments)`, raw.
fn function_key(f: &Function) -> ObjectKey {
    ObjectKey::Function {
        name: format!("{}({})", raw_qualified(&f.schema, &f.name), f.arguments),
    }
}

/// The deparsed `CREATE` statement of a function, procedure or aggregate.
pub(super) fn function(script: &mut Script, f: &Function) {
    let key = function_key(f);
    script.push(key.clone(), terminated(&f.definition));
    let (kind, target) = signature(f);
    script.comment(&key, kind, &target, f.comment.as_ref());
    // GRANT has no AGGREGATE form; an aggregate's privileges are granted ON FUNCTION.
    let grant_kind = if kind == "AGGREGATE" {
        "FUNCTION"
    } else {
        kind
    };
    script.access(&key, kind, grant_kind, &target, &f.access);
}

/// The object keyword and `schema.name(arguments)` that COMMENT and ALTER use for `f`.
fn signature(f: &Function) -> (&'static str, String) {
    let kind = match f.kind {
        FunctionKind::Procedure => "PROCEDURE",
        FunctionKind::Aggregate => "AGGREGATE",
        FunctionKind::Function | FunctionKind::Window => "FUNCTION",
    };
    // An aggregate without arguments (like count(*)) is written with a star.
    let arguments = if f.kind == FunctionKind::Aggregate && f.arguments.is_empty() {
        "*"
    } else {
        f.arguments.as_str()
    };
    (
        kind,
        format!("{}({arguments})", qualified(&f.schema, &f.name)),
    )
}

/// `CREATE [MATERIALIZED] VIEW` around the deparsed query, with options, check option and
/// (for materialized views) whether it is populated.
pub(super) fn view(script: &mut Script, v: &View) {
    let name = qualified(&v.schema, &v.name);
    let query = v.definition.trim_end();
    let query = query.strip_suffix(';').unwrap_or(query).trim_end();
    let options = with_options(&v.options);
    let (kind, text) = if v.materialized {
        let data = if v.populated {
            "WITH DATA"
        } else {
            "WITH NO DATA"
        };
        let text = format!("CREATE MATERIALIZED VIEW {name}{options} AS\n{query}\n  {data};");
        ("MATERIALIZED VIEW", text)
    } else {
        let check = v
            .check_option
            .as_ref()
            .map(|c| format!("\n  WITH {} CHECK OPTION", c.to_uppercase()))
            .unwrap_or_default();
        (
            "VIEW",
            format!("CREATE VIEW {name}{options} AS\n{query}{check};"),
        )
    };
    let raw = raw_qualified(&v.schema, &v.name);
    let key = ObjectKey::View { name: raw.clone() };
    script.push(key.clone(), text);
    script.comment(&key, kind, &name, v.comment.as_ref());
    for c in &v.column_comments {
        let column = format!("{name}.{}", ident(&c.column));
        let on = ObjectKey::Column {
            table: raw.clone(),
            column: c.column.clone(),
        };
        script.comment(&on, "COLUMN", &column, Some(&c.comment));
    }
    script.access(&key, kind, "TABLE", &name, &v.access);
}

/// Publications: their tables (each with `ONLY`, so that an inheritance parent does not pull
/// in children the model lists separately, or not at all) and schemas.
pub(super) fn publications(script: &mut Script, schema: &Schema, names: &Names) {
    for p in &schema.publications {
        let key = ObjectKey::Publication {
            name: p.name.clone(),
        };
        script.push(key.clone(), publication(p, names));
        script.comment(&key, "PUBLICATION", &ident(&p.name), p.comment.as_ref());
    }
}

fn publication(p: &Publication, names: &Names) -> String {
    let mut objects: Vec<String> = Vec::new();
    for t in &p.tables {
        let mut object = format!("TABLE ONLY {}", names.reference(&t.table));
        if !t.columns.is_empty() {
            let columns: Vec<String> = t.columns.iter().map(|c| ident(c)).collect();
            object.push_str(&format!(" ({})", columns.join(", ")));
        }
        if let Some(filter) = &t.row_filter {
            object.push_str(&format!(" WHERE ({filter})"));
        }
        objects.push(object);
    }
    for s in &p.schemas {
        objects.push(format!("TABLES IN SCHEMA {}", ident(s)));
    }
    let mut text = format!("CREATE PUBLICATION {}", ident(&p.name));
    if p.all_tables {
        text.push_str(" FOR ALL TABLES");
    } else if !objects.is_empty() {
        text.push_str(&format!(" FOR {}", objects.join(",\n    ")));
    }
    let mut options = vec![format!("publish = {}", literal(&p.publish.join(", ")))];
    if p.via_root {
        options.push("publish_via_partition_root = true".to_string());
    }
    text.push_str(&format!("\n    WITH ({});", options.join(", ")));
    text
}

/// Event triggers, with their states.
pub(super) fn event_triggers(script: &mut Script, schema: &Schema, names: &Names) {
    for e in &schema.event_triggers {
        let key = ObjectKey::EventTrigger {
            name: e.name.clone(),
        };
        script.push(key.clone(), event_trigger(e, names));
        let name = ident(&e.name);
        let state = match e.enabled.as_str() {
            "disabled" => Some("DISABLE"),
            "replica" => Some("ENABLE REPLICA"),
            "always" => Some("ENABLE ALWAYS"),
            _ => None,
        };
        if let Some(state) = state {
            script.push(key.clone(), format!("ALTER EVENT TRIGGER {name} {state};"));
        }
        script.comment(&key, "EVENT TRIGGER", &name, e.comment.as_ref());
    }
}

fn event_trigger(e: &EventTrigger, names: &Names) -> String {
    let mut text = format!(
        "CREATE EVENT TRIGGER {} ON {}",
        ident(&e.name),
        ident(&e.event)
    );
    if !e.tags.is_empty() {
        let tags: Vec<String> = e.tags.iter().map(|t| literal(t)).collect();
        text.push_str(&format!("\n    WHEN TAG IN ({})", tags.join(", ")));
    }
    text.push_str(&format!(
        "\n    EXECUTE FUNCTION {}();",
        names.reference(&e.function)
    ));
    text
}
