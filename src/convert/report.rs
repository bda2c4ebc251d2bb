//! The conversion report: one entry per mapping that is a choice, a guess or a loss, naming the
//! object and the reason. Objects that could not be translated at all are entries too
//! ([`Severity::Omitted`]), so nothing is ever left out silently.
//!
//! The JSON form (`strata convert --json`) is a stable document; its fields are listed in the
//! README ("Moving between engines").

use serde::Serialize;

use crate::schema::EngineKind;

/// How much an entry matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A faithful mapping worth knowing about (a type chosen, an option that has no meaning
    /// on the other engine).
    Info,
    /// Kept, but it may behave differently (a collation dropped, a guessed type).
    Warning,
    /// Not in the converted schema: it could not be translated.
    Omitted,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Omitted => "omitted",
        }
    }
}

/// One mapping that is a choice, a guess or a loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The object, as named in the source schema (`table`, `table.column`, `table.constraint`).
    pub object: String,
    /// What the object is: `table`, `column`, `type`, `default`, `collation`, `constraint`,
    /// `index`, `view`, `trigger`, `generated`, `identity`, `sequence`, `function`, …
    pub kind: String,
    /// The source form (a type, an expression, an option), as written there.
    pub from: String,
    /// What it became; empty when the object was left out.
    pub to: String,
    pub reason: String,
    pub severity: Severity,
}

/// Everything a conversion chose, guessed or left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub from: EngineKind,
    pub to: EngineKind,
    /// Whether the converted schema was loaded into a real database of the target engine
    /// (and its definitions are that database's own spelling of them).
    pub validated: bool,
    pub entries: Vec<Entry>,
}

impl Report {
    pub fn new(from: EngineKind, to: EngineKind) -> Report {
        Report {
            from,
            to,
            validated: false,
            entries: Vec::new(),
        }
    }

    /// Adds an entry.
    pub fn add(
        &mut self,
        severity: Severity,
        kind: &str,
        object: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.entries.push(Entry {
            object: object.into(),
            kind: kind.to_string(),
            from: from.into(),
            to: to.into(),
            reason: reason.into(),
            severity,
        });
    }

    /// An object left out because it could not be translated.
    pub fn omit(
        &mut self,
        kind: &str,
        object: impl Into<String>,
        from: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.add(Severity::Omitted, kind, object, from, "", reason);
    }

    /// Entries of objects left out.
    pub fn omitted(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| e.severity == Severity::Omitted)
    }

    /// Entries sorted by object then kind (stable for equal keys), for output.
    pub fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| (&a.object, &a.kind).cmp(&(&b.object, &b.kind)));
    }

    /// Counts per severity: (info, warning, omitted).
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| self.entries.iter().filter(|e| e.severity == s).count();
        (
            count(Severity::Info),
            count(Severity::Warning),
            count(Severity::Omitted),
        )
    }

    /// One line per entry, then a summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            let mapping = match (e.from.is_empty(), e.to.is_empty()) {
                (false, false) => format!(": {} → {}", one_line(&e.from), one_line(&e.to)),
                (false, true) => format!(": {}", one_line(&e.from)),
                _ => String::new(),
            };
            out.push_str(&format!(
                "{:<7} {} {}{mapping} — {}\n",
                e.severity.name(),
                e.kind,
                e.object,
                e.reason
            ));
        }
        let (info, warning, omitted) = self.counts();
        out.push_str(&format!(
            "converted {} → {}: {info} info, {warning} warning(s), {omitted} object(s) left out{}\n",
            self.from,
            self.to,
            if self.validated {
                "; validated on a real database"
            } else {
                ""
            }
        ));
        out
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into());
        text.push('\n');
        text
    }

    /// The refusal when objects would be left out and the user did not allow it.
    pub fn check_lossless(&self, allow_lossy: bool) -> crate::Result<()> {
        let omitted: Vec<String> = self
            .omitted()
            .map(|e| format!("{} {} ({})", e.kind, e.object, e.reason))
            .collect();
        if omitted.is_empty() || allow_lossy {
            return Ok(());
        }
        Err(crate::Error::Refused(format!(
            "{} object(s) cannot be translated from {} to {}: {} — rewrite them for {} by hand, \
             or rerun with --allow-lossy to leave them out (they are listed in the report)",
            omitted.len(),
            self.from,
            self.to,
            omitted.join("; "),
            self.to
        )))
    }
}

/// Long SQL (a trigger body) shown on one line, shortened.
fn one_line(text: &str) -> String {
    let joined: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    const LIMIT: usize = 160;
    if joined.chars().count() <= LIMIT {
        return joined;
    }
    let cut: String = joined.chars().take(LIMIT).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omissions_are_refused_unless_allowed_and_named() {
        let mut report = Report::new(EngineKind::Sqlite, EngineKind::Postgres);
        report.add(Severity::Info, "type", "t.a", "INTEGER", "bigint", "64-bit");
        assert!(report.check_lossless(false).is_ok());
        report.omit("trigger", "t.audit", "CREATE TRIGGER …", "no PL/pgSQL");
        let error = report.check_lossless(false).unwrap_err().to_string();
        assert!(error.contains("trigger t.audit"), "{error}");
        assert!(error.contains("--allow-lossy"), "{error}");
        assert!(report.check_lossless(true).is_ok());
        assert_eq!(report.counts(), (1, 0, 1));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let mut report = Report::new(EngineKind::Sqlite, EngineKind::Postgres);
        report.add(Severity::Warning, "collation", "t.a", "NOCASE", "", "why");
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let entry = &value["entries"][0];
        for field in ["object", "kind", "from", "to", "reason", "severity"] {
            assert!(entry.get(field).is_some(), "missing {field}");
        }
        assert_eq!(entry["severity"], "warning");
        assert_eq!(value["from"], "sqlite");
        assert_eq!(value["validated"], false);
    }
}
