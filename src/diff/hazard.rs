//! Hazards: what can go wrong when a step runs. `apply` refuses data-losing steps unless the
//! user allows their kind; every other kind is shown in the plan.

use serde::{Deserialize, Serialize};

/// The kinds of hazard, as named on the command line (`--allow-hazard data-loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HazardKind {
    /// Rows or values are destroyed (drop table/column/type, narrowing type change, enum
    /// value removed, sequence dropped).
    DataLoss,
    /// The table is rewritten (type change that is not binary-compatible); takes time and an
    /// exclusive lock proportional to its size.
    TableRewrite,
    /// Holds a lock that blocks writes (or reads) for a time proportional to the data: index
    /// built without CONCURRENTLY, constraint validated in the same step.
    LongLock,
    /// Cannot be undone by an inverse statement.
    Irreversible,
    /// May fail on existing data (SET NOT NULL, new unique index or constraint, new CHECK or
    /// foreign key, narrowing cast).
    MayFail,
    /// A drop and a create of the same shape: perhaps meant as a rename (add `renamed_from`).
    PossibleRename,
}

impl HazardKind {
    /// Kinds `apply` refuses unless explicitly allowed.
    pub fn needs_permission(self) -> bool {
        matches!(self, HazardKind::DataLoss)
    }

    pub fn name(self) -> &'static str {
        match self {
            HazardKind::DataLoss => "data-loss",
            HazardKind::TableRewrite => "table-rewrite",
            HazardKind::LongLock => "long-lock",
            HazardKind::Irreversible => "irreversible",
            HazardKind::MayFail => "may-fail",
            HazardKind::PossibleRename => "possible-rename",
        }
    }

    pub fn parse(name: &str) -> Option<HazardKind> {
        ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// Every hazard kind.
pub const ALL: [HazardKind; 6] = [
    HazardKind::DataLoss,
    HazardKind::TableRewrite,
    HazardKind::LongLock,
    HazardKind::Irreversible,
    HazardKind::MayFail,
    HazardKind::PossibleRename,
];

/// A hazard of one step, with a sentence about this particular case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hazard {
    pub kind: HazardKind,
    pub message: String,
}

impl Hazard {
    pub fn new(kind: HazardKind, message: impl Into<String>) -> Hazard {
        Hazard {
            kind,
            message: message.into(),
        }
    }
}
