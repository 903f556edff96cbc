//! Refuses a plan that would copy a big constant into each row of its batches.
//!
//! A constant is one value in the plan, but an operator that projects it over its input
//! copies it into every row of each batch (up to `batch_size`, 8192 rows). While planning,
//! DataFusion computes calls on constants, so `SELECT repeat('x', 1000000) FROM
//! generate_series(1, 100000)` runs as a 1 MB constant, 8 GB for each batch of rows: no
//! function is called then, and the memory pool does not see it. The optimized plan is
//! checked before it runs: each constant, times the rows a batch of its operator's input can
//! hold, must fit the limit. A constant over one row (`SELECT repeat('x', 1000000)`) is fine.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::bounded_functions::human_bytes;
use crate::error::{LimitExceeded, Result};

/// Fails with `QueryError::LimitExceeded` when a constant of `plan`, copied into each row of
/// a batch (at most `batch_rows`), would take more than `max_bytes`.
pub fn check_constant_copies(
    plan: &LogicalPlan,
    batch_rows: usize,
    max_bytes: usize,
) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        let rows = input_rows_per_batch(node, batch_rows);
        node.apply_expressions(|expression| {
            expression.apply(|expression| {
                let Expr::Literal(value, _) = expression else {
                    return Ok(TreeNodeRecursion::Continue);
                };
                let copies = value.size() as u128 * rows as u128;
                if copies <= max_bytes as u128 {
                    return Ok(TreeNodeRecursion::Continue);
                }
                Err(DataFusionError::External(Box::new(LimitExceeded(format!(
                    "a constant of {} in the query would be copied into each of up to {rows} rows at once ({}), more than the {} one value may take; make it smaller, or compute it per row",
                    human_bytes(value.size() as u128),
                    human_bytes(copies),
                    human_bytes(max_bytes as u128),
                )))))
            })
        })
    })?;
    Ok(())
}

/// Rows a batch reaching `node` can hold: its inputs' largest, `batch_rows` for a node
/// reading a table. A `VALUES` list holds each constant once.
fn input_rows_per_batch(node: &LogicalPlan, batch_rows: usize) -> usize {
    if let LogicalPlan::Values(_) = node {
        return 1;
    }
    let inputs = node.inputs();
    if inputs.is_empty() {
        return batch_rows;
    }
    inputs
        .into_iter()
        .map(|input| output_rows_per_batch(input, batch_rows))
        .max()
        .unwrap_or(batch_rows)
}

/// Rows a batch `node` produces can hold: known for one-row and `VALUES` inputs and for
/// aggregates without groups, kept by the operators that do not add rows, else `batch_rows`.
fn output_rows_per_batch(node: &LogicalPlan, batch_rows: usize) -> usize {
    match node {
        LogicalPlan::EmptyRelation(empty) => usize::from(empty.produce_one_row),
        LogicalPlan::Values(values) => values.values.len().min(batch_rows),
        LogicalPlan::Aggregate(aggregate) if aggregate.group_expr.is_empty() => 1,
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Window(_)
        | LogicalPlan::Distinct(_)
        | LogicalPlan::Repartition(_) => input_rows_per_batch(node, batch_rows),
        _ => batch_rows,
    }
}
