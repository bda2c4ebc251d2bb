//! The rollback workflow: undo a recorded apply.
//!
//! find the apply's record (the latest for the target, or the one a plan id names) → measure
//! the database as it is now and compare with what the apply left (schema hash, fingerprints
//! of the rows of the tables whose rows the apply destroyed or rewrote) → plan from the
//! database to the recorded pre-apply schema → add, after each such table is back in shape,
//! the steps that put its rows back from the pre-apply backup → run it all in one transaction
//! (through `crate::apply::execute`, verified against the pre-apply schema before commit).
//!
//! The rows are first loaded from the backup into staging tables (outside the transaction:
//! nothing of the user's is touched yet); the transaction copies them into place and drops the
//! staging tables, so a failure anywhere leaves the database as it was
//! (`crate::engine::staging`).
//!
//! PostgreSQL adds a column back at the end of its table. When that would leave a table's
//! columns in another order than before the apply, the plan drops the table and creates it
//! again (`diff::plan_recreating`, which also drops and recreates what depends on it), its
//! current rows kept aside in a keep table inside the transaction and put back with the
//! backup's.

use crate::apply;
use crate::diff::{self, Action, Phase, Plan, PlanOptions, Step};
use crate::engine::{self, staging, DataTable, ExecuteOptions, SequenceState};
use crate::error::{Error, Result};
use crate::pre_apply::{self, DatabaseState};
use crate::repo::{ApplyRecord, Backup, RecordId, Repository, TableEntry};
use crate::schema::key::ObjectKey;
use crate::schema::{qualified, Column, EngineKind, Schema, Table};
use crate::target::Target;

/// What a rollback will do, and what it would lose.
pub struct Prepared {
    pub record_id: RecordId,
    pub record: ApplyRecord,
    pub backup: Backup,
    /// The database's schema now.
    pub current: Schema,
    /// The schema steps back to the pre-apply schema, with the steps restoring rows.
    pub plan: Plan,
    /// Tables whose rows come back from the backup.
    pub restored: Vec<String>,
    /// How the database changed since the apply, one sentence each; empty when it did not.
    pub changes: Vec<String>,
    staged: Vec<Staged>,
}

/// A table whose rows are restored through a staging table.
struct Staged {
    table: String,
    /// The staging table: schema and name.
    schema: String,
    name: String,
    /// The stream's columns.
    columns: Vec<String>,
}

/// A PostgreSQL table the rollback drops and creates again to give it its pre-apply column
/// order.
struct Rebuilt {
    table: String,
    /// The keep table holding its rows meanwhile: schema and name.
    schema: String,
    keep: String,
    /// Its current columns that the pre-apply table has too (generated ones excluded).
    columns: Vec<String>,
}

/// Finds the apply to undo (`id`: a plan id or record id prefix; default the latest apply to
/// `target`), measures the database and builds the rollback plan.
pub fn prepare(repo: &Repository, target: &Target, id: Option<&str>) -> Result<Prepared> {
    let (record_id, record) = pre_apply::find_record(repo, target, id)?;
    let backup = repo.load_backup_id(&record.backup).map_err(|e| {
        Error::Refused(format!(
            "the pre-apply backup {} of plan {} cannot be read ({e}) — it may have been \
             pruned; nothing was changed",
            record.backup.short(),
            record.plan_id
        ))
    })?;
    let names: Vec<String> = record.tables.iter().map(|t| t.name.clone()).collect();
    let state = pre_apply::database_state(target, &names)?;
    let changes = changes_since(&record, &state);
    let dialect = engine::dialect(state.schema.engine)?;
    let rebuilt = reordered_tables(&state.schema, &record.before);
    let mut plan = diff::plan_recreating(
        &state.schema,
        &record.before,
        dialect,
        &PlanOptions::default(),
        &rebuilt.iter().map(|r| r.table.clone()).collect(),
    )?;
    let staged = staged_tables(&record, &backup)?;
    keep_rows_aside(&mut plan, &rebuilt, &record.before, dialect)?;
    add_row_steps(
        &mut plan,
        &staged,
        &rebuilt,
        &record.before,
        dialect,
        &backup,
    )?;
    Ok(Prepared {
        record_id,
        restored: staged.iter().map(|s| s.table.clone()).collect(),
        record,
        backup,
        current: state.schema,
        plan,
        changes,
        staged,
    })
}

