//! Why a configuration, or a value in it, is refused; printed as
//! Prometheus prints it.

use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file (the configuration, or one of its `scrape_config_files`)
    /// could not be read.
    #[error("open {}: {}", path.display(), io_msg(err))]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// A file that does not decode: the message names its line and key.
    #[error("parsing YAML file {file}: {msg}")]
    Yaml {
        /// The file's name.
        file: String,
        /// The decoder's message, located in the file.
        msg: String,
    },
    /// A configuration that decodes but that a check refuses.
    #[error("parsing YAML file {file}: {}", located(*.line, .err))]
    Check {
        /// The file's name.
        file: String,
        /// The line of the unknown key the check names, when it found it.
        line: Option<usize>,
        /// What the check refused.
        err: CheckError,
    },
    /// A section agent mode has no use for.
    #[error("field {field} is not allowed in agent mode")]
    NotInAgentMode {
        /// The section's key.
        field: &'static str,
    },
}

/// `line N: ` before a check's message; a section named before an unknown
/// key (`alerting: field ...`) gives way to the line, as in every other
/// section's message.
fn located(line: Option<usize>, err: &CheckError) -> String {
    let Some(n) = line else {
        return err.to_string();
    };
    let shown = match err {
        CheckError::Section { section, err }
            if !section.contains(' ') && matches!(**err, CheckError::UnknownField { .. }) =>
        {
            &**err
        }
        _ => err,
    };
    format!("line {n}: {shown}")
}

