//! The form in which two definitions of an index, view or trigger are compared.
//!
//! SQLite keeps such a definition as it was written from the object's name on, and rewrites
//! only what comes before: `create view if not exists main.v as …` is stored as
//! `CREATE VIEW v as …`. Inspection then drops comments and spacing. A hand-written
//! definition that differs from the stored one in no other way must compare equal, or every
//! plan would recreate the object and every apply would find it still to be made.
//!
//! The canonical form is the token sequence, one space between tokens: whitespace, comments
//! and trailing semicolons gone, keywords upper-cased, `IF NOT EXISTS` and a `main.` prefix
//! before the object's name dropped. Strings, quoted names, numbers and every other bare
//! word keep their exact text: a string's case is data, and an unquoted name may become a
//! view's column name as written (`SELECT a AS Total`), so a different spelling of a name is
//! still a change. The form is only compared, never executed: a changed object is created
//! from the file's own text.

use super::lexer::{tokenize, LexError, Token, TokenKind};

/// Whether two definitions of the same index, view or trigger create the same object. Text
/// that does not tokenize compares as written.
pub(super) fn same_definition(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (canonical_form(a), canonical_form(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The canonical form of one `CREATE INDEX`, `CREATE VIEW` or `CREATE TRIGGER` statement.
/// Joining with single spaces loses nothing: tokenizing the result gives the same tokens.
fn canonical_form(sql: &str) -> Result<String, LexError> {
    let mut tokens = tokenize(sql)?;
    while tokens.last().is_some_and(|t| t.is_punct(";")) {
        tokens.pop();
    }
    drop_rewritten_prefix(&mut tokens);
    // A word after AS names a column or table as written, even a keyword SQLite accepts as
    // a name (`count(*) AS rows`): its case is the view's column name. Only the start of a
    // query (`AS SELECT`, a CTE's `AS MATERIALIZED`) is a keyword there.
    let not_a_name = |t: &Token<'_>| {
        ["SELECT", "WITH", "VALUES", "NOT", "MATERIALIZED"]
            .iter()
            .any(|k| t.is_keyword(k))
    };
    let words: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| match i.checked_sub(1).map(|p| &tokens[p]) {
            Some(before) if before.is_keyword("AS") && !not_a_name(token) => token.text.to_string(),
            _ => canonical_token(token),
        })
        .collect();
    Ok(words.join(" "))
}

/// Removes what SQLite leaves out of the stored text between `CREATE … VIEW|INDEX|TRIGGER`
/// and the object's name: `IF NOT EXISTS`, and a `main` schema (the only one inspected).
fn drop_rewritten_prefix(tokens: &mut Vec<Token<'_>>) {
    if !tokens.first().is_some_and(|t| t.is_keyword("CREATE")) {
        return;
    }
    let Some(kind) = tokens.iter().take(3).position(|t| {
        ["VIEW", "INDEX", "TRIGGER", "TABLE"]
            .iter()
            .any(|k| t.is_keyword(k))
    }) else {
        return;
    };
    let name = kind + 1;
    let if_not_exists = ["IF", "NOT", "EXISTS"];
    let has_if_not_exists = tokens.len() > name + if_not_exists.len()
        && if_not_exists
            .iter()
            .zip(&tokens[name..])
            .all(|(k, t)| t.is_keyword(k));
    if has_if_not_exists {
        tokens.drain(name..name + if_not_exists.len());
    }
    let main_prefix = tokens.len() > name + 2
        && tokens[name].is_name()
        && tokens[name].name().eq_ignore_ascii_case("main")
        && tokens[name + 1].is_punct(".");
    if main_prefix {
        tokens.drain(name..name + 2);
    }
}

fn canonical_token(token: &Token<'_>) -> String {
    if token.kind == TokenKind::Word && is_keyword(token.text) {
        token.text.to_ascii_uppercase()
    } else {
        token.text.to_string()
    }
}

fn is_keyword(word: &str) -> bool {
    let upper = word.to_ascii_uppercase();
    KEYWORDS.binary_search(&upper.as_str()).is_ok()
}

/// SQLite's keywords (<https://www.sqlite.org/lang_keywords.html>), sorted; a test checks
/// them against the linked library's own list.
const KEYWORDS: [&str; 147] = [
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GENERATED",
    "GLOB",
    "GROUP",
    "GROUPS",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "MATERIALIZED",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OTHERS",
    "OUTER",
    "OVER",
    "PARTITION",
    "PLAN",
    "PRAGMA",
    "PRECEDING",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RANGE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TIES",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNBOUNDED",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn form(sql: &str) -> String {
        canonical_form(sql).unwrap()
    }

    #[test]
    fn the_keyword_list_is_sqlites_own() {
        let mut linked: Vec<String> = (0..unsafe { rusqlite::ffi::sqlite3_keyword_count() })
            .map(|i| {
                let (mut name, mut len) = (std::ptr::null(), 0);
                let rc = unsafe { rusqlite::ffi::sqlite3_keyword_name(i, &mut name, &mut len) };
                assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
                let bytes = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), len as usize) };
                String::from_utf8(bytes.to_vec()).unwrap()
            })
            .collect();
        linked.sort();
        assert_eq!(linked, KEYWORDS, "KEYWORDS must be sorted and complete");
    }

    #[test]
    fn spacing_comments_keyword_case_and_semicolons_do_not_count() {
        let stored = "CREATE VIEW v AS SELECT a, b FROM t WHERE a > 1";
        for written in [
            "CREATE VIEW v AS\n    SELECT a,\n           b\n    FROM t\n    WHERE a > 1;",
            "create view v as select a, b from t where a > 1",
            "CREATE VIEW v AS SELECT a, b -- both\nFROM t /* the table */ WHERE a>1;;",
            "CREATE VIEW main.v AS SELECT a, b FROM t WHERE a > 1",
            "CREATE VIEW IF NOT EXISTS \"main\".v AS SELECT a, b FROM t WHERE a > 1",
        ] {
            assert_eq!(form(written), form(stored), "{written}");
            assert!(same_definition(written, stored), "{written}");
        }
    }

    #[test]
    fn strings_keep_their_spaces_and_case() {
        assert_eq!(form("select  'A  b' ,x'0aFF'"), "SELECT 'A  b' , x'0aFF'");
        assert!(!same_definition("SELECT 'a b'", "SELECT 'a  b'"));
        assert!(!same_definition("SELECT 'Paid'", "SELECT 'paid'"));
    }

    #[test]
    fn quoted_and_bare_names_keep_their_text() {
        assert_eq!(
            form("create index \"Big  Idx\" on [Order Details] (`Qty`, price)"),
            "CREATE INDEX \"Big  Idx\" ON [Order Details] ( `Qty` , price )"
        );
        assert!(!same_definition(
            "CREATE INDEX i ON t (\"A\")",
            "CREATE INDEX i ON t (\"a\")"
        ));
        // An alias is the view's column name as written.
        assert!(!same_definition(
            "CREATE VIEW v AS SELECT a AS Total FROM t",
            "CREATE VIEW v AS SELECT a AS total FROM t"
        ));
    }

    #[test]
    fn only_a_main_prefix_on_the_objects_own_name_is_dropped() {
        assert!(!same_definition(
            "CREATE VIEW temp.v AS SELECT 1",
            "CREATE VIEW v AS SELECT 1"
        ));
        assert!(!same_definition(
            "CREATE VIEW v AS SELECT * FROM main.t",
            "CREATE VIEW v AS SELECT * FROM t"
        ));
        assert_eq!(
            form("CREATE TRIGGER main.tr AFTER INSERT ON t BEGIN SELECT 1; END;"),
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1 ; END"
        );
    }

    #[test]
    fn a_keyword_used_as_a_name_after_as_keeps_its_case() {
        assert!(!same_definition(
            "CREATE VIEW v AS SELECT count(*) AS rows FROM t",
            "CREATE VIEW v AS SELECT count(*) AS ROWS FROM t"
        ));
        assert!(same_definition(
            "CREATE VIEW v AS SELECT count(*) AS rows FROM t",
            "create view v as select count(*) as rows from t"
        ));
    }

    #[test]
    fn real_changes_still_differ() {
        let view = "CREATE VIEW v AS SELECT a FROM t WHERE a > 1";
        assert!(!same_definition(
            view,
            "CREATE VIEW v AS SELECT b FROM t WHERE a > 1"
        ));
        assert!(!same_definition(
            view,
            "CREATE VIEW v AS SELECT a FROM t WHERE a > 2"
        ));
        assert!(!same_definition(
            view,
            "CREATE VIEW v AS SELECT a FROM t WHERE a >= 1"
        ));
        assert!(!same_definition(
            "CREATE INDEX i ON t (a)",
            "CREATE UNIQUE INDEX i ON t (a)"
        ));
    }

    #[test]
    fn text_that_does_not_tokenize_compares_as_written() {
        assert!(same_definition("SELECT 'open", "SELECT 'open"));
        assert!(!same_definition("SELECT 'open", "select 'open"));
    }
}