/// Refuses, explaining, when the database changed since the apply in ways the rollback would
/// lose, unless `force`.
pub fn check_unchanged(prepared: &Prepared, force: bool) -> Result<()> {
    if prepared.changes.is_empty() || force {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{} changed since plan {} was applied: {} — rolling back would lose or overwrite \
         that; nothing was changed (rerun with --force to roll back anyway)",
        prepared.record.target,
        prepared.record.plan_id,
        prepared.changes.join("; ")
    )))
}

/// Runs the rollback: stages the backup's rows, then one transaction puts schema and rows
/// back, verified against the pre-apply schema; sequences the plan created get their
/// pre-apply positions after it commits.
pub fn execute(
    repo: &Repository,
    target: &Target,
    prepared: Prepared,
    options: &ExecuteOptions,
) -> Result<()> {
    let database: Box<dyn engine::Engine> = match target {
        Target::Sqlite(path) => Box::new(engine::sqlite::Sqlite::open_for_restore(path)?),
        Target::Postgres(_) => engine::open(target)?,
    };
    let dialect = database.dialect()?;
    let mut loader = database.loader()?;
    let drops: Vec<String> = prepared
        .staged
        .iter()
        .map(|s| staging::drop_staging(dialect, &s.schema, &s.name))
        .collect();
    let run = || -> Result<()> {
        stage_rows(repo, &prepared, loader.as_mut(), dialect)?;
        let mut applying = apply::Prepared {
            engine: database,
            current: prepared.current.clone(),
            plan: prepared.plan.clone(),
            conversion: None,
        };
        apply::execute(&mut applying, &prepared.record.before, options)
    };
    if let Err(e) = run() {
        // The staging tables are Strata's own; a failed rollback must not leave them behind.
        let _ = loader.run_script(&drops);
        return Err(e);
    }
    let sequences = created_sequences(&prepared);
    loader.set_sequences(&sequences)?;
    if matches!(target, Target::Postgres(_)) && !sequences.is_empty() {
        // Rows kept with --force may hold values past the pre-apply position.
        loader.run_script(&[past_kept_rows(&sequences)])?;
    }
    Ok(())
}

/// SQL moving each sequence past the largest value of the column that owns it (serial or
/// identity), so that rows written after the apply and kept by the rollback never collide with
/// the next value drawn.
fn past_kept_rows(sequences: &[SequenceState]) -> String {
    let names: Vec<String> = sequences
        .iter()
        .map(|s| format!("'{}'", s.name.replace('\'', "''")))
        .collect();
    format!(
        "DO $strata$ DECLARE r record; top bigint; BEGIN \
         FOR r IN SELECT d.objid AS seq, d.refobjid::regclass AS tbl, a.attname \
           FROM pg_catalog.pg_depend d \
           JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind = 'S' \
           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
           WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0 \
             AND d.deptype IN ('a', 'i') AND n.nspname || '.' || c.relname = ANY (ARRAY[{}]) \
         LOOP \
           EXECUTE format('SELECT max(%I)::bigint FROM %s', r.attname, r.tbl) INTO top; \
           IF top IS NOT NULL AND top > coalesce(pg_catalog.pg_sequence_last_value(r.seq::regclass), top - 1) THEN \
             PERFORM pg_catalog.setval(r.seq::regclass, top, true); \
           END IF; \
         END LOOP; END $strata$",
        names.join(", ")
    )
}