/// An I/O error as Go words the common ones.
pub fn io_msg(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// What a check of a decoded configuration refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A key the section's type does not have.
    #[error("field {key} not found in type {ty}")]
    UnknownField {
        /// The key.
        key: String,
        /// Prometheus's name of the section's type (`config.plain`).
        ty: &'static str,
    },
    /// A key of a scrape config that Prometheus does not know either.
    #[error("{}field {key} not found in type config.ScrapeConfig (job {job:?})", at(*.line))]
    ScrapeConfigField {
        /// The key's line, when found.
        line: Option<usize>,
        /// The key.
        key: String,
        /// The job's name.
        job: String,
    },
    /// A key of a scrape config that Prometheus knows and flint does not
    /// implement yet.
    #[error("{}{key} (job {job:?}) is not supported yet by this version of flint", at(*.line))]
    ScrapeConfigUnsupported {
        /// The key's line, when found.
        line: Option<usize>,
        /// The key.
        key: String,
        /// The job's name.
        job: String,
    },
    /// A section or key flint does not implement yet (`storage.tsdb.x`,
    /// `tracing`).
    #[error("{key}: not supported yet by this version of flint")]
    NotSupported {
        /// The key, with the sections it is in.
        key: String,
    },
    /// A key of a section flint does not implement yet.
    #[error("{key} is not supported yet by this version of flint")]
    KeyNotSupported {
        /// The key.
        key: String,
    },
    /// A label name that is not valid.
    #[error("{name:?} is not a valid label name")]
    LabelName {
        /// The name.
        name: String,
    },
    /// A URL that does not parse.
    #[error("invalid {what} {url:?}: {err}")]
    Url {
        /// Which URL (`remote_write url`, `proxy_url`).
        what: &'static str,
        /// The text.
        url: String,
        /// Why.
        err: url::ParseError,
    },
    /// A TLS version flint does not know or offer.
    #[error(transparent)]
    TlsVersion(#[from] TlsVersionError),
    /// A scrape protocol Prometheus does not know.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A Docker host or Swarm role that is not valid.
    #[error(transparent)]
    Docker(#[from] DockerConfigError),
    /// A Kubernetes label or field selector that is not valid.
    #[error(transparent)]
    Selector(#[from] SelectorError),
    /// A problem of a scrape job's HTTP settings or protocols: `job "k": ...`.
    #[error("job {job:?}: {err}")]
    Job {
        /// The job's name.
        job: String,
        /// The problem.
        err: Box<CheckError>,
    },
    /// A problem of a section of a scrape job (`dns_sd_configs`,
    /// `relabel_configs`): `dns_sd_configs of job "k": ...`.
    #[error("{section} of job {job:?}: {err}")]
    JobSection {
        /// The section's key.
        section: &'static str,
        /// The job's name.
        job: String,
        /// The problem.
        err: Box<CheckError>,
    },
    /// A problem of a static target of a job: `... (job "k")`.
    #[error("{err} (job {job:?})")]
    Target {
        /// The job's name.
        job: String,
        /// The problem.
        err: Box<CheckError>,
    },
    /// A problem inside a section: `external_labels: ...`, `alerting: ...`.
    #[error("{section}: {err}")]
    Section {
        /// The section's key.
        section: &'static str,
        /// The problem.
        err: Box<CheckError>,
    },
    /// A relabeling rule Prometheus refuses.
    #[error(transparent)]
    Relabel(#[from] relabel::ValidateError),
    /// One of Prometheus's other messages, each built where it is checked.
    #[error("{0}")]
    Other(String),
}

fn at(line: Option<usize>) -> String {
    line.map(|n| format!("line {n}: ")).unwrap_or_default()
}

impl CheckError {
    /// `err` inside section `section`.
    pub fn in_section(section: &'static str, err: CheckError) -> CheckError {
        CheckError::Section {
            section,
            err: Box::new(err),
        }
    }

    /// `err` of section `section` of scrape job `job`.
    pub fn in_job_section(section: &'static str, job: &str, err: CheckError) -> CheckError {
        CheckError::JobSection {
            section,
            job: job.to_string(),
            err: Box::new(err),
        }
    }

    /// The key of the unknown key this names, whose line is not known
    /// yet, in whatever section.
    pub fn unknown_key(&self) -> Option<&str> {
        match self {
            CheckError::UnknownField { key, .. } => Some(key),
            CheckError::ScrapeConfigField {
                line: None, key, ..
            } => Some(key),
            CheckError::Job { err, .. }
            | CheckError::JobSection { err, .. }
            | CheckError::Target { err, .. }
            | CheckError::Section { err, .. } => err.unknown_key(),
            _ => None,
        }
    }
}

impl From<String> for CheckError {
    fn from(msg: String) -> CheckError {
        CheckError::Other(msg)
    }
}

impl From<&str> for CheckError {
    fn from(msg: &str) -> CheckError {
        CheckError::Other(msg.to_string())
    }
}

/// A `min_version` or `max_version` flint does not know or offer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsVersionError {
    /// A version Prometheus knows that flint's TLS stack does not offer.
    #[error("TLS version {0} is not supported by flint (its TLS stack offers TLS12 and TLS13)")]
    NotOffered(String),
    /// A name Prometheus does not know.
    #[error("unknown TLS version: {0}")]
    Unknown(String),
}

/// A scrape protocol Prometheus does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scrape protocol {0}, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]")]
pub struct ProtocolError(pub String);

/// A duration not in Prometheus's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The empty string.
    #[error("empty duration string")]
    Empty,
    /// Not a duration.
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    /// More milliseconds than 64 bits hold.
    #[error("duration out of range")]
    OutOfRange,
}

/// A byte size not in Prometheus's units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ByteSizeError {
    /// Not a byte size.
    #[error("invalid byte size {0:?}")]
    Invalid(String),
    /// More bytes than 64 bits hold.
    #[error("byte size {0:?} out of range")]
    OutOfRange(String),
}

/// A Docker or Docker Swarm entry's host or role as Prometheus refuses it
/// when loading the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerConfigError {
    /// No host.
    #[error("host missing")]
    HostMissing,
    /// A host that is not a URL.
    #[error("parse {0:?}: invalid character in URL")]
    HostCharacter(String),
    /// No Swarm role.
    #[error("role missing (one of: tasks, services, nodes)")]
    RoleMissing,
    /// A Swarm role that is none of Docker's.
    #[error("invalid role {0}, expected tasks, services, or nodes")]
    Role(String),
}

/// A selector that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector, and what is wrong in it.
    #[error("invalid label selector {selector:?}: {why}")]
    Label {
        /// The selector.
        selector: String,
        /// What is wrong.
        why: String,
    },
    /// A field selector, and its requirement that is not `field=value`.
    #[error("invalid field selector {selector:?}: {requirement:?} is not field=value")]
    Field {
        /// The selector.
        selector: String,
        /// The requirement.
        requirement: String,
    },
}
