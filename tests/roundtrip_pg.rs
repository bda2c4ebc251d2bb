//! Round trip on PostgreSQL: a database's schema, rendered by `strata snapshot --format sql`
//! and run on an empty database, inspects back to the same schema file, byte for byte.
//!
//! Fixtures: `fixtures/postgres/every_kind.sql` (one of every object kind the model covers),
//! `fixtures/postgres/circular_fk.sql`, and Pagila from the shared fixtures (skipped, loudly,
//! when they are absent). On a failure the three texts are kept under the target directory's
//! `tmp/roundtrip_pg/<name>/` for inspection.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use strata::schema::ConstraintKind;
use strata::Schema;
use support::TestDb;

#[test]
fn every_kind_fixture_loads_and_covers_every_model_collection() {
    let db = TestDb::new("every_kind_coverage");
    db.psql_file(&support::fixture("postgres/every_kind.sql"));
    let yaml = snapshot(&db, &[]);
    let schema = Schema::from_yaml(&yaml, "snapshot").expect("snapshot parses");
    let collections = [
        ("schemas", schema.schemas.len()),
        ("extensions", schema.extensions.len()),
        ("collations", schema.collations.len()),
        ("enums", schema.enums.len()),
        ("domains", schema.domains.len()),
        ("composite_types", schema.composite_types.len()),
        ("range_types", schema.range_types.len()),
        ("sequences", schema.sequences.len()),
        ("functions", schema.functions.len()),
        ("tables", schema.tables.len()),
        ("views", schema.views.len()),
        ("event_triggers", schema.event_triggers.len()),
        ("publications", schema.publications.len()),
    ];
    for (name, count) in collections {
        assert!(count > 0, "every_kind.sql produced no {name}:\n{yaml}");
    }
    let tables = &schema.tables;
    let has = |what: &str, found: bool| assert!(found, "every_kind.sql lacks {what}");
    has(
        "a partition",
        tables.iter().any(|t| t.partition_of.is_some()),
    );
    has(
        "an inheritance child",
        tables.iter().any(|t| !t.inherits.is_empty()),
    );
    has("policies", tables.iter().any(|t| !t.policies.is_empty()));
    has("rules", tables.iter().any(|t| !t.rules.is_empty()));
    has(
        "an identity column",
        columns(&schema).any(|c| c.identity.is_some()),
    );
    has(
        "a generated column",
        columns(&schema).any(|c| c.generated.is_some()),
    );
    let constraint = |kind| {
        tables
            .iter()
            .flat_map(|t| &t.constraints)
            .any(|c| c.kind == kind)
    };
    has(
        "an exclusion constraint",
        constraint(ConstraintKind::Exclusion),
    );
    has("a foreign key", constraint(ConstraintKind::ForeignKey));
    has(
        "a materialized view",
        schema.views.iter().any(|v| v.materialized),
    );
    has(
        "an attached index",
        tables
            .iter()
            .flat_map(|t| &t.indexes)
            .any(|i| i.attached_to.is_some()),
    );
}

#[test]
fn every_kind_round_trips_through_sql() {
    assert_round_trip("every_kind", |db| {
        db.psql_file(&support::fixture("postgres/every_kind.sql"))
    });
}

#[test]
fn every_kind_round_trips_with_owners_and_privileges() {
    assert_round_trip_with(
        "every_kind_access",
        &["--with-owners", "--with-privileges"],
        |db| db.psql_file(&support::fixture("postgres/every_kind.sql")),
    );
}

#[test]
fn circular_foreign_keys_round_trip_through_sql() {
    assert_round_trip("circular_fk", |db| {
        db.psql_file(&support::fixture("postgres/circular_fk.sql"))
    });
}

#[test]
fn pagila_round_trips_through_sql() {
    let Some(path) = support::shared_fixture("pagila/pagila-schema.sql") else {
        return;
    };
    assert_round_trip("pagila", |db| db.psql_file(&path));
}

#[test]
fn sql_snapshot_is_deterministic_and_the_same_from_the_schema_file() {
    let db = TestDb::new("sql_deterministic");
    db.psql_file(&support::fixture("postgres/every_kind.sql"));
    let first = snapshot(&db, &["--format", "sql"]);
    let second = snapshot(&db, &["--format", "sql"]);
    assert_eq!(first, second, "two SQL snapshots of one database differ");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.yaml");
    std::fs::write(&file, snapshot(&db, &[])).unwrap();
    let from_file = support::strata(&["snapshot", file.to_str().unwrap(), "--format", "sql"]);
    assert!(
        from_file.status.success(),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&from_file.stdout),
        first,
        "the SQL rendered from the schema file differs from the SQL rendered from the database"
    );
}

