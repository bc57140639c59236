//! Why a template could not be parsed or expanded, worded as Go's
//! `text/template` and Prometheus word it. The engine's own messages (Go's)
//! are carried as text: they are only ever shown.

/// A template that does not parse, or whose expansion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not a template.
    #[error("template: {name}:1: {msg}")]
    Parse {
        /// The template's name.
        name: String,
        /// What is wrong, as Go says it.
        msg: String,
    },
    /// Expanding the template failed.
    #[error("error executing template {name}: template: {name}: executing \"{name}\" {msg}")]
    Exec {
        /// The template's name.
        name: String,
        /// What failed, as Go says it.
        msg: String,
    },
}
