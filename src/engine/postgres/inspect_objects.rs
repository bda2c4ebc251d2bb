//! PostgreSQL catalog → model for the objects that do not hang off a relation: schemas,
//! extensions, collations, types, sequences, functions (with aggregates), event triggers and
//! publications. Same rules as [`super::inspect`]: set-based queries, extension members left
//! out, names as the server deparses them with an empty `search_path`.

use std::collections::HashMap;

use postgres::types::Oid;
use postgres::Row;

use crate::error::Result;
use crate::schema::{
    Collation, CompositeAttribute, CompositeType, Domain, DomainConstraint, EnumType, EventTrigger,
    Extension, Function, FunctionKind, Namespace, Publication, PublishedTable, RangeType, Schema,
    Sequence, SequenceOptions,
};

use super::catalog::{not_extension_member, Catalog, USER_SCHEMAS};

pub(super) fn read_free_standing(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let version = catalog.version;
    read_namespaces(catalog, schema)?;
    read_extensions(catalog, schema)?;
    read_collations(catalog, schema)?;
    read_enums(catalog, schema)?;
    read_domains(catalog, schema)?;
    read_composite_types(catalog, schema)?;
    read_range_types(catalog, schema)?;
    read_sequences(catalog, schema)?;
    read_functions(catalog, schema)?;
    read_event_triggers(catalog, schema)?;
    read_publications(catalog, schema, version)?;
    Ok(())
}

fn read_namespaces(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT n.nspname, pg_catalog.obj_description(n.oid, 'pg_namespace'), \
           pg_catalog.pg_get_userbyid(n.nspowner), n.nspacl::text[] \
         FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMAS} AND {}",
        not_extension_member("pg_namespace", "n.oid")
    );
    for row in catalog.rows("schemas", &sql)? {
        let access = catalog.access(row.get(2), row.get(3));
        schema.schemas.push(Namespace {
            name: row.get(0),
            comment: row.get(1),
            access,
        });
    }
    Ok(())
}

fn read_extensions(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    // plpgsql is part of every database's template; recording it would be noise.
    let sql =
        "SELECT e.extname, n.nspname, e.extversion, \
           pg_catalog.obj_description(e.oid, 'pg_extension') \
         FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname <> 'plpgsql' AND (cardinality($1::text[]) = 0 OR n.nspname = ANY($1::text[]))";
    for row in catalog.rows("extensions", sql)? {
        schema.extensions.push(Extension {
            name: row.get(0),
            schema: row.get(1),
            version: row.get(2),
            comment: row.get(3),
        });
    }
    Ok(())
}

fn read_collations(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    // Column names differ between versions (colliculocale in 15-16, colllocale in 17+):
    // reading the row as JSON works on all of them.
    let sql = format!(
        "SELECT n.nspname, c.collname, c.collprovider::text, \
           coalesce(to_jsonb(c) ->> 'colllocale', to_jsonb(c) ->> 'colliculocale'), \
           to_jsonb(c) ->> 'collcollate', to_jsonb(c) ->> 'collctype', c.collisdeterministic, \
           pg_catalog.obj_description(c.oid, 'pg_collation') \
         FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
         WHERE {USER_SCHEMAS} AND {}",
        not_extension_member("pg_collation", "c.oid")
    );
    for row in catalog.rows("collations", &sql)? {
        let provider = match row.get::<_, String>(2).as_str() {
            "i" => "icu",
            "b" => "builtin",
            "d" => "default",
            _ => "libc",
        };
        schema.collations.push(Collation {
            schema: row.get(0),
            name: row.get(1),
            provider: provider.to_string(),
            locale: row.get(3),
            lc_collate: row.get(4),
            lc_ctype: row.get(5),
            deterministic: row.get(6),
            comment: row.get(7),
        });
    }
    Ok(())
}

/// Common `FROM` clause for user-defined types of kind `typtype`.
fn types_of_kind(typtype: char) -> String {
    format!(
        "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE t.typtype = '{typtype}' AND {USER_SCHEMAS} AND {}",
        not_extension_member("pg_type", "t.oid")
    )
}

fn read_enums(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT n.nspname, t.typname, \
           ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                  WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder), \
           pg_catalog.obj_description(t.oid, 'pg_type'), \
           pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[] {}",
        types_of_kind('e')
    );
    for row in catalog.rows("enum types", &sql)? {
        let access = catalog.access(row.get(4), row.get(5));
        schema.enums.push(EnumType {
            schema: row.get(0),
            name: row.get(1),
            values: row.get(2),
            comment: row.get(3),
            access,
        });
    }
    Ok(())
}