/// Loads each restored table's rows from the backup into its staging table.
fn stage_rows(
    repo: &Repository,
    prepared: &Prepared,
    loader: &mut dyn engine::Loader,
    dialect: &dyn engine::Dialect,
) -> Result<()> {
    for staged in &prepared.staged {
        let table = before_table(&prepared.record.before, &staged.table)?;
        let columns = stream_columns(table, &staged.columns)?;
        loader.run_script(&staging::create_staging(
            dialect,
            &staged.schema,
            &staged.name,
            &columns,
        ))?;
        let entry = backup_entry(&prepared.backup, &staged.table)?;
        let mut rows = repo.read_stream(&prepared.backup, entry)?;
        let data = DataTable {
            name: qualified(&staged.schema, &staged.name),
            columns: staged.columns.clone(),
            size_bytes: 0,
        };
        loader.copy_in(&data, &mut rows)?;
    }
    Ok(())
}

/// How the database differs from what the apply left.
fn changes_since(record: &ApplyRecord, now: &DatabaseState) -> Vec<String> {
    let mut changes = Vec::new();
    if diff::schema_hash(&now.schema) != record.after_hash {
        changes.push(
            "its schema changed after the apply (the schema hash is not the one recorded \
             right after it)"
                .to_string(),
        );
    }
    for (then, now) in record.tables.iter().zip(&now.tables) {
        match (then.dropped, now.dropped) {
            (true, false) => changes.push(format!(
                "table {} was dropped by the apply and exists again ({} rows)",
                now.name, now.rows
            )),
            (false, true) => {
                changes.push(format!("table {} was dropped after the apply", now.name))
            }
            (false, false) if then.fingerprint != now.fingerprint => changes.push(format!(
                "rows of {} were written after the apply ({} rows then, {} now, contents \
                 differ)",
                now.name, then.rows, now.rows
            )),
            _ => {}
        }
    }
    changes
}

/// The restored tables, each with a staging table in its schema.
fn staged_tables(record: &ApplyRecord, backup: &Backup) -> Result<Vec<Staged>> {
    record
        .tables
        .iter()
        .enumerate()
        .map(|(i, state)| {
            let table = before_table(&record.before, &state.name)?;
            let entry = backup_entry(backup, &state.name)?;
            let columns = if entry.columns.is_empty() {
                table
                    .columns
                    .iter()
                    .filter(|c| c.generated.is_none())
                    .map(|c| c.name.clone())
                    .collect()
            } else {
                entry.columns.clone()
            };
            Ok(Staged {
                table: state.name.clone(),
                schema: table.schema.clone(),
                name: format!("strata_rollback_{i}"),
                columns,
            })
        })
        .collect()
}

/// The PostgreSQL tables that planning from `current` to `before` would leave with their
/// columns in another order (a column comes back at the end). Tables in an inheritance or
/// partition hierarchy are left as they are: recreating one would take its relatives along.
fn reordered_tables(current: &Schema, before: &Schema) -> Vec<Rebuilt> {
    if before.engine != EngineKind::Postgres {
        return Vec::new();
    }
    let related: Vec<&str> = before
        .tables
        .iter()
        .flat_map(|t| {
            let parent = t.partition_of.as_ref().map(|p| p.parent.as_str());
            t.inherits.iter().map(String::as_str).chain(parent)
        })
        .collect();
    let standalone = |t: &&Table| {
        t.partition_by.is_none()
            && t.partition_of.is_none()
            && t.inherits.is_empty()
            && !related.contains(&qualified(&t.schema, &t.name).as_str())
    };
    before
        .tables
        .iter()
        .filter(standalone)
        .filter_map(|b| {
            let now = current
                .tables
                .iter()
                .find(|t| t.schema == b.schema && t.name == b.name)?;
            let wanted: Vec<&str> = b.columns.iter().map(|c| c.name.as_str()).collect();
            let has_now = |name: &str| now.columns.iter().any(|c| c.name == name);
            let mut after: Vec<&str> = now
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| wanted.contains(n))
                .collect();
            after.extend(wanted.iter().filter(|n| !has_now(n)));
            if after == wanted {
                return None;
            }
            let columns = b
                .columns
                .iter()
                .filter(|c| c.generated.is_none() && has_now(&c.name))
                .map(|c| c.name.clone())
                .collect();
            Some((b, columns))
        })
        .enumerate()
        .map(|(i, (b, columns))| Rebuilt {
            table: qualified(&b.schema, &b.name),
            schema: b.schema.clone(),
            keep: format!("strata_rollback_keep_{i}"),
            columns,
        })
        .collect()
}

