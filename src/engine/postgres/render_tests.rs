//! Specifications of the PostgreSQL renderer on small hand-built models. The round trip on
//! real databases is in `tests/roundtrip_pg.rs`.

use super::*;
use crate::schema::{
    Column, Constraint, ConstraintKind, Domain, EngineKind, EnumType, Function, FunctionKind,
    Identity, IdentityGeneration, PartitionOf, SequenceOptions, Table, View,
};

fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        collation: None,
        not_null: false,
        default: None,
        identity: None,
        generated: None,
        inherited: false,
        comment: None,
    }
}

fn table(schema: &str, name: &str, columns: Vec<Column>) -> Table {
    Table {
        schema: schema.into(),
        name: name.into(),
        unlogged: false,
        partition_by: None,
        partition_of: None,
        inherits: vec![],
        columns,
        constraints: vec![],
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        row_level_security: false,
        force_row_level_security: false,
        policies: vec![],
        replica_identity: None,
        options: vec![],
        without_rowid: false,
        strict: false,
        comment: None,
        access: Access::default(),
    }
}

fn constraint(name: &str, kind: ConstraintKind, definition: &str) -> Constraint {
    Constraint {
        name: name.into(),
        kind,
        definition: definition.into(),
        columns: vec![],
        references: None,
        deferrable: false,
        initially_deferred: false,
        not_valid: false,
        inherited: false,
        comment: None,
    }
}

fn view(name: &str, definition: &str, depends_on: &[&str]) -> View {
    View {
        schema: "public".into(),
        name: name.into(),
        materialized: false,
        definition: definition.into(),
        check_option: None,
        options: vec![],
        populated: true,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        column_comments: vec![],
        indexes: vec![],
        triggers: vec![],
        rules: vec![],
        comment: None,
        access: Access::default(),
    }
}

fn function(name: &str, depends_on: &[&str]) -> Function {
    Function {
        schema: "public".into(),
        name: name.into(),
        arguments: String::new(),
        kind: FunctionKind::Function,
        definition: format!(
            "CREATE OR REPLACE FUNCTION public.{name}()\n RETURNS bigint\n LANGUAGE sql\nRETURN 1\n"
        ),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        comment: None,
        access: Access::default(),
    }
}

fn schema() -> Schema {
    Schema::new(EngineKind::Postgres, "15")
}

/// Byte offset of the first occurrence of `needle` in `sql`; panics when absent.
fn position(sql: &str, needle: &str) -> usize {
    sql.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not found in:\n{sql}"))
}

fn assert_before(sql: &str, first: &str, second: &str) {
    assert!(
        position(sql, first) < position(sql, second),
        "`{first}` should come before `{second}` in:\n{sql}"
    );
}

