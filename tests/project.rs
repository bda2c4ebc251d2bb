//! The project file (`strata.toml`): environment names work wherever a database is expected,
//! the schema file can be left out, secrets stay out of the file.

mod support;

use std::path::Path;
use std::process::Output;

use support::fixture;

/// Runs strata in `dir` (where discovery starts) in the test environment, with extra (or
/// overriding) environment variables.
fn strata_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = support::strata_command(args);
    command.current_dir(dir).env_remove("STRATA_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("could not run strata")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A project directory holding the quick-start database as `dev.db` and a starter strata.toml.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("../examples/quickstart/shop.db"),
        dir.path().join("dev.db"),
    )
    .unwrap();
    let out = strata_in(dir.path(), &["init-project"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

#[test]
fn environment_names_stand_for_databases_and_the_schema_file_is_implied() {
    let dir = project();
    let nested = dir.path().join("src/deep");
    std::fs::create_dir_all(&nested).unwrap();
    let schema = dir.path().join("schema.yaml");
    let out = strata_in(
        &nested,
        &["snapshot", "local", "-o", schema.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    assert!(std::fs::read_to_string(&schema)
        .unwrap()
        .contains("customers"));

    let out = strata_in(&nested, &["drift", "local"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let conn = rusqlite::Connection::open(dir.path().join("dev.db")).unwrap();
    conn.execute_batch("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)")
        .unwrap();
    let out = strata_in(&nested, &["drift", "local", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["drift"], true);

    // apply with the implied schema file brings the environment back in line.
    let out = strata_in(
        &nested,
        &[
            "apply",
            "--to",
            "local",
            "--yes",
            "--allow-hazard",
            "data-loss",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = strata_in(&nested, &["drift", "local"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn environment_urls_read_variables_and_name_missing_ones() {
    let dir = project();
    std::fs::write(
        dir.path().join("strata.toml"),
        "schema = \"schema.yaml\"\n[env.ci]\nurl = \"${STRATA_TEST_CI_DB}\"\n",
    )
    .unwrap();
    let out = strata_in(
        dir.path(),
        &["snapshot", "ci"],
        &[("STRATA_TEST_CI_DB", "sqlite:dev.db")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("customers"));

    let out = strata_in(dir.path(), &["snapshot", "ci"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("STRATA_TEST_CI_DB is not set"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_environments_list_the_known_ones() {
    let dir = project();
    let out = strata_in(dir.path(), &["snapshot", "prod"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("defines no environment 'prod' (it has: local)"),
        "{message}"
    );
}

#[test]
fn a_password_written_into_the_project_file_is_refused() {
    let dir = project();
    std::fs::write(
        dir.path().join("strata.toml"),
        "[env.prod]\nurl = \"postgres://app:s3cret@db.example/app\"\n",
    )
    .unwrap();
    let out = strata_in(dir.path(), &["snapshot", "prod"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("env.prod.url holds a password"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn drift_without_a_file_needs_a_project_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("../examples/quickstart/shop.db"),
        dir.path().join("dev.db"),
    )
    .unwrap();
    let out = strata_in(dir.path(), &["drift", "dev.db"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no strata.toml found"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn init_project_does_not_overwrite_without_force() {
    let dir = project();
    let out = strata_in(dir.path(), &["init-project"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    let out = strata_in(dir.path(), &["init-project", "--force", "--json"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn status_reports_drift_backups_and_unreachable_environments() {
    let db = support::TestDb::new("status");
    db.execute("CREATE TABLE account (id bigint PRIMARY KEY, balance numeric NOT NULL)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("strata.toml"),
        "schema = \"schema.yaml\"\n\
         [repo]\nlocation = \"backups\"\npassword_file = \"passphrase.txt\"\n\
         [env.prod]\nurl = \"${STRATA_TEST_PROD_URL}\"\n\
         [env.gone]\nurl = \"sqlite:missing.db\"\n",
    )
    .unwrap();
    let env = [("STRATA_TEST_PROD_URL", db.url.as_str())];
    let out = strata_in(dir.path(), &["snapshot", "prod", "-o", "schema.yaml"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = strata_in(dir.path(), &["init", "backups"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = strata_in(dir.path(), &["backup", "prod", "--repo", "backups"], &env);
    assert!(out.status.success(), "{}", stderr(&out));

    // The encrypted repository opens with the passphrase file the project names, even though
    // STRATA_PASSWORD is wrong.
    std::fs::write(dir.path().join("passphrase.txt"), support::TEST_PASSPHRASE).unwrap();
    let status_env = [
        ("STRATA_TEST_PROD_URL", db.url.as_str()),
        ("STRATA_PASSWORD", "not the passphrase"),
    ];
    let report = |expected_code: i32| -> serde_json::Value {
        let out = strata_in(dir.path(), &["status", "--json"], &status_env);
        assert_eq!(out.status.code(), Some(expected_code), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = report(1); // `gone` is unreachable
    assert!(first["repository_error"].is_null(), "{first}");
    let envs = first["environments"].as_array().unwrap();
    let gone = envs.iter().find(|e| e["name"] == "gone").unwrap();
    assert_eq!(gone["reachable"], false);
    assert!(gone["error"].as_str().unwrap().contains("missing.db"));
    let prod = envs.iter().find(|e| e["name"] == "prod").unwrap();
    assert_eq!(prod["reachable"], true);
    assert_eq!(prod["drift"], false);
    assert_eq!(prod["schema_hash"], first["schema_hash"]);
    assert!(prod["last_backup"]["id"].as_str().is_some());
    assert!(prod["last_backup"]["age_seconds"].as_i64().unwrap() < 600);

    db.execute("ALTER TABLE account ADD COLUMN owner text");
    db.execute("CREATE INDEX account_owner ON account (owner)");
    let second = report(1);
    let prod = second["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "prod")
        .unwrap()
        .clone();
    assert_eq!(prod["drift"], true);
    assert_eq!(prod["summary"]["removed"]["index"], 1);

    let out = strata_in(dir.path(), &["status"], &status_env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("-1 index"), "{text}");
    assert!(text.contains("unreachable"), "{text}");
}

#[test]
fn promote_makes_one_environment_match_another_with_apply_guarantees() {
    let staging = support::TestDb::new("promote_staging");
    let prod = support::TestDb::new("promote_prod");
    prod.execute(
        "CREATE TABLE account (id bigint PRIMARY KEY, note text); \
         INSERT INTO account VALUES (1, 'kept'), (2, 'also kept')",
    );
    staging.execute(
        "CREATE TABLE account (id bigint PRIMARY KEY, balance numeric NOT NULL DEFAULT 0); \
         CREATE INDEX account_balance ON account (balance)",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("strata.toml"),
        "[env.staging]\nurl = \"${STRATA_TEST_STAGING}\"\n[env.prod]\nurl = \"${STRATA_TEST_PROD}\"\n",
    )
    .unwrap();
    let env = [
        ("STRATA_TEST_STAGING", staging.url.as_str()),
        ("STRATA_TEST_PROD", prod.url.as_str()),
    ];
    // Dropping prod's `note` column loses data: refused without permission, prod unchanged.
    let out = strata_in(dir.path(), &["promote", "staging", "prod", "--yes"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("data-loss"), "{}", stderr(&out));
    assert_eq!(
        prod.scalar_i64("SELECT count(*) FROM account WHERE note IS NOT NULL"),
        2
    );

    let out = strata_in(
        dir.path(),
        &[
            "promote",
            "staging",
            "prod",
            "--yes",
            "--allow-hazard",
            "data-loss",
            "--json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let outcome: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(outcome["applied"], true);
    let out = strata_in(dir.path(), &["diff", "staging", "prod"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(prod.scalar_i64("SELECT count(*) FROM account"), 2);
}
