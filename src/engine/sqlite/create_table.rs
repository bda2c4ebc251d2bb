//! Parses the `CREATE TABLE` text SQLite keeps in `sqlite_schema.sql` into its parts: columns
//! (declared type, COLLATE, DEFAULT, generated expression, AUTOINCREMENT) and constraints (with
//! their declared names, CHECK expressions and foreign-key clauses) — the things the PRAGMAs do
//! not report, or report rewritten.
//!
//! It follows SQLite's own grammar (`parse.y`), including its leniencies: table constraints
//! without separating commas, a `DEFERRABLE` clause standing alone among column constraints,
//! `'strings'` as names. Expression text is kept as written (whitespace collapsed) and never
//! interpreted. Text it does not understand is an error, never a panic or a guess.

use super::lexer::{self, Token, TokenKind};

/// The parts of one `CREATE TABLE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TableDefinition {
    pub columns: Vec<ColumnDefinition>,
    /// Column and table constraints in declaration order (a column's constraints where the
    /// column is).
    pub constraints: Vec<ConstraintDefinition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ColumnDefinition {
    pub name: String,
    /// The declared type as written (whitespace collapsed); empty when there is none.
    pub data_type: String,
    pub collation: Option<String>,
    /// The DEFAULT value as written: a literal, a signed number, or `( expr )`.
    pub default: Option<String>,
    /// Expression of `[GENERATED ALWAYS] AS ( expr )`.
    pub generated: Option<String>,
    /// `PRIMARY KEY AUTOINCREMENT`, on the column or in a table-level PRIMARY KEY.
    pub autoincrement: bool,
    /// `NOT NULL ON CONFLICT resolution` (uppercase); the model has no place for it.
    pub not_null_conflict: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ConstraintDefinition {
    /// The name from `CONSTRAINT name`, if declared.
    pub name: Option<String>,
    pub body: ConstraintBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ConstraintBody {
    PrimaryKey {
        columns: Vec<KeyColumn>,
        /// `ON CONFLICT` resolution, uppercase (`REPLACE`, …).
        conflict: Option<String>,
        /// `AUTOINCREMENT`, written on the column or inside the key's parentheses.
        autoincrement: bool,
    },
    Unique {
        columns: Vec<KeyColumn>,
        conflict: Option<String>,
    },
    Check {
        expression: String,
    },
    ForeignKey {
        columns: Vec<String>,
        target: ForeignKeyClause,
    },
}

/// A column of a PRIMARY KEY or UNIQUE constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyColumn {
    pub name: String,
    pub collation: Option<String>,
    /// `ASC` or `DESC` when written.
    pub order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ForeignKeyClause {
    pub table: String,
    /// Empty when the clause names no columns (it then references the parent's primary key).
    pub columns: Vec<String>,
    /// Lowercase action: `no action`, `restrict`, `cascade`, `set null`, `set default`.
    pub on_delete: String,
    pub on_update: String,
    /// Lowercase `MATCH` name when written (SQLite parses it and ignores it).
    pub match_type: Option<String>,
    pub deferrable: bool,
    pub initially_deferred: bool,
}

/// Parses a whole `CREATE TABLE` statement.
pub(super) fn parse_create_table(sql: &str) -> Result<TableDefinition, String> {
    let tokens = lexer::tokenize(sql).map_err(|e| e.to_string())?;
    let mut parser = Parser::new(&tokens);
    parser.table_header()?;
    let mut table = TableDefinition {
        columns: vec![],
        constraints: vec![],
    };
    parser.table_body(&mut table)?;
    // The options' values are read from `PRAGMA table_list`; here they are only checked.
    parser.table_options()?;
    mark_autoincrement(&mut table);
    Ok(table)
}

/// Copies a primary key's AUTOINCREMENT onto its (single) column.
fn mark_autoincrement(table: &mut TableDefinition) {
    for constraint in &table.constraints {
        if let ConstraintBody::PrimaryKey {
            columns,
            autoincrement: true,
            ..
        } = &constraint.body
        {
            for key in columns {
                let column = table
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(&key.name));
                if let Some(column) = column {
                    column.autoincrement = true;
                }
            }
        }
    }
}

/// Parses one table-constraint clause on its own, e.g. a stored `Constraint.definition`.
pub(super) fn parse_constraint_clause(sql: &str) -> Result<ConstraintDefinition, String> {
    let tokens = lexer::tokenize(sql).map_err(|e| e.to_string())?;
    let mut parser = Parser::new(&tokens);
    let mut constraints = vec![];
    parser.table_constraint(&mut constraints)?;
    if let Some(extra) = parser.peek() {
        return Err(format!("unexpected {} after the constraint", extra.text));
    }
    constraints
        .pop()
        .ok_or_else(|| "no constraint found".to_string())
}

/// Words that end a column's type and start a column constraint.
const COLUMN_CONSTRAINT_STARTS: [&str; 10] = [
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "AS",
];

const TABLE_CONSTRAINT_STARTS: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

struct Parser<'t, 'a> {
    tokens: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Parser<'t, 'a> {
    fn new(tokens: &'t [Token<'a>]) -> Self {
        Parser { tokens, pos: 0 }
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&'t Token<'a>> {
        self.tokens.get(self.pos + ahead)
    }

    fn next(&mut self) -> Result<&'t Token<'a>, String> {
        let token = self
            .tokens
            .get(self.pos)
            .ok_or_else(|| "unexpected end of the statement".to_string())?;
        self.pos += 1;
        Ok(token)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_keyword(keyword))
    }

    fn at_punct(&self, punct: &str) -> bool {
        self.peek().is_some_and(|t| t.is_punct(punct))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = self.at_punct(punct);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), String> {
        let token = self.next()?;
        if token.is_keyword(keyword) {
            Ok(())
        } else {
            Err(format!("expected {keyword}, found {}", token.text))
        }
    }

    fn expect_punct(&mut self, punct: &str) -> Result<(), String> {
        let token = self.next()?;
        if token.is_punct(punct) {
            Ok(())
        } else {
            Err(format!("expected {punct}, found {}", token.text))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let token = self.next()?;
        if token.is_name() {
            Ok(token.name())
        } else {
            Err(format!("expected a name, found {}", token.text))
        }
    }

    /// The tokens between a `(` at the cursor and its matching `)`, consuming both.
    fn parenthesized(&mut self) -> Result<&'t [Token<'a>], String> {
        self.expect_punct("(")?;
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(token) = self.peek() {
            self.pos += 1;
            if token.is_punct("(") {
                depth += 1;
            } else if token.is_punct(")") {
                depth -= 1;
                if depth == 0 {
                    return Ok(&self.tokens[start..self.pos - 1]);
                }
            }
        }
        Err("unbalanced parentheses".to_string())
    }

    /// `CREATE [TEMP] TABLE [IF NOT EXISTS] [schema.]name`
    fn table_header(&mut self) -> Result<(), String> {
        self.expect_keyword("CREATE")?;
        let _ = self.eat_keyword("TEMP") || self.eat_keyword("TEMPORARY");
        self.expect_keyword("TABLE")?;
        if self.eat_keyword("IF") {
            self.expect_keyword("NOT")?;
            self.expect_keyword("EXISTS")?;
        }
        self.name()?;
        if self.eat_punct(".") {
            self.name()?;
        }
        Ok(())
    }

    /// `( column, …, table-constraint, … )`
    fn table_body(&mut self, table: &mut TableDefinition) -> Result<(), String> {
        self.expect_punct("(")?;
        loop {
            if self.at_table_constraint() {
                self.table_constraint(&mut table.constraints)?;
            } else {
                self.column(table)?;
            }
            if self.eat_punct(")") {
                return Ok(());
            }
            // SQLite lets table constraints follow each other without a comma.
            if !self.eat_punct(",") && !self.at_table_constraint() {
                let found = self.peek().map_or("the end", |t| t.text);
                return Err(format!("expected , or ) in the table body, found {found}"));
            }
        }
    }

    /// `[WITHOUT ROWID | STRICT] [, …]` and the end of the statement.
    fn table_options(&mut self) -> Result<(), String> {
        while self.peek().is_some_and(|t| !t.is_punct(";")) {
            if self.eat_keyword("WITHOUT") {
                self.expect_keyword("ROWID")?;
            } else if !self.eat_keyword("STRICT") {
                let found = self.peek().map_or("the end", |t| t.text);
                return Err(format!("unexpected {found} after the table body"));
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        let _ = self.eat_punct(";");
        match self.peek() {
            None => Ok(()),
            Some(extra) => Err(format!("unexpected {} after the table body", extra.text)),
        }
    }

    fn at_table_constraint(&self) -> bool {
        TABLE_CONSTRAINT_STARTS.iter().any(|k| self.at_keyword(k))
    }

    fn at_column_end(&self) -> bool {
        self.peek()
            .is_none_or(|t| t.is_punct(",") || t.is_punct(")"))
    }

    fn column(&mut self, table: &mut TableDefinition) -> Result<(), String> {
        let name = self.name()?;
        let data_type = self.column_type();
        let mut column = ColumnDefinition {
            name,
            data_type,
            collation: None,
            default: None,
            generated: None,
            autoincrement: false,
            not_null_conflict: None,
        };
        let mut pending_name = None;
        while !self.at_column_end() {
            if self.eat_keyword("CONSTRAINT") {
                pending_name = Some(self.name()?);
                continue;
            }
            let declared = pending_name.take();
            self.column_constraint(&mut column, declared, &mut table.constraints)
                .map_err(|e| format!("column {}: {e}", column.name))?;
        }
        table.columns.push(column);
        Ok(())
    }

    /// The declared type: names, then an optional `( n [, m] )`. Everything up to the first
    /// column-constraint keyword.
    fn column_type(&mut self) -> String {
        let start = self.pos;
        while let Some(token) = self.peek() {
            if token.is_punct("(") {
                if self.parenthesized().is_err() {
                    self.pos = self.tokens.len();
                }
                break;
            }
            let starts_constraint = COLUMN_CONSTRAINT_STARTS.iter().any(|k| token.is_keyword(k))
                || self.at_generated_always();
            if !token.is_name() || starts_constraint {
                break;
            }
            self.pos += 1;
        }
        lexer::join(&self.tokens[start..self.pos])
    }

    fn at_generated_always(&self) -> bool {
        self.at_keyword("GENERATED") && self.peek_at(1).is_some_and(|t| t.is_keyword("ALWAYS"))
    }

    fn column_constraint(
        &mut self,
        column: &mut ColumnDefinition,
        name: Option<String>,
        constraints: &mut Vec<ConstraintDefinition>,
    ) -> Result<(), String> {
        let token = self.next()?;
        let keyword = token.text.to_ascii_uppercase();
        let body = match keyword.as_str() {
            "PRIMARY" => {
                self.expect_keyword("KEY")?;
                let order = self.sort_order();
                let conflict = self.conflict_clause()?;
                let key = KeyColumn {
                    name: column.name.clone(),
                    collation: None,
                    order,
                };
                ConstraintBody::PrimaryKey {
                    columns: vec![key],
                    conflict,
                    autoincrement: self.eat_keyword("AUTOINCREMENT"),
                }
            }
            "UNIQUE" => ConstraintBody::Unique {
                columns: vec![KeyColumn {
                    name: column.name.clone(),
                    collation: None,
                    order: None,
                }],
                conflict: self.conflict_clause()?,
            },
            "CHECK" => ConstraintBody::Check {
                expression: lexer::join(self.parenthesized()?),
            },
            "REFERENCES" => {
                self.pos -= 1;
                ConstraintBody::ForeignKey {
                    columns: vec![column.name.clone()],
                    target: self.foreign_key_clause()?,
                }
            }
            _ => {
                self.pos -= 1;
                return self.column_attribute(column, constraints);
            }
        };
        constraints.push(ConstraintDefinition { name, body });
        Ok(())
    }

    /// Column constraints that are attributes of the column rather than named constraints:
    /// NOT NULL, NULL, DEFAULT, COLLATE, generated, and a stray deferrable clause.
    fn column_attribute(
        &mut self,
        column: &mut ColumnDefinition,
        constraints: &mut [ConstraintDefinition],
    ) -> Result<(), String> {
        if self.at_keyword("DEFERRABLE") || self.at_not_deferrable() {
            // `REFERENCES t NOT NULL DEFERRABLE …`: SQLite applies it to the table's most
            // recent foreign key.
            let (deferrable, deferred) = self.deferrable_clause()?;
            if let Some(ConstraintBody::ForeignKey { target, .. }) =
                constraints.last_mut().map(|c| &mut c.body)
            {
                target.deferrable = deferrable;
                target.initially_deferred = deferred;
            }
        } else if self.eat_keyword("NOT") {
            // Nullability itself comes from PRAGMA table_xinfo.
            self.expect_keyword("NULL")?;
            column.not_null_conflict = self.conflict_clause()?;
        } else if self.eat_keyword("NULL") {
            self.conflict_clause()?;
        } else if self.eat_keyword("DEFAULT") {
            column.default = Some(self.default_value()?);
        } else if self.eat_keyword("COLLATE") {
            column.collation = Some(self.name()?);
        } else if self.at_generated_always() || self.at_keyword("AS") {
            if self.eat_keyword("GENERATED") {
                self.expect_keyword("ALWAYS")?;
            }
            self.expect_keyword("AS")?;
            column.generated = Some(lexer::join(self.parenthesized()?));
            let _ = self.eat_keyword("STORED") || self.eat_keyword("VIRTUAL");
        } else {
            let found = self.peek().map_or("the end", |t| t.text);
            return Err(format!("unexpected {found}"));
        }
        Ok(())
    }

    /// `DEFAULT` value: `( expr )`, a signed number, or one literal / name token.
    fn default_value(&mut self) -> Result<String, String> {
        if self.at_punct("(") {
            let start = self.pos;
            self.parenthesized()?;
            return Ok(lexer::join(&self.tokens[start..self.pos]));
        }
        let start = self.pos;
        if self.at_punct("+") || self.at_punct("-") {
            self.pos += 1;
        }
        let value = self.next()?;
        if value.kind == TokenKind::Punct {
            return Err(format!("unexpected {} in DEFAULT", value.text));
        }
        Ok(lexer::join(&self.tokens[start..self.pos]))
    }

    fn sort_order(&mut self) -> Option<String> {
        ["ASC", "DESC"]
            .into_iter()
            .find(|k| self.eat_keyword(k))
            .map(str::to_string)
    }

    /// `ON CONFLICT resolution`, returned uppercase.
    fn conflict_clause(&mut self) -> Result<Option<String>, String> {
        if !(self.at_keyword("ON") && self.peek_at(1).is_some_and(|t| t.is_keyword("CONFLICT"))) {
            return Ok(None);
        }
        self.pos += 2;
        let token = self.next()?;
        let resolution = token.text.to_ascii_uppercase();
        match resolution.as_str() {
            "ROLLBACK" | "ABORT" | "FAIL" | "IGNORE" | "REPLACE"
                if token.kind == TokenKind::Word =>
            {
                Ok(Some(resolution))
            }
            _ => Err(format!("unknown ON CONFLICT resolution {}", token.text)),
        }
    }

    /// `[CONSTRAINT name] PRIMARY KEY (…) | UNIQUE (…) | CHECK (…) | FOREIGN KEY (…) …`
    fn table_constraint(
        &mut self,
        constraints: &mut Vec<ConstraintDefinition>,
    ) -> Result<(), String> {
        let name = if self.eat_keyword("CONSTRAINT") {
            Some(self.name()?)
        } else {
            None
        };
        let token = self.next()?;
        let body = match token.text.to_ascii_uppercase().as_str() {
            "PRIMARY" if token.kind == TokenKind::Word => {
                self.expect_keyword("KEY")?;
                let (columns, autoincrement) = self.key_columns()?;
                ConstraintBody::PrimaryKey {
                    columns,
                    conflict: self.conflict_clause()?,
                    autoincrement,
                }
            }
            "UNIQUE" if token.kind == TokenKind::Word => ConstraintBody::Unique {
                columns: self.key_columns()?.0,
                conflict: self.conflict_clause()?,
            },
            "CHECK" if token.kind == TokenKind::Word => {
                let expression = lexer::join(self.parenthesized()?);
                self.conflict_clause()?; // accepted and ignored by SQLite
                ConstraintBody::Check { expression }
            }
            "FOREIGN" if token.kind == TokenKind::Word => {
                self.expect_keyword("KEY")?;
                let columns = self.name_list()?;
                ConstraintBody::ForeignKey {
                    columns,
                    target: self.foreign_key_clause()?,
                }
            }
            _ => return Err(format!("expected a table constraint, found {}", token.text)),
        };
        constraints.push(ConstraintDefinition { name, body });
        Ok(())
    }

    /// `( name [COLLATE c] [ASC|DESC], … [AUTOINCREMENT] )`
    fn key_columns(&mut self) -> Result<(Vec<KeyColumn>, bool), String> {
        let inner = self.parenthesized()?;
        let mut list = Parser::new(inner);
        let mut columns = vec![];
        let mut autoincrement = false;
        loop {
            let name = list.name()?;
            let collation = if list.eat_keyword("COLLATE") {
                Some(list.name()?)
            } else {
                None
            };
            let order = list.sort_order();
            columns.push(KeyColumn {
                name,
                collation,
                order,
            });
            autoincrement |= list.eat_keyword("AUTOINCREMENT");
            if list.peek().is_none() {
                return Ok((columns, autoincrement));
            }
            list.expect_punct(",").map_err(|_| {
                "only column names may appear in a PRIMARY KEY or UNIQUE list".to_string()
            })?;
        }
    }

    /// `( name, … )`
    fn name_list(&mut self) -> Result<Vec<String>, String> {
        let inner = self.parenthesized()?;
        let mut list = Parser::new(inner);
        let mut names = vec![list.name()?];
        while list.eat_punct(",") {
            names.push(list.name()?);
        }
        match list.peek() {
            None => Ok(names),
            Some(extra) => Err(format!("unexpected {} in a column list", extra.text)),
        }
    }

    /// `REFERENCES table [(cols)] [ON DELETE|UPDATE|INSERT action | MATCH name]… [deferrable]`
    fn foreign_key_clause(&mut self) -> Result<ForeignKeyClause, String> {
        self.expect_keyword("REFERENCES")?;
        let table = self.name()?;
        let columns = if self.at_punct("(") {
            self.name_list()?
        } else {
            vec![]
        };
        let mut clause = ForeignKeyClause {
            table,
            columns,
            on_delete: "no action".into(),
            on_update: "no action".into(),
            match_type: None,
            deferrable: false,
            initially_deferred: false,
        };
        loop {
            if self.eat_keyword("MATCH") {
                clause.match_type = Some(self.name()?.to_ascii_lowercase());
            } else if self.at_keyword("ON")
                && !self.peek_at(1).is_some_and(|t| t.is_keyword("CONFLICT"))
            {
                self.pos += 1;
                let event = self.next()?.text.to_ascii_uppercase();
                let action = self.referential_action()?;
                match event.as_str() {
                    "DELETE" => clause.on_delete = action,
                    "UPDATE" => clause.on_update = action,
                    "INSERT" => {} // parsed and ignored by SQLite
                    _ => return Err(format!("unexpected ON {event} in a foreign key")),
                }
            } else {
                break;
            }
        }
        if self.at_keyword("DEFERRABLE") || self.at_not_deferrable() {
            (clause.deferrable, clause.initially_deferred) = self.deferrable_clause()?;
        }
        Ok(clause)
    }

    fn at_not_deferrable(&self) -> bool {
        self.at_keyword("NOT") && self.peek_at(1).is_some_and(|t| t.is_keyword("DEFERRABLE"))
    }

    /// `SET NULL | SET DEFAULT | CASCADE | RESTRICT | NO ACTION`, lowercase.
    fn referential_action(&mut self) -> Result<String, String> {
        let first = self.next()?.text.to_ascii_uppercase();
        let action = match first.as_str() {
            "SET" => match self.next()?.text.to_ascii_uppercase().as_str() {
                "NULL" => "set null",
                "DEFAULT" => "set default",
                other => return Err(format!("unknown action SET {other}")),
            },
            "NO" => {
                self.expect_keyword("ACTION")?;
                "no action"
            }
            "CASCADE" => "cascade",
            "RESTRICT" => "restrict",
            other => return Err(format!("unknown foreign key action {other}")),
        };
        Ok(action.to_string())
    }

    /// `[NOT] DEFERRABLE [INITIALLY DEFERRED | INITIALLY IMMEDIATE]` → (deferrable, deferred).
    /// As in SQLite, `NOT DEFERRABLE` is never deferred, whatever INITIALLY says.
    fn deferrable_clause(&mut self) -> Result<(bool, bool), String> {
        let not = self.eat_keyword("NOT");
        self.expect_keyword("DEFERRABLE")?;
        let mut deferred = false;
        if self.eat_keyword("INITIALLY") {
            deferred = self.eat_keyword("DEFERRED");
            if !deferred {
                self.expect_keyword("IMMEDIATE")?;
            }
        }
        Ok((!not, !not && deferred))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> TableDefinition {
        parse_create_table(sql).unwrap_or_else(|e| panic!("{e}: {sql}"))
    }

    #[test]
    fn column_parts_are_kept_as_written() {
        let table = parse(
            "CREATE TABLE [t] ([a]NVARCHAR( 10 ,  2 ) NOT NULL DEFAULT ( 1 +  2 ),
             \"b c\" TEXT COLLATE NOCASE DEFAULT -1, d, e DOUBLE PRECISION DEFAULT 'x''y',
             f INT GENERATED ALWAYS AS (d * 2) STORED, g AS (upper(e)))",
        );
        let c = &table.columns;
        assert_eq!(c.len(), 6);
        assert_eq!(
            (c[0].name.as_str(), c[0].data_type.as_str()),
            ("a", "NVARCHAR( 10 , 2 )")
        );
        assert_eq!(c[0].default.as_deref(), Some("( 1 + 2 )"));
        assert_eq!(c[1].name, "b c");
        assert_eq!(c[1].collation.as_deref(), Some("NOCASE"));
        assert_eq!(c[1].default.as_deref(), Some("-1"));
        assert_eq!(c[2].data_type, "");
        assert_eq!(c[3].data_type, "DOUBLE PRECISION");
        assert_eq!(c[3].default.as_deref(), Some("'x''y'"));
        assert_eq!(c[4].generated.as_deref(), Some("d * 2"));
        assert_eq!(c[5].generated.as_deref(), Some("upper(e)"));
        assert!(table.constraints.is_empty());
    }

    #[test]
    fn autoincrement_on_the_column_or_in_the_table_key() {
        let column =
            parse("CREATE TABLE t (id INTEGER PRIMARY KEY ASC ON CONFLICT FAIL AUTOINCREMENT)");
        assert!(column.columns[0].autoincrement);
        assert_eq!(
            column.constraints[0].body,
            ConstraintBody::PrimaryKey {
                columns: vec![KeyColumn {
                    name: "id".into(),
                    collation: None,
                    order: Some("ASC".into())
                }],
                conflict: Some("FAIL".into()),
                autoincrement: true,
            }
        );
        let table = parse("CREATE TABLE t (id INTEGER, PRIMARY KEY (id AUTOINCREMENT))");
        assert!(table.columns[0].autoincrement);
        assert!(!parse("CREATE TABLE t (id INTEGER PRIMARY KEY)").columns[0].autoincrement);
    }

    #[test]
    fn table_constraints_with_names_and_without_commas() {
        let table = parse(
            "create table if not exists main.t (a int, b int,
             constraint pk primary key (a, b desc) CHECK (a > 0) unique (b collate nocase),
             CONSTRAINT [fk] FOREIGN KEY (b) REFERENCES p (x) ON UPDATE CASCADE)",
        );
        let names: Vec<Option<&str>> = table
            .constraints
            .iter()
            .map(|c| c.name.as_deref())
            .collect();
        assert_eq!(names, [Some("pk"), None, None, Some("fk")]);
        assert_eq!(
            table.constraints[1].body,
            ConstraintBody::Check {
                expression: "a > 0".into()
            }
        );
        let ConstraintBody::Unique { columns, .. } = &table.constraints[2].body else {
            panic!("expected UNIQUE");
        };
        assert_eq!(columns[0].collation.as_deref(), Some("nocase"));
    }

    #[test]
    fn foreign_key_clauses() {
        let table = parse(
            "CREATE TABLE t (a REFERENCES p ON DELETE SET NULL ON INSERT CASCADE MATCH FULL
                 NOT NULL DEFERRABLE INITIALLY DEFERRED,
             b INTEGER REFERENCES q (id) NOT DEFERRABLE INITIALLY DEFERRED,
             FOREIGN KEY (a, b) REFERENCES r (x, y) ON UPDATE RESTRICT ON DELETE NO ACTION
                 DEFERRABLE INITIALLY IMMEDIATE)",
        );
        let targets: Vec<&ForeignKeyClause> = table
            .constraints
            .iter()
            .map(|c| match &c.body {
                ConstraintBody::ForeignKey { target, .. } => target,
                other => panic!("expected a foreign key, got {other:?}"),
            })
            .collect();
        assert_eq!(targets[0].table, "p");
        assert!(targets[0].columns.is_empty());
        assert_eq!(targets[0].on_delete, "set null");
        assert_eq!(targets[0].match_type.as_deref(), Some("full"));
        assert!(targets[0].deferrable && targets[0].initially_deferred);
        assert!(!targets[1].deferrable && !targets[1].initially_deferred);
        assert_eq!(
            (targets[2].on_update.as_str(), targets[2].on_delete.as_str()),
            ("restrict", "no action")
        );
        assert!(targets[2].deferrable && !targets[2].initially_deferred);
    }

    #[test]
    fn comments_anywhere_are_ignored() {
        let table = parse(
            "CREATE TABLE t ( -- the key\n id INTEGER /* rowid */ PRIMARY KEY, v TEXT CHECK (v <> '--') )",
        );
        assert_eq!(table.columns.len(), 2);
        assert_eq!(
            table.constraints[1].body,
            ConstraintBody::Check {
                expression: "v <> '--'".into()
            }
        );
    }

    #[test]
    fn a_single_constraint_clause_parses() {
        let clause = parse_constraint_clause(r#"PRIMARY KEY ("id") ON CONFLICT REPLACE"#).unwrap();
        assert!(matches!(
            clause.body,
            ConstraintBody::PrimaryKey { conflict: Some(ref c), .. } if c == "REPLACE"
        ));
        assert!(parse_constraint_clause("PRIMARY KEY (id) extra").is_err());
    }

    #[test]
    fn malformed_text_is_an_error_never_a_panic() {
        let valid = "CREATE TABLE \"t\" (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT DEFAULT 'x' \
                     COLLATE NOCASE CHECK (a <> ''), b AS (a || 'y') STORED, \
                     CONSTRAINT f FOREIGN KEY (a) REFERENCES p (x) ON DELETE CASCADE \
                     DEFERRABLE INITIALLY DEFERRED, UNIQUE (a, b)) WITHOUT ROWID";
        assert!(parse_create_table(valid).is_ok());
        for end in (0..valid.len()).filter(|&i| valid.is_char_boundary(i)) {
            let prefix = &valid[..end];
            // Every cut before the closing parenthesis is incomplete.
            if end < valid.rfind(')').unwrap() {
                assert!(parse_create_table(prefix).is_err(), "accepted {prefix:?}");
            }
        }
        for bad in [
            "",
            "CREATE INDEX i ON t (a)",
            "CREATE TABLE t",
            "CREATE TABLE t ()",
            "CREATE TABLE t (a INT,)",
            "CREATE TABLE t (a INT CHECK a > 0)",
            "CREATE TABLE t (a INT PRIMARY KEY ON CONFLICT MAYBE)",
            "CREATE TABLE t (a INT REFERENCES p ON DELETE EXPLODE)",
            "CREATE TABLE t (a INT, PRIMARY KEY (a + 1))",
            "CREATE TABLE t (a INT DEFAULT)",
            "CREATE TABLE t (a INT DEFAULT ,)",
            "CREATE TABLE t (a INT) ) (",
            "CREATE TABLE t (a 'unterminated)",
        ] {
            assert!(parse_create_table(bad).is_err(), "accepted {bad:?}");
        }
    }

    /// A cheap stand-in for fuzzing: thousands of pseudo-random strings built from the
    /// characters that matter to the tokenizer and the parser (quotes, brackets, comment
    /// starts, multi-byte letters) must each give a result or an error, never a panic.
    #[test]
    fn random_text_never_panics() {
        const PIECES: [&str; 24] = [
            "CREATE TABLE ",
            "t",
            "(",
            ")",
            ",",
            " ",
            "'",
            "\"",
            "[",
            "]",
            "`",
            "--",
            "/*",
            "*/",
            "\n",
            "é",
            "x'",
            "PRIMARY KEY ",
            "CHECK ",
            "REFERENCES ",
            "DEFAULT ",
            "AS ",
            "CONSTRAINT c ",
            "1.5e",
        ];
        let mut state: u64 = 0x5eed;
        for _ in 0..5000 {
            let mut sql = String::new();
            for _ in 0..(state % 24) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sql.push_str(PIECES[(state >> 33) as usize % PIECES.len()]);
            }
            let _ = parse_create_table(&sql);
            let _ = parse_constraint_clause(&sql);
            let _ = lexer::normalize_statement(&sql);
        }
    }
}
