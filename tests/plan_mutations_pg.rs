//! Convergence under random mutations: take a fixture's snapshot X, mutate the model at random
//! (seeded, so failures reproduce) into Y, apply Y to a database at X, and require the
//! database's snapshot to equal Y; then apply X and require X again.
//!
//! Mutations are written in the normalized form PostgreSQL itself would report, so an exact
//! match is the expectation.

mod support;

use std::path::Path;

use strata::schema::{Column, Index, Schema, Table};
use support::TestDb;

/// A small deterministic generator (SplitMix64); a failure prints its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn snapshot(url: &str) -> String {
    support::snapshot(url, &[])
}

fn apply(file: &Path, db: &TestDb, context: &str) {
    let out = support::apply_all(file, &db.url);
    assert!(
        out.status.success(),
        "{context}: apply failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Plain tables: not partitioned, not partitions, not in an inheritance tree.
fn plain_tables(schema: &Schema) -> Vec<usize> {
    let parents: Vec<String> = schema
        .tables
        .iter()
        .flat_map(|t| t.inherits.iter().cloned())
        .collect();
    schema
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.partition_by.is_none()
                && t.partition_of.is_none()
                && t.inherits.is_empty()
                && !parents.contains(&format!("{}.{}", t.schema, t.name))
        })
        .map(|(i, _)| i)
        .collect()
}

fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Columns that take part in no key, identity, generation or index: safe to toggle.
fn free_columns(t: &Table) -> Vec<usize> {
    t.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.identity.is_none()
                && c.generated.is_none()
                && !c.inherited
                && !t.constraints.iter().any(|k| k.columns.contains(&c.name))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Applies one random mutation; returns what it did.
fn mutate(schema: &mut Schema, rng: &mut Rng, n: usize) -> String {
    let tables = plain_tables(schema);
    if tables.is_empty() {
        return "nothing".into();
    }
    let ti = tables[rng.below(tables.len())];
    let t = &mut schema.tables[ti];
    let name = format!("{}.{}", t.schema, t.name);
    match rng.below(7) {
        0 => {
            t.comment = match t.comment {
                Some(_) => None,
                None => Some(format!("mutation {n}: it's a \"table\"")),
            };
            format!("toggle comment on {name}")
        }
        1 => {
            t.columns.push(Column {
                name: format!("strata_m{n}"),
                renamed_from: None,
                data_type: ["text", "integer", "bigint", "character varying(20)"][rng.below(4)]
                    .to_string(),
                collation: None,
                not_null: false,
                default: None,
                identity: None,
                generated: None,
                inherited: false,
                comment: Some("added by a mutation".into()),
            });
            format!("add column to {name}")
        }
        2 => {
            let free = free_columns(t);
            if free.is_empty() {
                return "nothing".into();
            }
            let c = &mut t.columns[free[rng.below(free.len())]];
            c.not_null = !c.not_null;
            format!("toggle NOT NULL on {name}.{}", c.name)
        }
        3 => {
            let free = free_columns(t);
            let column = free
                .iter()
                .map(|&i| &t.columns[i])
                .find(|c| c.data_type == "text" || c.data_type.starts_with("character varying"))
                .map(|c| c.name.clone());
            let Some(column) = column else {
                return "nothing".into();
            };
            let index_name = format!("strata_m{n}_idx");
            t.indexes.push(Index {
                name: index_name.clone(),
                definition: format!(
                    "CREATE INDEX {index_name} ON {}.{} USING btree ({})",
                    ident(&t.schema),
                    ident(&t.name),
                    ident(&column)
                ),
                attached_to: None,
                invalid: false,
                comment: None,
            });
            format!("add index on {name}.{column}")
        }
        4 => {
            // An index that is the table's replica identity cannot go while it is.
            let identity = t.replica_identity.clone().unwrap_or_default();
            let droppable: Vec<usize> = (0..t.indexes.len())
                .filter(|&i| identity != format!("index {}", t.indexes[i].name))
                .collect();
            if droppable.is_empty() {
                return "nothing".into();
            }
            let i = droppable[rng.below(droppable.len())];
            let removed = t.indexes.remove(i);
            format!("drop index {}", removed.name)
        }
        5 => {
            let free = free_columns(t);
            let Some(&ci) = free
                .iter()
                .find(|&&i| t.columns[i].data_type.starts_with("character varying("))
            else {
                return "nothing".into();
            };
            let c = &mut t.columns[ci];
            let length: u32 = c.data_type["character varying(".len()..c.data_type.len() - 1]
                .parse()
                .unwrap();
            c.data_type = format!("character varying({})", length + 10);
            format!("widen {name}.{}", c.name)
        }
        _ => {
            let free = free_columns(t);
            let Some(&ci) = free.iter().find(|&&i| t.columns[i].data_type == "text") else {
                return "nothing".into();
            };
            let c = &mut t.columns[ci];
            c.default = match c.default {
                Some(_) => None,
                None => Some(format!("'m{n}'::text")),
            };
            format!("toggle default on {name}.{}", c.name)
        }
    }
}

fn mutations_converge(fixture: &Path, seeds: std::ops::Range<u64>) {
    for seed in seeds {
        let db = TestDb::new(&format!("mutation_{seed}"));
        db.psql_file(fixture);
        let x_text = snapshot(&db.url);
        let mut y = Schema::from_yaml(&x_text, "x").unwrap();
        let mut rng = Rng(seed);
        let done: Vec<String> = (0..4).map(|n| mutate(&mut y, &mut rng, n)).collect();
        let context = format!("seed {seed} on {} ({})", fixture.display(), done.join("; "));
        let dir = tempfile::tempdir().unwrap();
        let (x_file, y_file) = (dir.path().join("x.yaml"), dir.path().join("y.yaml"));
        std::fs::write(&x_file, &x_text).unwrap();
        let y_text = y.to_yaml();
        std::fs::write(&y_file, &y_text).unwrap();

        apply(&y_file, &db, &context);
        assert_eq!(
            snapshot(&db.url),
            y_text,
            "{context}: X → Y did not converge"
        );
        apply(&x_file, &db, &context);
        assert_eq!(
            snapshot(&db.url),
            x_text,
            "{context}: Y → X did not converge"
        );
    }
}

#[test]
fn random_mutations_of_the_every_kind_fixture_converge() {
    mutations_converge(&support::fixture("postgres/every_kind.sql"), 1..9);
}

#[test]
fn random_mutations_of_pagila_converge() {
    let Some(pagila) = support::shared_fixture("pagila/pagila-schema.sql") else {
        return;
    };
    mutations_converge(&pagila, 100..106);
}
