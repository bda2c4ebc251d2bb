//! A small SQLite tokenizer for the SQL text stored in `sqlite_schema`, and the one
//! normalization every stored definition goes through.
//!
//! It understands exactly what is needed to walk a definition safely: the four quoting styles
//! (`"x"`, `[x]`, `` `x` ``, `'string'`), blob literals, both comment styles, numbers and
//! operators. It never panics; text it cannot tokenize is reported as a [`LexError`]. It does
//! not parse: grouping and meaning are left to the callers (`create_table.rs`, `inspect.rs`).

use std::fmt;

/// What a token is. Keywords are not told apart from identifiers: SQLite lets most keywords
/// be names, so callers decide from context (see [`Token::is_keyword`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: a keyword or an unquoted identifier.
    Word,
    /// `"x"`, `[x]` or `` `x` ``.
    QuotedIdent,
    /// `'text'`.
    String,
    /// `x'0A'`.
    Blob,
    Number,
    /// `?`, `?1`, `:name`, `@name`, `$name`.
    Variable,
    /// An operator or punctuation mark: `(`, `)`, `,`, `;`, `.`, `||`, `<=`, …
    Punct,
}

/// One token of SQL text, borrowing its text from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub kind: TokenKind,
    /// The token exactly as written, quotes included.
    pub text: &'a str,
    /// Whether whitespace or a comment came between this token and the previous one.
    pub space_before: bool,
}

impl<'a> Token<'a> {
    /// Whether this is the bare word `keyword` (case-insensitive). A quoted `"KEY"` is a name,
    /// never a keyword.
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    pub fn is_punct(&self, punct: &str) -> bool {
        self.kind == TokenKind::Punct && self.text == punct
    }

    /// Whether the token can stand for a name. SQLite also accepts a `'string'` where a name
    /// is expected (`CREATE TABLE 't' ('a' INT)`), so strings count.
    pub fn is_name(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Word | TokenKind::QuotedIdent | TokenKind::String
        )
    }

    /// The name the token stands for, with quotes removed and doubled quotes undone.
    pub fn name(&self) -> String {
        match self.kind {
            TokenKind::QuotedIdent | TokenKind::String => unquote(self.text),
            _ => self.text.to_string(),
        }
    }
}

/// Text that is not valid SQLite tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// Splits SQL text into tokens, dropping whitespace and comments.
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut lexer = Lexer {
        sql,
        bytes: sql.as_bytes(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        let space_before = lexer.skip_space_and_comments();
        if lexer.pos >= lexer.bytes.len() {
            return Ok(tokens);
        }
        let start = lexer.pos;
        let kind = lexer.token()?;
        tokens.push(Token {
            kind,
            text: &sql[start..lexer.pos],
            space_before,
        });
    }
}

/// Joins tokens back into text: one space wherever the source had whitespace or a comment,
/// nothing where it had none. Quoted text is kept byte for byte.
pub(crate) fn join(tokens: &[Token<'_>]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && token.space_before {
            out.push(' ');
        }
        out.push_str(token.text);
    }
    out
}

/// The normalized form of a stored statement: comments dropped, every run of whitespace
/// outside quotes collapsed to one space, trailing semicolons removed. Formatting noise then
/// never shows up as a schema difference, and normalizing twice changes nothing.
pub(crate) fn normalize_statement(sql: &str) -> Result<String, LexError> {
    let mut tokens = tokenize(sql)?;
    while tokens.last().is_some_and(|t| t.is_punct(";")) {
        tokens.pop();
    }
    Ok(join(&tokens))
}

/// Always-quoted form of an identifier: `"name"`, inner quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A string literal: `'text'`, inner quotes doubled.
pub(super) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Removes the quotes of a quoted identifier or string and undoes doubled quote characters.
fn unquote(text: &str) -> String {
    let mut chars = text.chars();
    let (Some(open), Some(_close)) = (chars.next(), chars.next_back()) else {
        return text.to_string();
    };
    let inner = chars.as_str();
    match open {
        '"' => inner.replace("\"\"", "\""),
        '\'' => inner.replace("''", "'"),
        '`' => inner.replace("``", "`"),
        _ => inner.to_string(), // `[x]` has no escape
    }
}

struct Lexer<'a> {
    sql: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

