//! The test harness itself works: a cluster starts and each test gets its own database.

mod support;

use support::TestDb;

#[test]
fn each_test_gets_its_own_empty_database() {
    let a = TestDb::new("harness_a");
    let b = TestDb::new("harness_b");
    assert_ne!(a.name, b.name);
    a.execute("CREATE TABLE only_in_a (id int)");
    assert_eq!(
        b.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'only_in_a'"),
        0
    );
    assert_eq!(a.psql_text("SELECT 40 + 2").trim(), "42");
}
