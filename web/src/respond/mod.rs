//! How the server answers, shared by the receivers, the API, the pages and the access
//! checks: [`api_error`] (the JSON error every API route answers with), [`page_error`] (the
//! same failure as an HTML page) and [`templates`] (the minijinja templates pages render).
//! It depends on nothing else of the server, so every other room may use it.

pub mod api_error;
pub mod page_error;
pub mod templates;
