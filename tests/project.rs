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
    command
        .current_dir(dir)
        .env_remove("STRATA_CONFIG")
        .env_remove("STRATA_REPO");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("could not run strata")
}

/// Writes `text` as the project file of `dir`.
fn write_project(dir: &Path, text: &str) {
    std::fs::write(dir.join("strata.toml"), text).unwrap();
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
    write_project(
        dir.path(),
        "schema = \"schema.yaml\"\n[env.ci]\nurl = \"${STRATA_TEST_CI_DB}\"\n",
    );
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
    write_project(
        dir.path(),
        "[env.prod]\nurl = \"postgres://app:s3cret@db.example/app\"\n",
    );
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
    write_project(
        dir.path(),
        "schema = \"schema.yaml\"\n\
         [repo]\nlocation = \"backups\"\npassword_file = \"passphrase.txt\"\n\
         [env.prod]\nurl = \"${STRATA_TEST_PROD_URL}\"\n\
         [env.gone]\nurl = \"sqlite:missing.db\"\n",
    );
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
    write_project(dir.path(),
        "[env.staging]\nurl = \"${STRATA_TEST_STAGING}\"\n[env.prod]\nurl = \"${STRATA_TEST_PROD}\"\n",
    );
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
    let (from, to) = (
        support::snapshot(&staging.url, &[]),
        support::snapshot(&prod.url, &[]),
    );
    assert!(from == to, "{}", support::first_difference(&from, &to));
    assert_eq!(prod.scalar_i64("SELECT count(*) FROM account"), 2);
}

/// Runs `strata status --json` in `dir`; its exit code and report.
fn status_json(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, serde_json::Value) {
    let out = strata_in(dir, &["status", "--json"], env);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json printed no JSON ({e}): {}", stderr(&out)));
    (out.status.code(), report)
}

#[test]
fn status_over_two_postgres_databases_and_a_sqlite_file_reports_drift_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    support::sqlite_file(
        dir.path(),
        "local.db",
        "CREATE TABLE account (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
    );
    let (a, b) = (
        support::TestDb::new("status3_a"),
        support::TestDb::new("status3_b"),
    );
    write_project(
        dir.path(),
        "schema = \"schema.yaml\"\n\
         [env.local]\nurl = \"sqlite:local.db\"\n\
         [env.staging]\nurl = \"${STRATA_TEST_STAGING}\"\n\
         [env.prod]\nurl = \"${STRATA_TEST_PROD}\"\n",
    );
    let env = [
        ("STRATA_TEST_STAGING", a.url.as_str()),
        ("STRATA_TEST_PROD", b.url.as_str()),
    ];
    let out = strata_in(
        dir.path(),
        &["snapshot", "local", "-o", "schema.yaml"],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["staging", "prod"] {
        let out = strata_in(dir.path(), &["apply", "--to", name, "--yes"], &env);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }

    // (name, drift) per environment, in name order.
    let drifts = |report: &serde_json::Value| -> Vec<(String, bool)> {
        report["environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap().to_string(), e["drift"] == true))
            .collect()
    };
    let expect = |prod_drifts: bool| {
        [("local", false), ("prod", prod_drifts), ("staging", false)]
            .map(|(name, drift)| (name.to_string(), drift))
    };
    let (code, report) = status_json(dir.path(), &env);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(drifts(&report), expect(false));
    assert!(report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["drift"] == false));

    b.execute("ALTER TABLE account ADD COLUMN note text");
    let (code, report) = status_json(dir.path(), &env);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(drifts(&report), expect(true));
    let prod = &report["environments"][1];
    assert_eq!(prod["summary"]["removed"]["column"], 1, "{prod}");
    assert!(prod["reachable"].as_bool().unwrap());

    // The text report states the same facts, one row per environment.
    let out = strata_in(dir.path(), &["status"], &env);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = |name: &str| -> String {
        text.lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}: {text}"))
            .to_string()
    };
    assert!(row("local").contains("in sync"), "{text}");
    assert!(row("staging").contains("in sync"), "{text}");
    assert!(row("prod").contains("-1 column"), "{text}");
    for environment in report["environments"].as_array().unwrap() {
        let hash = environment["schema_hash"].as_str().unwrap();
        let name = environment["name"].as_str().unwrap();
        assert!(row(name).contains(&hash[..8]), "{name}: {text}");
    }
}

