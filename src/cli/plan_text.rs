//! How a plan reads on a terminal: valid SQL, with each step's number, reason and hazards as
//! comments, so the output can be reviewed, saved and run by hand.

use crate::apply::PrecheckResult;
use crate::diff::summary::Summary;
use crate::diff::{Phase, Plan};

pub fn render(plan: &Plan, prechecks: &[PrecheckResult]) -> String {
    if plan.is_empty() {
        return "-- No changes: the database already matches.\n".to_string();
    }
    let hazardous = plan.steps.iter().filter(|s| !s.hazards.is_empty()).count();
    let kinds: Vec<&str> = plan.hazard_kinds().iter().map(|k| k.name()).collect();
    let mut out = format!(
        "-- Plan: {} step(s): {}\n",
        plan.steps.len(),
        Summary::of(plan)
    );
    if hazardous > 0 {
        out.push_str(&format!(
            "-- {hazardous} step(s) with hazards: {}\n",
            kinds.join(", ")
        ));
    }
    let outside = plan
        .steps
        .iter()
        .filter(|s| s.run != Phase::InTransaction)
        .count();
    if outside > 0 {
        out.push_str(&format!(
            "-- {outside} step(s) cannot run inside the transaction and run on their own\n"
        ));
    }
    for (i, step) in plan.steps.iter().enumerate() {
        let number = i + 1;
        let mut tags: Vec<&str> = step.hazards.iter().map(|h| h.kind.name()).collect();
        tags.dedup();
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", tags.join(", "))
        };
        out.push_str(&format!("\n-- {number}. {}{tags}\n", step.reason));
        match step.run {
            Phase::BeforeTransaction => {
                out.push_str("--    runs outside the transaction, before it\n")
            }
            Phase::AfterTransaction => {
                out.push_str("--    runs outside the transaction, after it commits\n")
            }
            Phase::InTransaction => {}
        }
        for hazard in &step.hazards {
            out.push_str(&format!(
                "--    {}: {}\n",
                hazard.kind.name(),
                hazard.message
            ));
        }
        if let Some(check) = prechecks.iter().find(|c| c.step == number) {
            let verdict = match (check.violations, &check.error) {
                (Some(0), _) => "pre-check: no existing row would make this step fail".to_string(),
                (Some(n), _) => format!("pre-check: {n} existing row(s) would make this step fail"),
                (None, error) => format!(
                    "pre-check could not run on the database as it is (it names what an earlier \
                     step creates or renames): {}",
                    error.as_deref().unwrap_or("unknown error")
                ),
            };
            out.push_str(&format!("--    {verdict}\n"));
        }
        out.push_str(step.sql.trim_end());
        out.push('\n');
    }
    out
}