fn read_domains(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT t.oid, n.nspname, t.typname, pg_catalog.format_type(t.typbasetype, t.typtypmod), \
           CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN \
             (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                FROM pg_catalog.pg_collation co \
                JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE co.oid = t.typcollation) END, \
           t.typnotnull, t.typdefault, pg_catalog.obj_description(t.oid, 'pg_type'), \
           pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[] \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
         WHERE t.typtype = 'd' AND {USER_SCHEMAS} AND {}",
        not_extension_member("pg_type", "t.oid")
    );
    let mut by_oid: HashMap<Oid, usize> = HashMap::new();
    for row in catalog.rows("domains", &sql)? {
        let access = catalog.access(row.get(8), row.get(9));
        by_oid.insert(row.get(0), schema.domains.len());
        schema.domains.push(Domain {
            schema: row.get(1),
            name: row.get(2),
            data_type: row.get(3),
            collation: row.get(4),
            not_null: row.get(5),
            default: row.get(6),
            constraints: vec![],
            comment: row.get(7),
            access,
        });
    }
    let rows = catalog.rows(
        "domain constraints",
        "SELECT c.contypid, c.conname, pg_catalog.pg_get_constraintdef(c.oid), c.convalidated, \
           pg_catalog.obj_description(c.oid, 'pg_constraint') \
         FROM pg_catalog.pg_constraint c WHERE c.contypid <> 0 AND c.contype = 'c'",
    )?;
    for row in rows {
        if let Some(&i) = by_oid.get(&row.get(0)) {
            schema.domains[i].constraints.push(DomainConstraint {
                name: row.get(1),
                definition: row.get(2),
                not_valid: !row.get::<_, bool>(3),
                comment: row.get(4),
            });
        }
    }
    Ok(())
}

fn read_composite_types(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT t.typrelid, n.nspname, t.typname, pg_catalog.obj_description(t.oid, 'pg_type'), \
           pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[] \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         JOIN pg_catalog.pg_class c ON c.oid = t.typrelid \
         WHERE t.typtype = 'c' AND c.relkind = 'c' AND {USER_SCHEMAS} AND {}",
        not_extension_member("pg_type", "t.oid")
    );
    let mut by_relid: HashMap<Oid, usize> = HashMap::new();
    for row in catalog.rows("composite types", &sql)? {
        let access = catalog.access(row.get(4), row.get(5));
        by_relid.insert(row.get(0), schema.composite_types.len());
        schema.composite_types.push(CompositeType {
            schema: row.get(1),
            name: row.get(2),
            attributes: vec![],
            comment: row.get(3),
            access,
        });
    }
    let rows = catalog.rows(
        "composite type attributes",
        "SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), \
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN \
             (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                FROM pg_catalog.pg_collation co \
                JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE co.oid = a.attcollation) END, \
           pg_catalog.col_description(a.attrelid, a.attnum) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attrelid, a.attnum",
    )?;
    for row in rows {
        if let Some(&i) = by_relid.get(&row.get(0)) {
            schema.composite_types[i]
                .attributes
                .push(CompositeAttribute {
                    name: row.get(1),
                    data_type: row.get(2),
                    collation: row.get(3),
                    comment: row.get(4),
                });
        }
    }
    Ok(())
}

fn read_range_types(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT n.nspname, t.typname, pg_catalog.format_type(r.rngsubtype, NULL), \
           CASE WHEN NOT opc.opcdefault THEN \
             pg_catalog.quote_ident(opn.nspname) || '.' || pg_catalog.quote_ident(opc.opcname) END, \
           CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN \
             (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
                FROM pg_catalog.pg_collation co \
                JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
               WHERE co.oid = r.rngcollation) END, \
           NULLIF(r.rngcanonical::text, '-'), NULLIF(r.rngsubdiff::text, '-'), \
           pg_catalog.format_type(r.rngmultitypid, NULL), \
           pg_catalog.obj_description(t.oid, 'pg_type'), \
           pg_catalog.pg_get_userbyid(t.typowner), t.typacl::text[] \
         FROM pg_catalog.pg_range r \
         JOIN pg_catalog.pg_type t ON t.oid = r.rngtypid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype \
         JOIN pg_catalog.pg_opclass opc ON opc.oid = r.rngsubopc \
         JOIN pg_catalog.pg_namespace opn ON opn.oid = opc.opcnamespace \
         WHERE {USER_SCHEMAS} AND {}",
        not_extension_member("pg_type", "t.oid")
    );
    for row in catalog.rows("range types", &sql)? {
        let access = catalog.access(row.get(9), row.get(10));
        schema.range_types.push(RangeType {
            schema: row.get(0),
            name: row.get(1),
            subtype: row.get(2),
            subtype_opclass: row.get(3),
            collation: row.get(4),
            canonical: row.get(5),
            subtype_diff: row.get(6),
            multirange_name: row.get(7),
            comment: row.get(8),
            access,
        });
    }
    Ok(())
}

