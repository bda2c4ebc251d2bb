//! Loading schema files: errors name the file, line and key; valid files round-trip.

mod support;

use strata::schema::Schema;
use support::strata;

const VALID: &str = "format: 1
engine: postgres
server_version: '15'
tables:
- schema: public
  name: customer
  columns:
  - name: id
    type: bigint
    not_null: true
  constraints:
  - name: customer_pkey
    kind: primary_key
    definition: PRIMARY KEY (id)
    columns:
    - id
";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn failure(path: &str) -> String {
    let out = strata(&["snapshot", path]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn a_valid_file_reloads_to_identical_text() {
    let schema = Schema::from_yaml(VALID, "valid.yaml").unwrap();
    let again = Schema::from_yaml(&schema.to_yaml(), "again.yaml").unwrap();
    assert_eq!(schema, again);
    assert_eq!(schema.to_yaml(), again.to_yaml());
    assert_eq!(Schema::from_json(&schema.to_json(), "j").unwrap(), schema);
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace(
        "    not_null: true\n",
        "    not_null: true\n    nullable: false\n",
    );
    let path = write(&dir, "unknown.yaml", &text);
    let stderr = failure(&path);
    assert!(stderr.contains("nullable"), "{stderr}");
    assert!(
        stderr.contains("unknown.yaml:11"),
        "line 11 expected: {stderr}"
    );
}

#[test]
fn a_syntax_error_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replace("  name: customer\n", "  name: [customer\n");
    let path = write(&dir, "broken.yaml", &text);
    let stderr = failure(&path);
    assert!(stderr.contains("broken.yaml:"), "{stderr}");
}

#[test]
fn a_json_syntax_error_is_reported_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "broken.json",
        "{\n  \"format\": 1,\n  \"engine\": \n}\n",
    );
    let stderr = failure(&path);
    assert!(stderr.contains("broken.json:4:"), "{stderr}");
}

#[test]
fn a_newer_format_is_refused_with_an_upgrade_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "future.yaml",
        &VALID.replace("format: 1", "format: 7"),
    );
    let stderr = failure(&path);
    assert!(stderr.contains("upgrade strata"), "{stderr}");
}

#[test]
fn bad_column_references_and_duplicates_name_the_object() {
    let dir = tempfile::tempdir().unwrap();
    let bad_column = VALID.replace(
        "    columns:\n    - id\n",
        "    columns:\n    - customer_id\n",
    );
    let stderr = failure(&write(&dir, "col.yaml", &bad_column));
    assert!(stderr.contains("customer_pkey"), "{stderr}");
    assert!(stderr.contains("customer_id"), "{stderr}");

    let duplicate = VALID.replace(
        "  constraints:",
        "  - name: id\n    type: text\n  constraints:",
    );
    let stderr = failure(&write(&dir, "dup.yaml", &duplicate));
    assert!(
        stderr.contains("column of table public.customer id is defined twice"),
        "{stderr}"
    );
}

#[test]
fn a_schema_file_renders_to_sql() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "schema.yaml", VALID);
    let out = strata(&["snapshot", &path, "--format", "sql"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = String::from_utf8_lossy(&out.stdout);
    assert!(sql.contains("CREATE TABLE public.customer"), "{sql}");
    assert!(sql.contains("PRIMARY KEY (id)"), "{sql}");
}

#[test]
fn output_is_written_atomically_to_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, "in.yaml", VALID);
    let output = dir.path().join("out.json");
    let out = strata(&["snapshot", &input, "-o", output.to_str().unwrap()]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(
        text.trim_start().starts_with('{'),
        "extension .json selects JSON"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("strata-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn writing_to_a_device_writes_through_it_instead_of_replacing_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(&dir, "in.yaml", VALID);
    let out = strata(&["snapshot", &input, "-o", "/dev/null"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata("/dev/null").unwrap().file_type();
    assert!(
        kind.is_char_device(),
        "/dev/null was replaced by a regular file"
    );
}