#[test]
fn identifiers_are_quoted_when_quote_ident_would() {
    assert_eq!(ident("film"), "film");
    assert_eq!(ident("_x1"), "_x1");
    assert_eq!(ident("order"), "\"order\"");
    assert_eq!(ident("user"), "\"user\"");
    assert_eq!(ident("integer"), "\"integer\"");
    assert_eq!(ident("system_user"), "\"system_user\"");
    assert_eq!(ident("Film"), "\"Film\"");
    assert_eq!(ident("1st"), "\"1st\"");
    assert_eq!(ident("a$b"), "\"a$b\"");
    assert_eq!(ident("bıgınt"), "\"bıgınt\"");
    assert_eq!(ident("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(ident(""), "\"\"");
    // Unreserved keywords need no quotes.
    assert_eq!(ident("name"), "name");
    assert_eq!(qualified("Audit Log", "event"), "\"Audit Log\".event");
    assert!(
        QUOTED_KEYWORDS.windows(2).all(|w| w[0] < w[1]),
        "keywords must stay sorted"
    );
}

#[test]
fn comments_escape_quotes_and_keep_backslashes() {
    let mut s = schema();
    let mut t = table("public", "t", vec![column("id", "integer")]);
    t.comment = Some("it's a \\path\\ and ''two''".into());
    s.tables.push(t);
    let sql = schema_sql(&s);
    assert!(
        sql.contains("COMMENT ON TABLE public.t IS 'it''s a \\path\\ and ''''two''''';"),
        "{sql}"
    );
}

#[test]
fn output_starts_with_the_header_and_disables_body_checks() {
    let sql = schema_sql(&schema());
    assert!(
        sql.starts_with("-- Strata schema for postgres 15\n"),
        "{sql}"
    );
    assert!(sql.contains("SET check_function_bodies = false;"));
    assert!(sql.contains("set_config('search_path', '', false)"));
}

#[test]
fn identity_defaults_and_foreign_keys_come_in_creation_order() {
    let mut s = schema();
    let mut id = column("id", "bigint");
    id.not_null = true;
    id.identity = Some(Identity {
        generation: IdentityGeneration::Always,
        sequence: Some("public.parent_id_seq".into()),
        options: Some(SequenceOptions {
            data_type: "bigint".into(),
            start: 5,
            increment: 2,
            min_value: 1,
            max_value: 100,
            cache: 1,
            cycle: true,
        }),
        autoincrement: false,
    });
    let mut parent = table("public", "parent", vec![id]);
    parent.constraints.push(constraint(
        "parent_pkey",
        ConstraintKind::PrimaryKey,
        "PRIMARY KEY (id)",
    ));
    let mut parent_id = column("parent_id", "bigint");
    parent_id.default = Some("public.next_parent()".into());
    let mut child = table("public", "child", vec![parent_id]);
    child.constraints.push(constraint(
        "child_parent_fkey",
        ConstraintKind::ForeignKey,
        "FOREIGN KEY (parent_id) REFERENCES public.parent(id)",
    ));
    s.tables = vec![child, parent];
    s.functions
        .push(function("next_parent", &["public.parent"]));
    let sql = schema_sql(&s);
    assert!(sql.contains(
        "id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.parent_id_seq START WITH 5 \
         INCREMENT BY 2 MINVALUE 1 MAXVALUE 100 CACHE 1 CYCLE) NOT NULL"
    ));
    // The default calls a function that needs a table: table, function, then default.
    assert_before(
        &sql,
        "CREATE TABLE public.parent",
        "FUNCTION public.next_parent",
    );
    assert_before(
        &sql,
        "FUNCTION public.next_parent",
        "SET DEFAULT public.next_parent()",
    );
    assert_before(
        &sql,
        "ADD CONSTRAINT parent_pkey",
        "ADD CONSTRAINT child_parent_fkey",
    );
    assert!(sql.contains(
        "ALTER TABLE ONLY public.child ALTER COLUMN parent_id SET DEFAULT public.next_parent();"
    ));
}

#[test]
fn views_and_functions_follow_their_dependencies_not_their_names() {
    let mut s = schema();
    s.tables
        .push(table("public", "t", vec![column("x", "integer")]));
    s.views.push(view(
        "a_uses_f",
        " SELECT public.f() AS n;",
        &["public.f()"],
    ));
    s.views.push(view(
        "b_uses_c",
        " SELECT x FROM public.c_base",
        &["public.c_base"],
    ));
    s.views
        .push(view("c_base", " SELECT x FROM public.t", &["public.t"]));
    s.functions.push(function("f", &["public.b_uses_c"]));
    s.functions.push(function("plain", &[]));
    let sql = schema_sql(&s);
    assert_before(&sql, "FUNCTION public.plain", "CREATE TABLE public.t");
    assert_before(&sql, "CREATE TABLE public.t", "VIEW public.c_base");
    assert_before(&sql, "VIEW public.c_base", "VIEW public.b_uses_c");
    assert_before(&sql, "VIEW public.b_uses_c", "FUNCTION public.f()");
    assert_before(&sql, "FUNCTION public.f()", "VIEW public.a_uses_f");
    // The deparsed query's trailing semicolon is not doubled.
    assert!(sql.contains("CREATE VIEW public.a_uses_f AS\n SELECT public.f() AS n;\n"));
}

#[test]
fn a_dependency_cycle_still_renders_every_object() {
    let mut s = schema();
    s.views.push(view("v1", " SELECT 1", &["public.v2"]));
    s.views.push(view("v2", " SELECT 2", &["public.v1"]));
    let sql = schema_sql(&s);
    assert!(sql.contains("VIEW public.v1") && sql.contains("VIEW public.v2"));
}

#[test]
fn types_are_created_after_the_types_they_use() {
    let mut s = schema();
    s.enums.push(EnumType {
        schema: "public".into(),
        name: "z_mood".into(),
        values: vec!["sad".into(), "it's ok".into()],
        comment: None,
        access: Access::default(),
    });
    s.domains.push(Domain {
        schema: "public".into(),
        name: "a_good_mood".into(),
        data_type: "public.z_mood[]".into(),
        collation: None,
        not_null: true,
        default: None,
        constraints: vec![],
        comment: None,
        access: Access::default(),
    });
    let sql = schema_sql(&s);
    assert_before(
        &sql,
        "CREATE TYPE public.z_mood",
        "CREATE DOMAIN public.a_good_mood",
    );
    assert!(sql.contains("    'it''s ok'\n);"));
    assert!(sql.contains("CREATE DOMAIN public.a_good_mood AS public.z_mood[] NOT NULL;"));
}

#[test]
fn a_composite_type_on_a_table_row_type_follows_that_table() {
    use crate::schema::{CompositeAttribute, CompositeType};
    let mut s = schema();
    s.tables
        .push(table("public", "b_item", vec![column("id", "integer")]));
    s.composite_types.push(CompositeType {
        schema: "public".into(),
        name: "a_change".into(),
        attributes: vec![CompositeAttribute {
            name: "before".into(),
            data_type: "public.b_item".into(),
            collation: None,
            comment: None,
        }],
        comment: None,
        access: Access::default(),
    });
    s.tables.push(table(
        "public",
        "c_log",
        vec![column("change", "public.a_change[]")],
    ));
    let sql = schema_sql(&s);
    assert_before(
        &sql,
        "CREATE TABLE public.b_item",
        "CREATE TYPE public.a_change",
    );
    assert_before(
        &sql,
        "CREATE TYPE public.a_change",
        "CREATE TABLE public.c_log",
    );
}

fn partitioned_pair(child_columns: Vec<Column>) -> Schema {
    let mut s = schema();
    let mut parent = table(
        "public",
        "m",
        vec![column("a", "integer"), column("b", "date")],
    );
    parent.partition_by = Some("RANGE (b)".into());
    parent.constraints.push(constraint(
        "m_pkey",
        ConstraintKind::PrimaryKey,
        "PRIMARY KEY (a, b)",
    ));
    parent.constraints.push(constraint(
        "m_a_check",
        ConstraintKind::Check,
        "CHECK ((a > 0))",
    ));
    let mut child = table("public", "m_1", child_columns);
    child.partition_of = Some(PartitionOf {
        parent: "public.m".into(),
        bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')".into(),
    });
    let mut key = constraint(
        "m_1_named_pk",
        ConstraintKind::PrimaryKey,
        "PRIMARY KEY (a, b)",
    );
    key.inherited = true;
    let mut check = constraint("m_a_check", ConstraintKind::Check, "CHECK ((a > 0))");
    check.inherited = true;
    child.constraints = vec![key, check];
    for c in &mut child.columns {
        c.inherited = true;
    }
    s.tables = vec![child, parent];
    s
}

#[test]
fn partitions_in_parent_column_order_use_partition_of() {
    let sql = schema_sql(&partitioned_pair(vec![
        column("a", "integer"),
        column("b", "date"),
    ]));
    assert!(sql.contains(
        "CREATE TABLE public.m_1 PARTITION OF public.m\nFOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
    ), "{sql}");
    // The partition's key keeps its name: created first, then adopted by the parent's.
    assert_before(&sql, "ADD CONSTRAINT m_1_named_pk", "ADD CONSTRAINT m_pkey");
    assert!(sql.contains("ALTER TABLE ONLY public.m_1 ADD CONSTRAINT m_1_named_pk"));
    assert!(sql.contains("ALTER TABLE public.m ADD CONSTRAINT m_pkey PRIMARY KEY (a, b);"));
    // The inherited CHECK comes from the parent's recursion, once.
    assert_eq!(sql.matches("ADD CONSTRAINT m_a_check").count(), 1, "{sql}");
}

#[test]
fn partitions_in_another_column_order_are_attached() {
    let sql = schema_sql(&partitioned_pair(vec![
        column("b", "date"),
        column("a", "integer"),
    ]));
    assert!(
        sql.contains("CREATE TABLE public.m_1 (\n    b date,\n    a integer\n);"),
        "{sql}"
    );
    assert!(sql.contains(
        "ALTER TABLE ONLY public.m ATTACH PARTITION public.m_1 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');"
    ));
}

#[test]
fn inheritance_children_list_only_their_own_columns() {
    let mut s = schema();
    let mut wheels = column("wheels", "integer");
    wheels.not_null = true;
    s.tables.push(table(
        "public",
        "vehicle",
        vec![column("id", "integer"), wheels],
    ));
    let mut id = column("id", "integer");
    id.inherited = true;
    id.not_null = true;
    let mut wheels = column("wheels", "integer");
    wheels.inherited = true;
    let mut child = table(
        "public",
        "truck",
        vec![id, wheels, column("payload", "integer")],
    );
    child.inherits = vec!["public.vehicle".into()];
    s.tables.push(child);
    let sql = schema_sql(&s);
    assert!(
        sql.contains(
            "CREATE TABLE public.truck (\n    payload integer\n)\nINHERITS (public.vehicle);"
        ),
        "{sql}"
    );
    assert!(sql.contains("ALTER TABLE ONLY public.truck ALTER COLUMN id SET NOT NULL;"));
    assert!(sql.contains("ALTER TABLE ONLY public.truck ALTER COLUMN wheels DROP NOT NULL;"));
}

#[test]
fn rendering_does_not_depend_on_the_order_of_the_model() {
    let mut s = partitioned_pair(vec![column("a", "integer"), column("b", "date")]);
    s.views.push(view("v", " SELECT 1", &[]));
    s.functions.push(function("f", &[]));
    s.functions.push(function("g", &[]));
    let first = schema_sql(&s);
    s.tables.reverse();
    s.functions.reverse();
    assert_eq!(first, schema_sql(&s));
}

#[test]
fn grants_replace_the_default_privileges() {
    let mut s = schema();
    let mut f = function("f", &[]);
    f.arguments = "a integer".into();
    f.access = Access {
        owner: Some("app owner".into()),
        grants: vec![crate::schema::Grant {
            to: "reader".into(),
            privileges: vec!["EXECUTE".into()],
            grantable: vec!["EXECUTE".into()],
        }],
    };
    s.functions.push(f);
    let sql = schema_sql(&s);
    let expected = "ALTER FUNCTION public.f(a integer) OWNER TO \"app owner\";\n\n\
        REVOKE ALL ON FUNCTION public.f(a integer) FROM PUBLIC;\n\n\
        REVOKE ALL ON FUNCTION public.f(a integer) FROM \"app owner\";\n\n\
        GRANT EXECUTE ON FUNCTION public.f(a integer) TO reader WITH GRANT OPTION;\n";
    assert!(sql.contains(expected), "{sql}");
}

#[test]
fn mentions_match_whole_names_only() {
    assert!(order::mentions("SFUNC = public.step, STYPE", "public.step"));
    assert!(order::mentions("CHECK (public.ok(VALUE))", "public.ok"));
    assert!(!order::mentions("SFUNC = public.step2", "public.step"));
    assert!(!order::mentions("SFUNC = mypublic.step", "public.step"));
}

#[test]
fn policies_publications_and_event_triggers_spell_out_their_options() {
    use crate::schema::{EventTrigger, Policy, Publication, PublishedTable};
    let mut s = schema();
    let mut t = table("public", "doc", vec![column("id", "integer")]);
    t.row_level_security = true;
    t.replica_identity = Some("index doc_Key".into());
    t.policies.push(Policy {
        name: "only_mine".into(),
        command: "select".into(),
        permissive: false,
        roles: vec!["public".into(), "Reader".into()],
        using: Some("(id > 0)".into()),
        with_check: None,
        comment: None,
    });
    s.tables.push(t);
    s.publications.push(Publication {
        name: "pub".into(),
        all_tables: false,
        tables: vec![PublishedTable {
            table: "public.doc".into(),
            columns: vec!["id".into()],
            row_filter: Some("(id > 1)".into()),
        }],
        schemas: vec!["Sales".into()],
        publish: vec!["insert".into(), "update".into()],
        via_root: true,
        comment: None,
    });
    s.event_triggers.push(EventTrigger {
        name: "log".into(),
        event: "ddl_command_end".into(),
        tags: vec!["CREATE TABLE".into()],
        function: "public.log_ddl".into(),
        enabled: "replica".into(),
        comment: Some("logs".into()),
    });
    let sql = schema_sql(&s);
    for expected in [
        "CREATE POLICY only_mine ON public.doc AS RESTRICTIVE FOR SELECT TO \"Reader\", PUBLIC\n    USING ((id > 0));",
        "ALTER TABLE public.doc ENABLE ROW LEVEL SECURITY;",
        "ALTER TABLE public.doc REPLICA IDENTITY USING INDEX \"doc_Key\";",
        "CREATE PUBLICATION pub FOR TABLE ONLY public.doc (id) WHERE ((id > 1)),\n    TABLES IN SCHEMA \"Sales\"\n    WITH (publish = 'insert, update', publish_via_partition_root = true);",
        "CREATE EVENT TRIGGER log ON ddl_command_end\n    WHEN TAG IN ('CREATE TABLE')\n    EXECUTE FUNCTION public.log_ddl();",
        "ALTER EVENT TRIGGER log ENABLE REPLICA;",
        "COMMENT ON EVENT TRIGGER log IS 'logs';",
    ] {
        assert!(sql.contains(expected), "missing\n{expected}\nin\n{sql}");
    }
    assert_before(&sql, "CREATE PUBLICATION", "CREATE EVENT TRIGGER");
}