fn columns(schema: &Schema) -> impl Iterator<Item = &strata::schema::Column> {
    schema.tables.iter().flat_map(|t| &t.columns)
}

fn assert_round_trip(name: &str, load: impl FnOnce(&TestDb)) {
    assert_round_trip_with(name, &[], load);
}

/// Loads a source database, snapshots it (YAML A, with `options`), renders it as SQL, runs
/// that SQL on an empty database, snapshots that (YAML B) and requires A == B.
fn assert_round_trip_with(name: &str, options: &[&str], load: impl FnOnce(&TestDb)) {
    let source = TestDb::new(&format!("{name}_source"));
    load(&source);
    let original = snapshot(&source, options);
    let sql_options: Vec<&str> = ["--format", "sql"].iter().chain(options).copied().collect();
    let sql = snapshot(&source, &sql_options);
    let copy = TestDb::new(&format!("{name}_copy"));
    let artifacts = artifact_dir(name);
    std::fs::write(artifacts.join("schema.sql"), &sql).unwrap();
    std::fs::write(artifacts.join("a.yaml"), &original).unwrap();
    if let Err(error) = run_script(&copy, &artifacts.join("schema.sql")) {
        panic!(
            "the rendered SQL of {name} failed on an empty database:\n{error}\n(kept in {})",
            artifacts.display()
        );
    }
    let round_tripped = snapshot(&copy, options);
    std::fs::write(artifacts.join("b.yaml"), &round_tripped).unwrap();
    if let Some(diff) = first_difference(&original, &round_tripped) {
        panic!(
            "{name}: the schema recreated from its SQL differs from the original \
             (files in {}):\n{diff}",
            artifacts.display()
        );
    }
    let _ = std::fs::remove_dir_all(&artifacts);
}

/// `strata snapshot URL [args]`; panics with strata's stderr when it fails.
fn snapshot(db: &TestDb, args: &[&str]) -> String {
    let mut all = vec!["snapshot", db.url.as_str()];
    all.extend_from_slice(args);
    let out = support::strata(&all);
    assert!(
        out.status.success(),
        "strata {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("snapshot is UTF-8")
}

/// Runs a script with psql and ON_ERROR_STOP; on failure returns psql's message with the
/// lines of the script around the failing statement.
fn run_script(db: &TestDb, script: &Path) -> Result<(), String> {
    let psql = support::cluster().bindir.join("psql");
    let out = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
        .arg(script)
        .output()
        .expect("psql runs");
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(script).unwrap_or_default();
    Err(format!("{stderr}{}", failing_lines(&stderr, &text)))
}

/// The script lines before the line psql names in `psql:FILE:LINE: ERROR:`.
fn failing_lines(stderr: &str, script: &str) -> String {
    let line: Option<usize> = stderr
        .lines()
        .find(|l| l.contains("ERROR:"))
        .and_then(|l| l.split(':').nth(2))
        .and_then(|n| n.trim().parse().ok());
    let Some(line) = line else {
        return String::new();
    };
    let lines: Vec<&str> = script.lines().collect();
    let from = line.saturating_sub(12);
    let excerpt: Vec<String> = (from..line.min(lines.len()))
        .map(|i| format!("{:>6} | {}", i + 1, lines[i]))
        .collect();
    format!("script around line {line}:\n{}", excerpt.join("\n"))
}

/// A unified-style excerpt around the first line where `a` and `b` differ, or None if equal.
fn first_difference(a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let (a_lines, b_lines): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let first = (0..a_lines.len().max(b_lines.len()))
        .find(|&i| a_lines.get(i) != b_lines.get(i))
        .unwrap_or(0);
    let from = first.saturating_sub(6);
    let mut out = format!(
        "--- original\n+++ round-tripped\n@@ line {} @@\n",
        first + 1
    );
    for line in &a_lines[from..first] {
        out.push_str(&format!(" {line}\n"));
    }
    for line in a_lines.iter().skip(first).take(12) {
        out.push_str(&format!("-{line}\n"));
    }
    for line in b_lines.iter().skip(first).take(12) {
        out.push_str(&format!("+{line}\n"));
    }
    Some(out)
}

fn artifact_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("roundtrip_pg")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