#[test]
fn environment_errors_name_the_environment_exit_2_and_never_print_the_secret() {
    const SECRET: &str = "Pr0d-Secret-Value";
    let dir = project();
    write_project(
        dir.path(),
        "schema = \"schema.yaml\"\n\
         [env.local]\nurl = \"sqlite:dev.db\"\n\
         [env.prod]\nurl = \"${STRATA_TEST_PROD_URL}\"\n\
         [env.ci]\nurl = \"${STRATA_TEST_UNSET_URL}\"\n",
    );
    let port = support::backup_suite::closed_port();
    let url = format!("postgres://app:{SECRET}@127.0.0.1:{port}/app?password={SECRET}");
    let env = [("STRATA_TEST_PROD_URL", url.as_str())];
    let cases: [(&[&str], &str); 6] = [
        (&["snapshot", "prod"], "environment 'prod'"),
        (&["diff", "local", "prod"], "environment 'prod'"),
        (&["backup", "prod", "--repo", "repo"], "environment 'prod'"),
        (&["snapshot", "ci"], "STRATA_TEST_UNSET_URL is not set"),
        (&["drift", "ci"], "environment 'ci'"),
        (&["snapshot", "qa"], "defines no environment 'qa'"),
    ];
    for setup in [
        &["init", "repo"][..],
        &["snapshot", "local", "-o", "schema.yaml"][..],
    ] {
        let out = strata_in(dir.path(), setup, &env);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for (args, expected) in cases {
        let out = strata_in(dir.path(), args, &env);
        let (stdout, message) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(
            !message.contains(SECRET) && !stdout.contains(SECRET),
            "{args:?} printed the secret: {stdout}{message}"
        );
    }
    // status reports them (exit 1) without printing the secret either.
    for args in [&["status"][..], &["status", "--json"][..]] {
        let out = strata_in(dir.path(), args, &env);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(all.contains("STRATA_TEST_UNSET_URL"), "{all}");
        assert!(!all.contains(SECRET), "status printed the secret: {all}");
    }
}

#[test]
fn repository_commands_use_the_project_repository_and_its_password_file() {
    let dir = project();
    write_project(
        dir.path(),
        "[repo]\nlocation = \"backups\"\npassword_file = \"passphrase.txt\"\n\
         [env.local]\nurl = \"sqlite:dev.db\"\n",
    );
    std::fs::write(
        dir.path().join("passphrase.txt"),
        "the project's passphrase",
    )
    .unwrap();
    let nested = dir.path().join("sub");
    std::fs::create_dir_all(&nested).unwrap();
    // The environment's passphrase is not the repository's: the project's file must be used.
    let env = [("STRATA_PASSWORD", "not the passphrase")];
    for args in [&["init"][..], &["backup", "local", "--tag", "mine"][..]] {
        let out = strata_in(&nested, args, &env);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert!(dir.path().join("backups").is_dir());
    let out = strata_in(&nested, &["list", "--json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["tags"][0], "mine");
    // With another passphrase file the repository does not open.
    let out = strata_in(&nested, &["list", "--password-file", "/dev/null"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn without_any_repository_configured_repository_commands_say_where_to_set_one() {
    let bare = tempfile::tempdir().unwrap();
    let out = strata_in(bare.path(), &["list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("no repository given: pass --repo REPO or set STRATA_REPO"),
        "{message}"
    );
    assert!(message.contains("strata init-project"), "{message}");

    let dir = project();
    write_project(dir.path(), "[env.local]\nurl = \"sqlite:dev.db\"\n");
    let out = strata_in(dir.path(), &["backup", "local"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("add a [repo] section to")
            && message.contains(&dir.path().join("strata.toml").display().to_string()),
        "{message}"
    );
}
