//! Why an AWS entry's region or credential source could not be settled,
//! in the words of AWS's SDK for Go (and flint's own where it reads less).

use crate::refresh::SdError;

/// A region or credential source that could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A named profile the shared files do not have.
    #[error("failed to get shared config profile, {0}")]
    NoProfile(String),
    /// A named profile without keys.
    #[error("profile {0:?} has no aws_access_key_id and aws_secret_access_key (other credential sources of profiles are not supported by flint)")]
    ProfileWithoutKeys(String),
    /// No region configured, and the instance metadata service did not
    /// tell.
    #[error("could not determine AWS region: failed to get region from IMDS: {0}")]
    RegionFromImds(SdError),
    /// No region configured, and the instance metadata service gave none.
    #[error("could not determine AWS region: region not found in AWS config or IMDS")]
    RegionNotFound,
}