/// Operators of more than one character, longest first so `->>` wins over `->`.
const MULTI_CHAR_OPERATORS: [&str; 10] =
    ["->>", "||", "<<", ">>", "<=", ">=", "==", "!=", "<>", "->"];

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn error(&self, offset: usize, message: &str) -> LexError {
        LexError {
            offset,
            message: message.to_string(),
        }
    }

    /// Skips whitespace and comments; returns whether it skipped anything.
    fn skip_space_and_comments(&mut self) -> bool {
        let start = self.pos;
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'), _) => self.pos += 1,
                (Some(b'-'), Some(b'-')) => {
                    while self.peek(0).is_some_and(|b| b != b'\n') {
                        self.pos += 1;
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    // SQLite accepts an unterminated block comment at the end of the text.
                    self.pos = match self.sql[self.pos + 2..].find("*/") {
                        Some(end) => self.pos + 2 + end + 2,
                        None => self.bytes.len(),
                    };
                }
                _ => return self.pos > start,
            }
        }
    }

    /// Reads one token starting at `self.pos` (which is not whitespace).
    fn token(&mut self) -> Result<TokenKind, LexError> {
        let start = self.pos;
        let first = self.bytes[start];
        match first {
            b'\'' => self.quoted(b'\'', TokenKind::String, "unterminated string"),
            b'"' => self.quoted(b'"', TokenKind::QuotedIdent, "unterminated quoted name"),
            b'`' => self.quoted(b'`', TokenKind::QuotedIdent, "unterminated quoted name"),
            b'[' => self.bracketed(),
            b'x' | b'X' if self.peek(1) == Some(b'\'') => {
                self.pos += 1;
                self.quoted(b'\'', TokenKind::Blob, "unterminated blob literal")
            }
            b'0'..=b'9' => Ok(self.number()),
            b'.' if self.peek(1).is_some_and(|b| b.is_ascii_digit()) => Ok(self.number()),
            b'?' | b':' | b'@' | b'$' => Ok(self.variable()),
            _ if is_word_start(first) => {
                self.take_while(is_word_char);
                Ok(TokenKind::Word)
            }
            _ => self.operator(),
        }
    }

    /// A token enclosed in `quote`, where a doubled quote stands for itself.
    fn quoted(
        &mut self,
        quote: u8,
        kind: TokenKind,
        unterminated: &str,
    ) -> Result<TokenKind, LexError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek(0) {
                None => return Err(self.error(start, unterminated)),
                Some(b) if b == quote && self.peek(1) == Some(quote) => self.pos += 2,
                Some(b) if b == quote => {
                    self.pos += 1;
                    return Ok(kind);
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn bracketed(&mut self) -> Result<TokenKind, LexError> {
        match self.sql[self.pos..].find(']') {
            Some(end) => {
                self.pos += end + 1;
                Ok(TokenKind::QuotedIdent)
            }
            None => Err(self.error(self.pos, "unterminated [name]")),
        }
    }

    fn number(&mut self) -> TokenKind {
        if self.peek(0) == Some(b'0') && matches!(self.peek(1), Some(b'x' | b'X')) {
            self.pos += 2;
            self.take_while(|b| b.is_ascii_hexdigit() || b == b'_');
            return TokenKind::Number;
        }
        self.take_while(|b| b.is_ascii_digit() || b == b'_' || b == b'.');
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1 + sign;
                self.take_while(|b| b.is_ascii_digit());
            }
        }
        TokenKind::Number
    }

    fn variable(&mut self) -> TokenKind {
        self.pos += 1;
        self.take_while(is_word_char);
        TokenKind::Variable
    }

    fn operator(&mut self) -> Result<TokenKind, LexError> {
        let rest = &self.sql[self.pos..];
        if let Some(op) = MULTI_CHAR_OPERATORS.iter().find(|op| rest.starts_with(*op)) {
            self.pos += op.len();
            return Ok(TokenKind::Punct);
        }
        if b"(),;.+-*/%&|~<>=".contains(&self.bytes[self.pos]) {
            self.pos += 1;
            return Ok(TokenKind::Punct);
        }
        let shown = rest.chars().next().unwrap_or(' ');
        Err(self.error(self.pos, &format!("unexpected character {shown:?}")))
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.pos += 1;
        }
    }
}

/// SQLite treats every non-ASCII byte as part of an identifier, so UTF-8 names never split.
fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_word_char(b: u8) -> bool {
    is_word_start(b) || b.is_ascii_digit() || b == b'$'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        tokenize(sql).unwrap().iter().map(|t| t.text).collect()
    }

    #[test]
    fn every_quoting_style_is_one_token() {
        assert_eq!(
            texts(r#"[Order Details] "a ""b""" `c``d` 'it''s' x'0aFF'"#),
            [
                r#"[Order Details]"#,
                r#""a ""b""""#,
                "`c``d`",
                "'it''s'",
                "x'0aFF'"
            ]
        );
        let names: Vec<String> = tokenize(r#"[Order Details] "a ""b""" `c``d` 'it''s'"#)
            .unwrap()
            .iter()
            .map(|t| t.name())
            .collect();
        assert_eq!(names, ["Order Details", "a \"b\"", "c`d", "it's"]);
    }

    #[test]
    fn comments_and_whitespace_collapse_to_one_space() {
        let sql = "CREATE  INDEX\n\t\"i\" -- why\nON t(a /* the key */,b);;";
        assert_eq!(
            normalize_statement(sql).unwrap(),
            "CREATE INDEX \"i\" ON t(a ,b)"
        );
        let once = normalize_statement(sql).unwrap();
        assert_eq!(normalize_statement(&once).unwrap(), once);
    }

    #[test]
    fn whitespace_inside_quotes_is_kept() {
        assert_eq!(
            normalize_statement("SELECT 'a   b',  \"c  d\"").unwrap(),
            "SELECT 'a   b', \"c  d\""
        );
    }

    #[test]
    fn operators_and_numbers() {
        assert_eq!(
            texts("a->>'$.x'||b<=1.5e-3 AND c<>0x1F"),
            ["a", "->>", "'$.x'", "||", "b", "<=", "1.5e-3", "AND", "c", "<>", "0x1F"]
        );
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in ["'open", "\"open", "[open", "`open", "x'0", "a # b", "é'"] {
            assert!(tokenize(bad).is_err(), "{bad} should not tokenize");
        }
        assert!(tokenize("/* open comment").unwrap().is_empty());
        assert!(tokenize("").unwrap().is_empty());
        assert_eq!(texts("naïve_ñame"), ["naïve_ñame"]);
    }

    #[test]
    fn keywords_are_bare_words_only() {
        let tokens = tokenize("key \"KEY\"").unwrap();
        assert!(tokens[0].is_keyword("KEY"));
        assert!(!tokens[1].is_keyword("KEY"));
        assert!(tokens[1].is_name());
    }

    #[test]
    fn quote_ident_doubles_quotes() {
        assert_eq!(quote_ident(r#"say "hi""#), r#""say ""hi""""#);
    }
}
