//! How a repository states its part of the database's schema.

/// One step of the schema: the statements a repository runs at `version` of the
/// database. Versions count from 1 across every repository; several repositories may
/// change the schema at the same version (their statements run in one transaction).
#[derive(Debug, Clone, Copy)]
pub struct SchemaChange {
    pub version: u32,
    pub sql: &'static str,
}
