//! The web UI: server-rendered pages, one file each — [`runs`] (the run list), [`trace`]
//! (a trace's tree and one span, through [`trace_view`] and [`span_view`]), [`session`],
//! [`dashboards`], [`usage`], [`sql`], [`evals`], [`add_to_dataset`] — with the
//! [`charts`] they draw and the static [`assets`]. They render the templates of
//! `crate::respond::templates`.

pub mod add_to_dataset;
pub mod assets;
pub mod charts;
pub mod dashboards;
pub mod evals;
pub mod governance;
pub mod runs;
pub mod session;
pub mod span_view;
pub mod sql;
pub mod touched;
pub mod trace;
pub mod trace_view;
pub mod usage;
