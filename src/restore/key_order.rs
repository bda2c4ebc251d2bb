//! The order rows must load in when the target's foreign keys are already in place (a
//! `--data-only` restore into PostgreSQL): a table after the tables it references, since each
//! COPY checks its rows' references when it ends.
//!
//! Two cases have no such order, and are refused before a row is written rather than failing
//! half-way: tables that reference each other in a cycle, and a self-referencing table loaded
//! in several parts (a row's parent may be in a later part). A restore of schema and data
//! together never meets them: it adds the foreign keys after the rows.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::schema::{qualified, ConstraintKind, Schema};

/// For each table of `tables` (qualified names, loaded in `parts[i]` parts): the indexes of the
/// tables it must wait for.
pub(super) fn tables_before(
    schema: &Schema,
    tables: &[&str],
    parts: &[usize],
) -> Result<Vec<Vec<usize>>> {
    // A partitioned table holds no rows: its partitions are what loads, and a foreign key
    // from or to it is one from or to each of them.
    let parent_of: HashMap<String, &str> = schema
        .tables
        .iter()
        .filter_map(|t| {
            let of = t.partition_of.as_ref()?;
            Some((qualified(&t.schema, &t.name), of.parent.as_str()))
        })
        .collect();
    let loaded_as = |name: &str| -> Vec<usize> {
        (0..tables.len())
            .filter(|&i| {
                // Up the partition tree (bounded: a damaged file could make it a loop).
                let mut current = tables[i];
                for _ in 0..=parent_of.len() {
                    if current == name {
                        return true;
                    }
                    match parent_of.get(current) {
                        Some(parent) => current = parent,
                        None => return false,
                    }
                }
                false
            })
            .collect()
    };
    let mut before = vec![Vec::new(); tables.len()];
    for table in &schema.tables {
        let name = qualified(&table.schema, &table.name);
        let referenced: Vec<usize> = table
            .constraints
            .iter()
            .filter(|c| c.kind == ConstraintKind::ForeignKey)
            .filter_map(|c| c.references.as_ref())
            .flat_map(|target| loaded_as(&target.table))
            .collect();
        for t in loaded_as(&name) {
            add_references(&mut before, tables, parts, t, &referenced)?;
        }
    }
    if let Some(cycle) = find_cycle(&before) {
        let names: Vec<&str> = cycle.iter().map(|&i| tables[i]).collect();
        return Err(Error::Refused(format!(
            "tables {} reference each other through foreign keys: a data-only restore cannot \
             load one before the other while those keys are in place — restore schema and data \
             together into an empty database (the keys are added after the rows), or drop the \
             foreign keys for the load and add them again",
            names.join(" → ")
        )));
    }
    Ok(before)
}

/// Records that table `t` loads after the tables `referenced` (itself excepted); a
/// self-reference across parts has no order.
fn add_references(
    before: &mut [Vec<usize>],
    tables: &[&str],
    parts: &[usize],
    t: usize,
    referenced: &[usize],
) -> Result<()> {
    for &r in referenced {
        if r == t && parts[t] > 1 {
            return Err(Error::Refused(format!(
                "{} references itself and its rows are stored in {} parts: a data-only restore \
                 cannot load a row's parent before it while the foreign key is in place — \
                 restore schema and data together into an empty database (the keys are added \
                 after the rows), or drop the foreign key for the load and add it again",
                tables[t], parts[t]
            )));
        }
        if r != t && !before[t].contains(&r) {
            before[t].push(r);
        }
    }
    Ok(())
}

/// A cycle of `before` (as table indexes, the first repeated at the end), if there is one.
fn find_cycle(before: &[Vec<usize>]) -> Option<Vec<usize>> {
    // Peel off the tables that wait for nothing left; what remains lies on or behind a cycle.
    let mut waiting: Vec<usize> = before.iter().map(Vec::len).collect();
    let mut done: HashSet<usize> = HashSet::new();
    let mut free: Vec<usize> = (0..before.len()).filter(|&t| waiting[t] == 0).collect();
    while let Some(t) = free.pop() {
        done.insert(t);
        for (other, needs) in before.iter().enumerate() {
            if needs.contains(&t) {
                waiting[other] -= 1;
                if waiting[other] == 0 {
                    free.push(other);
                }
            }
        }
    }
    // Every remaining table waits for another remaining one: walking those edges repeats.
    let start = (0..before.len()).find(|t| !done.contains(t))?;
    let mut path = vec![start];
    loop {
        let last = *path.last()?;
        let next = *before[last].iter().find(|t| !done.contains(t))?;
        if let Some(at) = path.iter().position(|&t| t == next) {
            let mut cycle = path.split_off(at);
            cycle.push(next);
            return Some(cycle);
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cycle_in_a_chain() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
    }

    #[test]
    fn a_cycle_is_named_from_where_it_starts() {
        // 0 waits for 1, which is on the cycle 1 → 2 → 1.
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![1]]),
            Some(vec![1, 2, 1])
        );
    }
}
