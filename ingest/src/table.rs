//! The stored tables: spans, logs and metrics.

/// A stored table: a Parquet tree of its own under the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Spans,
    Logs,
    Metrics,
}

impl Table {
    pub const ALL: [Table; 3] = [Table::Spans, Table::Logs, Table::Metrics];

    /// The table's name in SQL and its folder in the data directory.
    pub fn name(self) -> &'static str {
        match self {
            Table::Spans => "spans",
            Table::Logs => "logs",
            Table::Metrics => "metrics",
        }
    }
}
