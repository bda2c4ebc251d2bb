//! Specifications of the PostgreSQL renderer on small hand-built models. The round trip on
//! real databases is in `tests/roundtrip_pg.rs`.

use super::*;
use crate::schema::key::ObjectKey;
use crate::schema::{
    Column, Constraint, ConstraintKind, Domain, EngineKind, EnumType, Function, FunctionKind,
    Identity, IdentityGeneration, PartitionOf, SequenceOptions, Table, View,
};

fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        renamed_from: None,
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
        renamed_from: None,
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

fn access_with_grant() -> Access {
    Access {
        owner: Some("owner".into()),
        grants: vec![crate::schema::Grant {
            to: "reader".into(),
            privileges: vec!["SELECT".into()],
            grantable: vec![],
        }],
    }
}

fn index(name: &str, definition: &str, attached_to: Option<&str>) -> crate::schema::Index {
    crate::schema::Index {
        name: name.into(),
        definition: definition.into(),
        attached_to: attached_to.map(Into::into),
        invalid: false,
        comment: Some(format!("index {name}")),
    }
}

fn trigger(name: &str, definition: &str, enabled: &str, inherited: bool) -> crate::schema::Trigger {
    crate::schema::Trigger {
        name: name.into(),
        definition: definition.into(),
        enabled: enabled.into(),
        inherited,
        comment: Some(format!("trigger {name}")),
    }
}

fn rule(name: &str, definition: &str, enabled: &str) -> crate::schema::Rule {
    crate::schema::Rule {
        name: name.into(),
        definition: definition.into(),
        enabled: enabled.into(),
        comment: Some(format!("rule {name}")),
    }
}