fn read_sequences(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    // Identity sequences (deptype 'i') belong to their column and are recorded there.
    let sql = format!(
        "SELECT n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, \
           s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
           (SELECT tn.nspname || '.' || t.relname || '.' || a.attname \
              FROM pg_catalog.pg_depend d \
              JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
              JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace \
              JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid \
               AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'a'), \
           pg_catalog.obj_description(c.oid, 'pg_class'), \
           pg_catalog.pg_get_userbyid(c.relowner), c.relacl::text[] \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'S' AND c.relpersistence <> 't' AND {USER_SCHEMAS} AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                            WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                              AND d.objid = c.oid AND d.deptype = 'i')",
        not_extension_member("pg_class", "c.oid")
    );
    for row in catalog.rows("sequences", &sql)? {
        let ns: String = row.get(0);
        let name: String = row.get(1);
        if !catalog.options.keeps_relation(&ns, &name) {
            continue;
        }
        let access = catalog.access(row.get(11), row.get(12));
        schema.sequences.push(Sequence {
            schema: ns,
            name,
            options: SequenceOptions {
                data_type: row.get(2),
                start: row.get(3),
                increment: row.get(4),
                min_value: row.get(5),
                max_value: row.get(6),
                cache: row.get(7),
                cycle: row.get(8),
            },
            owned_by: row.get(9),
            comment: row.get(10),
            access,
        });
    }
    Ok(())
}

fn read_functions(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT p.oid, n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid), \
           p.prokind::text, CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END, \
           pg_catalog.obj_description(p.oid, 'pg_proc'), \
           pg_catalog.pg_get_userbyid(p.proowner), p.proacl::text[] \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER_SCHEMAS} AND {} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend i \
                            WHERE i.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
                              AND i.objid = p.oid AND i.deptype = 'i')",
        not_extension_member("pg_proc", "p.oid")
    );
    let mut by_oid: HashMap<Oid, usize> = HashMap::new();
    for row in catalog.rows("functions", &sql)? {
        let kind = match row.get::<_, String>(4).as_str() {
            "p" => FunctionKind::Procedure,
            "a" => FunctionKind::Aggregate,
            "w" => FunctionKind::Window,
            _ => FunctionKind::Function,
        };
        let access = catalog.access(row.get(7), row.get(8));
        by_oid.insert(row.get(0), schema.functions.len());
        schema.functions.push(Function {
            schema: row.get(1),
            name: row.get(2),
            arguments: row.get(3),
            kind,
            definition: row.get::<_, Option<String>>(5).unwrap_or_default(),
            depends_on: vec![],
            comment: row.get(6),
            access,
        });
    }
    read_aggregate_definitions(catalog, schema, &by_oid)?;
    read_function_dependencies(catalog, schema, &by_oid)
}

/// `pg_get_functiondef` refuses aggregates, so their `CREATE AGGREGATE` is assembled from
/// `pg_aggregate`, option by option, the way pg_dump does.
fn read_aggregate_definitions(
    catalog: &mut Catalog,
    schema: &mut Schema,
    by_oid: &HashMap<Oid, usize>,
) -> Result<()> {
    let rows = catalog.rows(
        "aggregates",
        "SELECT a.aggfnoid::oid, pg_catalog.pg_get_function_arguments(a.aggfnoid), a.aggkind::text, \
           a.aggtransfn::text, pg_catalog.format_type(a.aggtranstype, NULL), a.aggtransspace, \
           NULLIF(a.aggfinalfn::text, '-'), a.aggfinalextra, a.aggfinalmodify::text, \
           NULLIF(a.aggcombinefn::text, '-'), NULLIF(a.aggserialfn::text, '-'), \
           NULLIF(a.aggdeserialfn::text, '-'), a.agginitval, \
           NULLIF(a.aggmtransfn::text, '-'), NULLIF(a.aggminvtransfn::text, '-'), \
           CASE WHEN a.aggmtranstype <> 0 THEN pg_catalog.format_type(a.aggmtranstype, NULL) END, \
           a.aggmtransspace, NULLIF(a.aggmfinalfn::text, '-'), a.aggmfinalextra, \
           a.aggmfinalmodify::text, a.aggminitval, \
           CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::pg_catalog.regoperator::text END, \
           p.proparallel::text, \
           pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) \
         FROM pg_catalog.pg_aggregate a \
         JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace",
    )?;
    for row in rows {
        if let Some(&i) = by_oid.get(&row.get(0)) {
            schema.functions[i].definition = aggregate_definition(&row);
        }
    }
    Ok(())
}