/// Puts, right before the step dropping each rebuilt table, the step copying its rows into
/// its keep table; the drop loses no rows then, so its data-loss hazard is lifted.
fn keep_rows_aside(
    plan: &mut Plan,
    rebuilt: &[Rebuilt],
    before: &Schema,
    dialect: &dyn engine::Dialect,
) -> Result<()> {
    for r in rebuilt {
        let table = before_table(before, &r.table)?;
        let columns = stream_columns(table, &r.columns)?;
        let dropping = |s: &Step| {
            s.action == Action::Drop
                && matches!(&s.object, ObjectKey::Table { name } if name == &r.table)
        };
        let Some(at) = plan.steps.iter().position(dropping) else {
            return Err(Error::Unsupported(format!(
                "the rollback plan does not recreate {} to give it its pre-apply column order \
                 — nothing was changed",
                r.table
            )));
        };
        let drop = &mut plan.steps[at];
        drop.hazards.clear();
        drop.reason = format!(
            "drop {} to create it again with its pre-apply column order (its rows are kept \
             and put back)",
            r.table
        );
        let keep = Step::new(
            ObjectKey::Table {
                name: qualified(&r.schema, &r.keep),
            },
            Action::Create,
            format!("keep the rows of {} while it is recreated", r.table),
            staging::keep_rows(dialect, table, (&r.schema, &r.keep), &columns),
        );
        plan.steps.insert(at, keep);
    }
    Ok(())
}

/// Adds to `plan`, for each staged or rebuilt table, the steps putting its rows in place —
/// right after the last step that creates or alters the table itself, so the table has its
/// pre-apply columns and nothing created later (foreign keys from other tables, triggers of
/// a recreated table) sees it empty — and finally the steps dropping the staging and keep
/// tables.
fn add_row_steps(
    plan: &mut Plan,
    staged: &[Staged],
    rebuilt: &[Rebuilt],
    before: &Schema,
    dialect: &dyn engine::Dialect,
    backup: &Backup,
) -> Result<()> {
    // Per table: its name, the statements and the reason.
    let mut restoring: Vec<(&str, Vec<String>, String)> = Vec::new();
    let kept = |r: &Rebuilt, only_missing: bool| -> Result<Option<String>> {
        let table = before_table(before, &r.table)?;
        let columns = stream_columns(table, &r.columns)?;
        Ok(staging::restore_kept(
            dialect,
            table,
            (&r.schema, &r.keep),
            &columns,
            only_missing,
        ))
    };
    for s in staged {
        let table = before_table(before, &s.table)?;
        let columns = stream_columns(table, &s.columns)?;
        let mut sql = staging::restore_rows(dialect, table, (&s.schema, &s.name), &columns);
        if let Some(r) = rebuilt.iter().find(|r| r.table == s.table) {
            sql.extend(kept(r, true)?);
        }
        let reason = format!(
            "restore the rows of {} from pre-apply backup {}",
            s.table,
            backup.id.short()
        );
        restoring.push((&s.table, sql, reason));
    }
    for r in rebuilt {
        if !staged.iter().any(|s| s.table == r.table) {
            let reason = format!(
                "put back the rows of {} kept while it was recreated",
                r.table
            );
            restoring.push((&r.table, kept(r, false)?.into_iter().collect(), reason));
        }
    }
    for (table, sql, reason) in restoring {
        let key = ObjectKey::Table {
            name: table.to_string(),
        };
        let step = Step::new(key, Action::Alter, reason, sql.join("\n"));
        let shapes_table = |step: &Step| {
            step.run == Phase::InTransaction
                && matches!(&step.object, ObjectKey::Table { name } | ObjectKey::Column { table: name, .. } if name == table)
        };
        let at = match plan.steps.iter().rposition(shapes_table) {
            Some(i) => i + 1,
            None => in_transaction_end(plan),
        };
        plan.steps.insert(at, step);
    }
    let scratch = staged
        .iter()
        .map(|s| (&s.schema, &s.name, "staging"))
        .chain(rebuilt.iter().map(|r| (&r.schema, &r.keep, "keep")));
    for (schema, name, kind) in scratch {
        let qualified_name = qualified(schema, name);
        let step = Step::new(
            ObjectKey::Table {
                name: qualified_name.clone(),
            },
            Action::Drop,
            format!("drop {kind} table {qualified_name}"),
            staging::drop_staging(dialect, schema, name),
        );
        let at = in_transaction_end(plan);
        plan.steps.insert(at, step);
    }
    Ok(())
}

