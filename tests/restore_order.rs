//! The order a restore loads rows in when the target's foreign keys are already in place: a
//! `--data-only` restore into a schema created earlier. A referencing table loads after the
//! tables it references, whatever their sizes and however many sessions load; tables that
//! reference each other are refused before a row is written.

mod support;

use support::backup_suite::*;
use support::repo::TestRepo;
use support::{strata, TestDb};

/// `orders` references `customers`, `order_lines` references `orders` and `products`: the
/// referencing tables are the biggest, so a biggest-first load would start with them.
const SHOP: &str = "
    CREATE TABLE public.customers (id integer PRIMARY KEY, name text NOT NULL);
    CREATE TABLE public.products (id integer PRIMARY KEY, title text NOT NULL);
    CREATE TABLE public.orders (
        id integer PRIMARY KEY,
        customer_id integer NOT NULL REFERENCES public.customers,
        note text);
    CREATE TABLE public.order_lines (
        order_id integer NOT NULL REFERENCES public.orders,
        product_id integer NOT NULL REFERENCES public.products,
        quantity integer NOT NULL,
        PRIMARY KEY (order_id, product_id));
    INSERT INTO public.customers SELECT i, 'customer ' || i FROM generate_series(1, 50) i;
    INSERT INTO public.products SELECT i, 'product ' || i FROM generate_series(1, 20) i;
    INSERT INTO public.orders
        SELECT i, 1 + i % 50, repeat('n', 200) FROM generate_series(1, 20000) i;
    INSERT INTO public.order_lines
        SELECT o, p, o + p FROM generate_series(1, 20000) o, generate_series(1, 3) p;";

#[test]
fn a_data_only_restore_loads_referenced_rows_before_the_rows_referencing_them() {
    let src = TestDb::new("order_src");
    src.execute(SHOP);
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &[]));

    // The schema first (keys included), then the rows into it: on one session (biggest
    // table first would be a referencing one) and on several.
    for jobs in ["1", "3"] {
        let dst = TestDb::new(&format!("order_dst_{jobs}"));
        restore(&id, &repo, &dst.url, &["--schema-only"]);
        let (report, _) = restore(&id, &repo, &dst.url, &["--data-only", "--jobs", jobs]);

        assert_same_content(&src, &dst);
        assert_reported_rows(&report, &content(&src));
        assert_eq!(
            dst.scalar_i64(
                "SELECT count(*) FROM pg_constraint \
                 WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
            ),
            3,
            "the foreign keys stayed in place"
        );
    }
}

#[test]
fn a_data_only_restore_of_tables_referencing_each_other_is_refused_before_writing() {
    let src = TestDb::new("cycle_src");
    src.execute(
        "CREATE TABLE public.teams (id integer PRIMARY KEY, captain_id integer);
         CREATE TABLE public.players (id integer PRIMARY KEY, team_id integer REFERENCES public.teams);
         ALTER TABLE public.teams ADD FOREIGN KEY (captain_id) REFERENCES public.players;
         CREATE TABLE public.venues (id integer PRIMARY KEY, name text);
         INSERT INTO public.venues VALUES (1, 'hall');
         INSERT INTO public.teams VALUES (1, NULL);
         INSERT INTO public.players VALUES (10, 1);
         UPDATE public.teams SET captain_id = 10;",
    );
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &[]));
    let dst = TestDb::new("cycle_dst");
    restore(&id, &repo, &dst.url, &["--schema-only"]);

    let out = strata(&[
        "restore",
        &id,
        "--repo",
        repo.s(),
        "--to",
        &dst.url,
        "--data-only",
    ]);
    assert_clear_error(&out, "a data-only restore of a foreign-key cycle");
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in ["public.teams", "public.players", "reference each other"] {
        assert!(err.contains(expected), "`{expected}` not in: {err}");
    }
    assert_eq!(
        dst.scalar_i64(
            "SELECT (SELECT count(*) FROM public.teams) + (SELECT count(*) FROM public.players) \
             + (SELECT count(*) FROM public.venues)"
        ),
        0,
        "the refused restore wrote rows"
    );

    // Restoring schema and data together handles the cycle (keys come after the rows).
    let whole = TestDb::new("cycle_whole");
    restore(&id, &repo, &whole.url, &[]);
    assert_same_content(&src, &whole);
}

/// A partitioned table loads as its partitions: a table referencing it loads after all of
/// them, and a partitioned table referencing another loads each partition after the other's.
#[test]
fn a_data_only_restore_loads_the_partitions_of_a_referenced_table_first() {
    let src = TestDb::new("partitioned_src");
    src.execute(
        "CREATE TABLE public.users (id integer PRIMARY KEY, region text NOT NULL)
             PARTITION BY RANGE (id);
         CREATE TABLE public.users_low PARTITION OF public.users FOR VALUES FROM (0) TO (500);
         CREATE TABLE public.users_high PARTITION OF public.users FOR VALUES FROM (500) TO (1000);
         CREATE TABLE public.visits (
             id integer, user_id integer NOT NULL REFERENCES public.users, note text,
             PRIMARY KEY (id, user_id)) PARTITION BY HASH (user_id);
         CREATE TABLE public.visits_0 PARTITION OF public.visits FOR VALUES WITH (MODULUS 2, REMAINDER 0);
         CREATE TABLE public.visits_1 PARTITION OF public.visits FOR VALUES WITH (MODULUS 2, REMAINDER 1);
         INSERT INTO public.users SELECT i, 'r' || i % 7 FROM generate_series(0, 999) i;
         INSERT INTO public.visits SELECT i, i % 1000, repeat('v', 300) FROM generate_series(1, 20000) i;",
    );
    let repo = TestRepo::local();
    let id = id_of(&backup(&src, &repo, &[]));
    for jobs in ["1", "3"] {
        let dst = TestDb::new(&format!("partitioned_dst_{jobs}"));
        restore(&id, &repo, &dst.url, &["--schema-only"]);
        let (report, _) = restore(&id, &repo, &dst.url, &["--data-only", "--jobs", jobs]);
        assert_same_content(&src, &dst);
        assert_reported_rows(&report, &content(&src));
    }
}