fn aggregate_definition(row: &Row) -> String {
    let space = |i: usize| {
        Some(row.get::<_, i32>(i))
            .filter(|&s| s != 0)
            .map(|s| s.to_string())
    };
    let flag = |i: usize| row.get::<_, bool>(i).then(String::new);
    let literal = |i: usize| row.get::<_, Option<String>>(i).map(|v| quote_literal(&v));
    // regoperator prints `schema.op(left,right)`; SORTOP wants OPERATOR(schema.op).
    let sort_operator = row.get::<_, Option<String>>(21).map(|op| {
        let name = op.split('(').next().unwrap_or(&op).to_string();
        format!("OPERATOR({name})")
    });
    let parallel = match row.get::<_, String>(22).as_str() {
        "s" => Some("SAFE".to_string()),
        "r" => Some("RESTRICTED".to_string()),
        _ => None,
    };
    let hypothetical = (row.get::<_, String>(2) == "h").then(String::new);
    let options: Vec<(&str, Option<String>)> = vec![
        ("SFUNC", row.get(3)),
        ("STYPE", row.get(4)),
        ("SSPACE", space(5)),
        ("FINALFUNC", row.get(6)),
        ("FINALFUNC_EXTRA", flag(7)),
        ("FINALFUNC_MODIFY", modify_mode(&row.get::<_, String>(8))),
        ("COMBINEFUNC", row.get(9)),
        ("SERIALFUNC", row.get(10)),
        ("DESERIALFUNC", row.get(11)),
        ("INITCOND", literal(12)),
        ("MSFUNC", row.get(13)),
        ("MINVFUNC", row.get(14)),
        ("MSTYPE", row.get(15)),
        ("MSSPACE", space(16)),
        ("MFINALFUNC", row.get(17)),
        ("MFINALFUNC_EXTRA", flag(18)),
        ("MFINALFUNC_MODIFY", modify_mode(&row.get::<_, String>(19))),
        ("MINITCOND", literal(20)),
        ("SORTOP", sort_operator),
        ("PARALLEL", parallel),
        ("HYPOTHETICAL", hypothetical),
    ];
    let options: Vec<String> = options
        .into_iter()
        .filter_map(|(key, value)| {
            value.map(|v| {
                if v.is_empty() {
                    key.to_string()
                } else {
                    format!("{key} = {v}")
                }
            })
        })
        .collect();
    let name: String = row.get(23);
    let arguments: String = row.get(1);
    let arguments = if arguments.is_empty() {
        "*".to_string()
    } else {
        arguments
    };
    format!(
        "CREATE AGGREGATE {name}({arguments}) (\n    {}\n)",
        options.join(",\n    ")
    )
}