/// A model with every kind of object and statement the renderer emits, comments and grants
/// on everything that has them.
fn every_kind() -> Schema {
    use crate::schema::{
        Collation, ColumnComment, CompositeAttribute, CompositeType, DomainConstraint,
        EventTrigger, Extension, Namespace, Policy, Publication, PublishedTable, RangeType,
        Sequence,
    };
    let note = |what: &str| Some(format!("about {what}"));
    let options = SequenceOptions {
        data_type: "bigint".into(),
        start: 1,
        increment: 1,
        min_value: 1,
        max_value: 1000,
        cache: 1,
        cycle: false,
    };
    let mut s = schema();
    s.schemas = vec![
        Namespace {
            name: "app".into(),
            comment: note("app"),
            access: access_with_grant(),
        },
        Namespace {
            name: "public".into(),
            comment: note("public"),
            access: Access::default(),
        },
    ];
    s.extensions.push(Extension {
        name: "pgcrypto".into(),
        schema: "public".into(),
        version: "1.3".into(),
        comment: note("pgcrypto"),
    });
    s.collations.push(Collation {
        schema: "public".into(),
        name: "ci".into(),
        provider: "icu".into(),
        locale: Some("und-u-ks-level2".into()),
        lc_collate: None,
        lc_ctype: None,
        deterministic: false,
        comment: note("ci"),
    });
    s.enums.push(EnumType {
        schema: "public".into(),
        name: "mood".into(),
        values: vec!["sad".into(), "ok".into()],
        comment: note("mood"),
        access: access_with_grant(),
    });
    s.domains.push(Domain {
        schema: "public".into(),
        name: "posint".into(),
        data_type: "integer".into(),
        collation: None,
        not_null: false,
        default: None,
        constraints: vec![
            DomainConstraint {
                name: "posint_check".into(),
                definition: "CHECK ((VALUE > 0))".into(),
                not_valid: false,
                comment: note("posint_check"),
            },
            DomainConstraint {
                name: "posint_small".into(),
                definition: "CHECK ((VALUE < 100))".into(),
                not_valid: true,
                comment: note("posint_small"),
            },
        ],
        comment: note("posint"),
        access: access_with_grant(),
    });
    s.composite_types.push(CompositeType {
        schema: "public".into(),
        name: "pair".into(),
        attributes: vec![CompositeAttribute {
            name: "a".into(),
            data_type: "integer".into(),
            collation: None,
            comment: note("pair.a"),
        }],
        comment: note("pair"),
        access: access_with_grant(),
    });
    s.range_types.push(RangeType {
        schema: "public".into(),
        name: "floatrange".into(),
        subtype: "double precision".into(),
        subtype_opclass: None,
        collation: None,
        canonical: None,
        subtype_diff: None,
        multirange_name: Some("floatmultirange".into()),
        comment: note("floatrange"),
        access: access_with_grant(),
    });
    s.sequences.push(Sequence {
        schema: "public".into(),
        name: "doc_id_seq".into(),
        options: options.clone(),
        owned_by: Some("public.doc.id".into()),
        comment: note("doc_id_seq"),
        access: access_with_grant(),
    });

    let mut f = function("f", &[]);
    f.arguments = "a integer".into();
    f.comment = note("f(a integer)");
    f.access = access_with_grant();
    let mut g = function("f", &[]);
    g.arguments = "b text".into();
    g.comment = note("f(b text)");
    let mut total = function("total", &[]);
    total.kind = FunctionKind::Aggregate;
    total.definition =
        "CREATE OR REPLACE AGGREGATE public.total(*) (SFUNC = int8inc, STYPE = bigint)".into();
    total.comment = note("total");
    total.access = access_with_grant();
    let mut reads = function("reads_doc", &["public.doc"]);
    reads.comment = note("reads_doc");
    s.functions = vec![f, g, total, reads, function("audit", &[])];

    let mut id = column("id", "bigint");
    id.not_null = true;
    let mut title = column("title", "text");
    title.default = Some("public.reads_doc()::text".into());
    title.comment = note("doc.title");
    let mut doc = table("public", "doc", vec![id, title]);
    doc.comment = note("doc");
    doc.access = access_with_grant();
    let mut pkey = constraint("doc_pkey", ConstraintKind::PrimaryKey, "PRIMARY KEY (id)");
    pkey.comment = note("doc_pkey");
    let mut check = constraint("doc_check", ConstraintKind::Check, "CHECK ((id > 0))");
    check.comment = note("doc_check");
    let exclusion = constraint(
        "doc_excl",
        ConstraintKind::Exclusion,
        "EXCLUDE USING btree (id WITH =)",
    );
    let fkey = constraint(
        "doc_self_fkey",
        ConstraintKind::ForeignKey,
        "FOREIGN KEY (id) REFERENCES public.doc(id)",
    );
    doc.constraints = vec![pkey, check, exclusion, fkey];
    doc.indexes.push(index(
        "doc_title_idx",
        "CREATE INDEX doc_title_idx ON public.doc USING btree (title)",
        None,
    ));
    doc.triggers.push(trigger(
        "doc_audit",
        "CREATE TRIGGER doc_audit AFTER INSERT ON public.doc FOR EACH ROW EXECUTE FUNCTION public.audit()",
        "always",
        false,
    ));
    doc.rules.push(rule(
        "doc_keep",
        "CREATE RULE doc_keep AS ON DELETE TO public.doc DO INSTEAD NOTHING;",
        "disabled",
    ));
    doc.row_level_security = true;
    doc.force_row_level_security = true;
    doc.policies.push(Policy {
        name: "doc_mine".into(),
        command: "all".into(),
        permissive: true,
        roles: vec![],
        using: Some("true".into()),
        with_check: None,
        comment: note("doc_mine"),
    });
    doc.replica_identity = Some("full".into());

    // A partition tree: the partition's key, CHECK, index and trigger come from its parent.
    let mut m = partitioned_pair(vec![column("a", "integer"), column("b", "date")]).tables;
    let (mut child, mut parent) = (m.remove(0), m.remove(0));
    parent.indexes.push(index(
        "m_a_idx",
        "CREATE INDEX m_a_idx ON ONLY public.m USING btree (a)",
        None,
    ));
    parent.triggers.push(trigger(
        "m_trg",
        "CREATE TRIGGER m_trg AFTER INSERT ON public.m FOR EACH ROW EXECUTE FUNCTION public.audit()",
        "origin",
        false,
    ));
    child.indexes.push(index(
        "m_1_a_idx",
        "CREATE INDEX m_1_a_idx ON public.m_1 USING btree (a)",
        Some("public.m_a_idx"),
    ));
    child.triggers.push(trigger(
        "m_trg",
        "CREATE TRIGGER m_trg AFTER INSERT ON public.m_1 FOR EACH ROW EXECUTE FUNCTION public.audit()",
        "disabled",
        true,
    ));
    for c in &mut child.constraints {
        c.comment = Some(format!("clone {}", c.name));
    }

    // Inheritance, where the child differs on NOT NULL and has a default of its own.
    let mut vid = column("id", "bigint");
    vid.not_null = true;
    vid.identity = Some(Identity {
        generation: IdentityGeneration::ByDefault,
        sequence: Some("public.vehicle_id_seq".into()),
        options: Some(options),
        autoincrement: false,
    });
    let vehicle = table("public", "vehicle", vec![vid, column("wheels", "integer")]);
    let mut tid = column("id", "bigint");
    tid.inherited = true;
    let mut wheels = column("wheels", "integer");
    wheels.inherited = true;
    wheels.not_null = true;
    wheels.default = Some("4".into());
    let mut truck = table("app", "truck", vec![tid, wheels]);
    truck.inherits = vec!["public.vehicle".into()];
    s.tables = vec![doc, parent, child, vehicle, truck];

    let mut v = view("v", " SELECT doc.id FROM public.doc", &["public.doc"]);
    v.comment = note("v");
    v.access = access_with_grant();
    v.column_comments.push(ColumnComment {
        column: "id".into(),
        comment: "about v.id".into(),
    });
    v.triggers.push(trigger(
        "v_ins",
        "CREATE TRIGGER v_ins INSTEAD OF INSERT ON public.v FOR EACH ROW EXECUTE FUNCTION public.audit()",
        "origin",
        false,
    ));
    v.rules.push(rule(
        "v_upd",
        "CREATE RULE v_upd AS ON UPDATE TO public.v DO INSTEAD NOTHING;",
        "origin",
    ));
    let mut mv = view("mv", " SELECT doc.id FROM public.doc", &["public.doc"]);
    mv.materialized = true;
    mv.comment = note("mv");
    mv.access = access_with_grant();
    mv.indexes.push(index(
        "mv_id_idx",
        "CREATE UNIQUE INDEX mv_id_idx ON public.mv USING btree (id)",
        None,
    ));
    s.views = vec![v, mv];

    s.publications.push(Publication {
        name: "pub".into(),
        all_tables: false,
        tables: vec![PublishedTable {
            table: "public.doc".into(),
            columns: vec![],
            row_filter: None,
        }],
        schemas: vec![],
        publish: vec!["insert".into()],
        via_root: false,
        comment: note("pub"),
    });
    s.event_triggers.push(EventTrigger {
        name: "log".into(),
        event: "ddl_command_end".into(),
        tags: vec![],
        function: "public.audit".into(),
        enabled: "disabled".into(),
        comment: note("log"),
    });
    s
}