/// The position after the last step that runs inside the transaction.
fn in_transaction_end(plan: &Plan) -> usize {
    plan.steps
        .iter()
        .rposition(|s| s.run != Phase::AfterTransaction)
        .map_or(0, |i| i + 1)
}

/// Sequences the rollback plan created (standalone, identity, SQLite AUTOINCREMENT counters of
/// recreated tables), at their pre-apply positions.
fn created_sequences(prepared: &Prepared) -> Vec<SequenceState> {
    let created = |wanted: &str| {
        prepared.plan.steps.iter().any(|s| {
            s.action == Action::Create
                && matches!(&s.object, ObjectKey::Sequence { name } | ObjectKey::Table { name } if name == wanted)
        })
    };
    let mut names: Vec<String> = Vec::new();
    for table in &prepared.record.before.tables {
        let table_name = qualified(&table.schema, &table.name);
        if !created(&table_name) {
            continue;
        }
        names.push(table_name);
        names.extend(
            table
                .columns
                .iter()
                .filter_map(|c| c.identity.as_ref()?.sequence.clone()),
        );
    }
    prepared
        .backup
        .manifest
        .all_sequences()
        .filter(|s| created(&s.name) || names.contains(&s.name))
        .map(|s| SequenceState {
            name: s.name.clone(),
            last_value: s.last_value,
            is_called: s.is_called,
        })
        .collect()
}

fn before_table<'a>(before: &'a Schema, name: &str) -> Result<&'a Table> {
    before
        .tables
        .iter()
        .find(|t| qualified(&t.schema, &t.name) == name)
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "the apply record names table {name}, which its pre-apply schema does not have \
                 — the record is inconsistent"
            ))
        })
}

fn backup_entry<'a>(backup: &'a Backup, name: &str) -> Result<&'a TableEntry> {
    backup
        .manifest
        .tables
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| {
            Error::Refused(format!(
                "pre-apply backup {} holds no rows of {name}; nothing was changed",
                backup.id.short()
            ))
        })
}

/// The columns of `table` a stream with `names` carries, in stream order.
fn stream_columns<'a>(table: &'a Table, names: &[String]) -> Result<Vec<&'a Column>> {
    names
        .iter()
        .map(|n| {
            table.columns.iter().find(|c| &c.name == n).ok_or_else(|| {
                Error::Unsupported(format!(
                    "the pre-apply backup of {} has column {n}, which the pre-apply schema \
                     does not — the record is inconsistent",
                    table.name
                ))
            })
        })
        .collect()
}
