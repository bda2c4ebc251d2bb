//! A one-line summary of a plan, by object kind: `+2 tables, ~1 column, -3 indexes`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::diff::{Action, Plan};
use crate::schema::key::ObjectKey;

/// Objects added, changed and removed, per kind (`table`, `column`, `index`, …).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub added: BTreeMap<String, usize>,
    pub changed: BTreeMap<String, usize>,
    pub removed: BTreeMap<String, usize>,
}

/// The kind word of a key, as the summary prints it.
fn kind(key: &ObjectKey) -> &'static str {
    match key.owner() {
        ObjectKey::Schema { .. } => "schema",
        ObjectKey::Extension { .. } => "extension",
        ObjectKey::Collation { .. } => "collation",
        ObjectKey::Type { .. } => "type",
        ObjectKey::Sequence { .. } | ObjectKey::SequenceOwner { .. } => "sequence",
        ObjectKey::Function { .. } => "function",
        ObjectKey::Table { .. } => "table",
        ObjectKey::Column { .. } => "column",
        ObjectKey::Constraint { .. } => "constraint",
        ObjectKey::Index { .. } | ObjectKey::IndexAttachment { .. } => "index",
        ObjectKey::Trigger { .. } => "trigger",
        ObjectKey::Rule { .. } => "rule",
        ObjectKey::RowSecurity { .. } | ObjectKey::Policy { .. } => "policy",
        ObjectKey::ReplicaIdentity { .. } => "table",
        ObjectKey::View { .. } => "view",
        ObjectKey::EventTrigger { .. } => "event trigger",
        ObjectKey::Publication { .. } => "publication",
        ObjectKey::Comment { .. } | ObjectKey::Access { .. } => "comment",
    }
}

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        // One verdict per object: created only, dropped only, or changed (anything else).
        let mut verdicts: BTreeMap<&ObjectKey, (bool, bool, bool)> = BTreeMap::new();
        for step in &plan.steps {
            let entry = verdicts.entry(&step.object).or_default();
            match step.action {
                Action::Create => entry.0 = true,
                Action::Drop => entry.1 = true,
                Action::Alter | Action::Rename => entry.2 = true,
            }
        }
        let mut summary = Summary::default();
        for (key, (created, dropped, altered)) in verdicts {
            let bucket = match (created, dropped, altered) {
                (true, false, false) => &mut summary.added,
                (false, true, false) => &mut summary.removed,
                _ => &mut summary.changed,
            };
            // A comment or grant is a change of the object it belongs to.
            let bucket = if matches!(key, ObjectKey::Comment { .. } | ObjectKey::Access { .. }) {
                &mut summary.changed
            } else {
                bucket
            };
            *bucket.entry(kind(key).to_string()).or_default() += 1;
        }
        summary
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

fn plural(kind: &str, n: usize) -> String {
    if n == 1 {
        kind.to_string()
    } else if kind.ends_with('x') || kind.ends_with('s') {
        format!("{kind}es")
    } else {
        format!("{kind}s")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no differences");
        }
        let mut parts = Vec::new();
        for (sign, counts) in [
            ("+", &self.added),
            ("~", &self.changed),
            ("-", &self.removed),
        ] {
            for (kind, n) in counts {
                let word = if kind == "index" && *n != 1 {
                    "indexes".to_string()
                } else {
                    plural(kind, *n)
                };
                parts.push(format!("{sign}{n} {word}"));
            }
        }
        f.write_str(&parts.join(", "))
    }
}