/// The variant name of a key (`Table`, `Comment` …).
fn kind_of(key: &ObjectKey) -> String {
    let debug = format!("{key:?}");
    debug
        .split([' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The kind of key a statement must have, from its text alone.
fn expected_kind(sql: &str) -> &'static str {
    let starts = |p: &str| sql.starts_with(p);
    if starts("COMMENT ON ") {
        "Comment"
    } else if starts("GRANT ") || starts("REVOKE ") || sql.contains(" OWNER TO ") {
        "Access"
    } else if starts("CREATE SCHEMA") {
        "Schema"
    } else if starts("CREATE EXTENSION") {
        "Extension"
    } else if starts("CREATE COLLATION") {
        "Collation"
    } else if starts("CREATE SEQUENCE") {
        "Sequence"
    } else if starts("ALTER SEQUENCE") && sql.contains(" OWNED BY ") {
        "SequenceOwner"
    } else if starts("CREATE TYPE") || starts("CREATE DOMAIN") || starts("ALTER DOMAIN") {
        "Type"
    } else if starts("CREATE OR REPLACE FUNCTION") || starts("CREATE OR REPLACE AGGREGATE") {
        "Function"
    } else if starts("CREATE TABLE") || starts("CREATE UNLOGGED TABLE") {
        "Table"
    } else if starts("CREATE VIEW") || starts("CREATE MATERIALIZED VIEW") {
        "View"
    } else if starts("CREATE INDEX") || starts("CREATE UNIQUE INDEX") {
        "Index"
    } else if starts("ALTER INDEX") && sql.contains(" ATTACH PARTITION ") {
        "IndexAttachment"
    } else if starts("CREATE EVENT TRIGGER") || starts("ALTER EVENT TRIGGER") {
        "EventTrigger"
    } else if starts("CREATE TRIGGER") || (starts("ALTER TABLE") && sql.contains(" TRIGGER ")) {
        "Trigger"
    } else if starts("CREATE RULE") || (starts("ALTER TABLE") && sql.contains(" RULE ")) {
        "Rule"
    } else if starts("CREATE POLICY") {
        "Policy"
    } else if starts("CREATE PUBLICATION") {
        "Publication"
    } else if sql.contains(" ADD CONSTRAINT ") && starts("ALTER TABLE") {
        "Constraint"
    } else if sql.contains(" ATTACH PARTITION ") && starts("ALTER TABLE") {
        "Table"
    } else if sql.contains(" ALTER COLUMN ") {
        "Column"
    } else if sql.contains(" ROW LEVEL SECURITY") {
        "RowSecurity"
    } else if sql.contains(" REPLICA IDENTITY ") {
        "ReplicaIdentity"
    } else {
        panic!("unclassified statement: {sql}")
    }
}

/// The kind of object a `COMMENT ON` targets, as keyed (parts of types are keyed by the type).
fn expected_comment_target(sql: &str) -> &'static str {
    let what = sql.trim_start_matches("COMMENT ON ");
    let pairs: &[(&str, &str)] = &[
        ("SCHEMA ", "Schema"),
        ("EXTENSION ", "Extension"),
        ("COLLATION ", "Collation"),
        ("SEQUENCE ", "Sequence"),
        ("TYPE ", "Type"),
        ("DOMAIN ", "Type"),
        ("FUNCTION ", "Function"),
        ("AGGREGATE ", "Function"),
        ("PROCEDURE ", "Function"),
        ("TABLE ", "Table"),
        ("VIEW ", "View"),
        ("MATERIALIZED VIEW ", "View"),
        ("INDEX ", "Index"),
        ("TRIGGER ", "Trigger"),
        ("RULE ", "Rule"),
        ("POLICY ", "Policy"),
        ("PUBLICATION ", "Publication"),
        ("EVENT TRIGGER ", "EventTrigger"),
    ];
    if what.starts_with("COLUMN public.pair.") {
        return "Type";
    }
    if what.starts_with("COLUMN ") {
        return "Column";
    }
    if what.starts_with("CONSTRAINT ") {
        return if what.contains(" ON DOMAIN ") {
            "Type"
        } else {
            "Constraint"
        };
    }
    pairs
        .iter()
        .find(|(prefix, _)| what.starts_with(prefix))
        .map(|(_, kind)| *kind)
        .unwrap_or_else(|| panic!("unclassified comment: {sql}"))
}

/// The names a key's statement must mention (every name of `every_kind` needs no quotes).
fn key_names(key: &ObjectKey) -> Vec<String> {
    match key {
        ObjectKey::Comment { on } | ObjectKey::Access { on } => key_names(on),
        ObjectKey::Function { name } => vec![name.split('(').next().unwrap().to_string()],
        // `CREATE INDEX` names the index bare, in its table's schema.
        ObjectKey::Index { name } => name.split('.').map(String::from).collect(),
        ObjectKey::Column { table, column } => vec![table.clone(), column.clone()],
        ObjectKey::Constraint { table, name }
        | ObjectKey::Trigger { table, name }
        | ObjectKey::Rule { table, name }
        | ObjectKey::Policy { table, name } => vec![table.clone(), name.clone()],
        ObjectKey::RowSecurity { table } | ObjectKey::ReplicaIdentity { table } => {
            vec![table.clone()]
        }
        ObjectKey::Schema { name }
        | ObjectKey::Extension { name }
        | ObjectKey::Collation { name }
        | ObjectKey::Type { name }
        | ObjectKey::Sequence { name }
        | ObjectKey::SequenceOwner { name }
        | ObjectKey::Table { name }
        | ObjectKey::IndexAttachment { name }
        | ObjectKey::View { name }
        | ObjectKey::EventTrigger { name }
        | ObjectKey::Publication { name } => vec![name.clone()],
    }
}

#[test]
fn the_script_is_its_statements() {
    for s in [
        every_kind(),
        partitioned_pair(vec![column("b", "date"), column("a", "integer")]),
    ] {
        let sql = schema_sql(&s);
        let body: String = statements(&s)
            .iter()
            .map(|st| format!("\n{}\n", st.sql))
            .collect();
        let header = "-- Strata schema for postgres 15\n\n".to_string() + PREAMBLE;
        assert_eq!(sql, header + &body);
    }
}

#[test]
fn every_statement_is_keyed_by_the_object_it_creates() {
    let all = statements(&every_kind());
    for st in &all {
        let kind = kind_of(&st.key);
        assert_eq!(kind, expected_kind(&st.sql), "{:?} for\n{}", st.key, st.sql);
        if let ObjectKey::Comment { on } = &st.key {
            assert_eq!(
                kind_of(on),
                expected_comment_target(&st.sql),
                "{:?} for\n{}",
                st.key,
                st.sql
            );
        }
        if let ObjectKey::Access { on } = &st.key {
            assert!(!matches!(
                **on,
                ObjectKey::Comment { .. } | ObjectKey::Access { .. }
            ));
        }
        for name in key_names(&st.key) {
            assert!(
                st.sql.contains(&name),
                "{:?} does not match\n{}",
                st.key,
                st.sql
            );
        }
    }
    // Every kind of key occurs.
    let kinds: std::collections::BTreeSet<String> = all.iter().map(|st| kind_of(&st.key)).collect();
    for kind in [
        "Schema",
        "Extension",
        "Collation",
        "Type",
        "Sequence",
        "SequenceOwner",
        "Function",
        "Table",
        "Column",
        "Constraint",
        "Index",
        "IndexAttachment",
        "Trigger",
        "Rule",
        "RowSecurity",
        "Policy",
        "ReplicaIdentity",
        "View",
        "EventTrigger",
        "Publication",
        "Comment",
        "Access",
    ] {
        assert!(kinds.contains(kind), "no {kind} key");
    }
    // Exact names: raw references, functions with their identity arguments.
    let has = |key: ObjectKey, start: &str| {
        assert!(
            all.iter()
                .any(|st| st.key == key && st.sql.starts_with(start)),
            "no `{start}…` keyed {key:?}"
        );
    };
    let column = |table: &str, column: &str| ObjectKey::Column {
        table: table.into(),
        column: column.into(),
    };
    has(
        ObjectKey::Function {
            name: "public.f(a integer)".into(),
        },
        "CREATE OR REPLACE FUNCTION",
    );
    has(
        ObjectKey::Function {
            name: "public.total()".into(),
        },
        "CREATE OR REPLACE AGGREGATE",
    );
    has(
        ObjectKey::Index {
            name: "public.m_1_a_idx".into(),
        },
        "CREATE INDEX m_1_a_idx",
    );
    has(
        ObjectKey::IndexAttachment {
            name: "public.m_1_a_idx".into(),
        },
        "ALTER INDEX public.m_a_idx ATTACH PARTITION public.m_1_a_idx;",
    );
    has(
        ObjectKey::SequenceOwner {
            name: "public.doc_id_seq".into(),
        },
        "ALTER SEQUENCE",
    );
    has(
        column("public.doc", "title"),
        "ALTER TABLE ONLY public.doc ALTER COLUMN title SET DEFAULT",
    );
    has(
        column("app.truck", "wheels"),
        "ALTER TABLE ONLY app.truck ALTER COLUMN wheels SET NOT NULL",
    );
    has(
        ObjectKey::Comment {
            on: Box::new(column("public.v", "id")),
        },
        "COMMENT ON COLUMN public.v.id",
    );
    has(
        ObjectKey::Trigger {
            table: "public.m_1".into(),
            name: "m_trg".into(),
        },
        "ALTER TABLE public.m_1 DISABLE TRIGGER m_trg;",
    );
    has(
        ObjectKey::Comment {
            on: Box::new(ObjectKey::Constraint {
                table: "public.m_1".into(),
                name: "m_a_check".into(),
            }),
        },
        "COMMENT ON CONSTRAINT m_a_check ON public.m_1",
    );
    has(
        ObjectKey::Type {
            name: "public.posint".into(),
        },
        "ALTER DOMAIN public.posint ADD CONSTRAINT",
    );
    has(
        ObjectKey::Access {
            on: Box::new(ObjectKey::Schema { name: "app".into() }),
        },
        "GRANT SELECT ON SCHEMA app",
    );
}

#[test]
fn keys_are_shared_only_by_the_statements_of_one_object() {
    let all = statements(&every_kind());
    let mut seen: HashMap<&ObjectKey, usize> = HashMap::new();
    for (i, st) in all.iter().enumerate() {
        if let Some(&last) = seen.get(&st.key) {
            // Documented exceptions: trigger states follow every trigger; an inheritance
            // child's column has its NOT NULL with the table and its default later.
            let allowed = match st.key {
                ObjectKey::Trigger { .. } => st.sql.starts_with("ALTER TABLE "),
                ObjectKey::Column { .. } => true,
                _ => false,
            };
            assert!(
                last + 1 == i || allowed,
                "{:?} at {last} and {i}:\n{}\n{}",
                st.key,
                all[last].sql,
                st.sql
            );
        }
        seen.insert(&st.key, i);
    }
    // No two objects share a key: one creating statement per key at most.
    let mut created: HashMap<&ObjectKey, &str> = HashMap::new();
    for st in all.iter().filter(|st| st.sql.starts_with("CREATE ")) {
        if let Some(other) = created.insert(&st.key, &st.sql) {
            panic!("{:?} creates both\n{other}\n{}", st.key, st.sql);
        }
    }
    // The two overloads of public.f are two functions.
    let functions = created
        .keys()
        .filter(|k| matches!(k, ObjectKey::Function { name } if name.starts_with("public.f(")))
        .count();
    assert_eq!(functions, 2);
}