/// FINALFUNC_MODIFY / MFINALFUNC_MODIFY when not the default (READ_ONLY).
fn modify_mode(code: &str) -> Option<String> {
    match code {
        "s" => Some("SHAREABLE".into()),
        "w" => Some("READ_WRITE".into()),
        _ => None,
    }
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Relations (including row types used in signatures) and functions a function depends on, as
/// `pg_depend` records them: enough to create it after what it needs.
fn read_function_dependencies(
    catalog: &mut Catalog,
    schema: &mut Schema,
    by_oid: &HashMap<Oid, usize>,
) -> Result<()> {
    let rows = catalog.rows(
        "function dependencies",
        "SELECT DISTINCT d.objid, \
           CASE WHEN rc.oid IS NOT NULL THEN rn.nspname || '.' || rc.relname \
                WHEN tc.oid IS NOT NULL THEN tn.nspname || '.' || tc.relname \
                ELSE pn.nspname || '.' || p.proname || '(' || \
                     pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' END \
         FROM pg_catalog.pg_depend d \
         LEFT JOIN pg_catalog.pg_class rc ON d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
           AND rc.oid = d.refobjid AND rc.relkind <> 'c' \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         LEFT JOIN pg_catalog.pg_type t ON d.refclassid = 'pg_catalog.pg_type'::pg_catalog.regclass \
           AND t.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_class tc ON tc.oid = t.typrelid AND tc.relkind <> 'c' \
         LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace \
         LEFT JOIN pg_catalog.pg_proc p ON d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
           AND p.oid = d.refobjid AND p.oid <> d.objid \
         LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'n' \
           AND (rc.oid IS NOT NULL OR tc.oid IS NOT NULL OR p.oid IS NOT NULL) \
           AND coalesce(rn.nspname, tn.nspname, pn.nspname) NOT IN ('pg_catalog', 'information_schema')",
    )?;
    for row in rows {
        if let Some(&i) = by_oid.get(&row.get(0)) {
            schema.functions[i].depends_on.push(row.get(1));
        }
    }
    Ok(())
}

fn read_event_triggers(catalog: &mut Catalog, schema: &mut Schema) -> Result<()> {
    let sql = format!(
        "SELECT e.evtname, e.evtevent, coalesce(e.evttags, '{{}}')::text[], \
           pn.nspname || '.' || p.proname, e.evtenabled::text, \
           pg_catalog.obj_description(e.oid, 'pg_event_trigger') \
         FROM pg_catalog.pg_event_trigger e \
         JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid \
         JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE {}",
        not_extension_member("pg_event_trigger", "e.oid")
    );
    for row in catalog.rows("event triggers", &sql)? {
        let enabled = match row.get::<_, String>(4).as_str() {
            "D" => "disabled",
            "A" => "always",
            "R" => "replica",
            _ => "origin",
        };
        schema.event_triggers.push(EventTrigger {
            name: row.get(0),
            event: row.get(1),
            tags: row.get(2),
            function: row.get(3),
            enabled: enabled.to_string(),
            comment: row.get(5),
        });
    }
    Ok(())
}

fn read_publications(catalog: &mut Catalog, schema: &mut Schema, version: u32) -> Result<()> {
    let rows = catalog.rows(
        "publications",
        "SELECT p.oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, \
           p.pubtruncate, p.pubviaroot, pg_catalog.obj_description(p.oid, 'pg_publication') \
         FROM pg_catalog.pg_publication p",
    )?;
    let mut by_oid: HashMap<Oid, usize> = HashMap::new();
    for row in rows {
        let publish = [(3, "insert"), (4, "update"), (5, "delete"), (6, "truncate")]
            .iter()
            .filter(|(i, _)| row.get::<_, bool>(*i))
            .map(|(_, op)| op.to_string())
            .collect();
        by_oid.insert(row.get(0), schema.publications.len());
        schema.publications.push(Publication {
            name: row.get(1),
            all_tables: row.get(2),
            tables: vec![],
            schemas: vec![],
            publish,
            via_root: row.get(7),
            comment: row.get(8),
        });
    }
    // Column lists, row filters and TABLES IN SCHEMA arrived in PostgreSQL 15.
    let member_sql = if version >= 15 {
        "SELECT pr.prpubid, n.nspname || '.' || c.relname, \
           CASE WHEN pr.prattrs IS NULL THEN '{}'::text[] ELSE \
             ARRAY(SELECT a.attname FROM unnest(pr.prattrs::int2[]) WITH ORDINALITY k(num, ord) \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.num \
                   ORDER BY k.ord)::text[] END, \
           pg_catalog.pg_get_expr(pr.prqual, pr.prrelid) \
         FROM pg_catalog.pg_publication_rel pr \
         JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    } else {
        "SELECT pr.prpubid, n.nspname || '.' || c.relname, '{}'::text[], NULL::text \
         FROM pg_catalog.pg_publication_rel pr \
         JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    };
    for row in catalog.rows("publication tables", member_sql)? {
        if let Some(&i) = by_oid.get(&row.get(0)) {
            schema.publications[i].tables.push(PublishedTable {
                table: row.get(1),
                columns: row.get(2),
                row_filter: row.get(3),
            });
        }
    }
    if version >= 15 {
        let rows = catalog.rows(
            "publication schemas",
            "SELECT pn.pnpubid, n.nspname FROM pg_catalog.pg_publication_namespace pn \
             JOIN pg_catalog.pg_namespace n ON n.oid = pn.pnnspid",
        )?;
        for row in rows {
            if let Some(&i) = by_oid.get(&row.get(0)) {
                schema.publications[i].schemas.push(row.get(1));
            }
        }
    }
    Ok(())
}
