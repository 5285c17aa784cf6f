//! An error and its causes on one line: how every program of the workspace
//! prints a failure, in `main` and in an `error:` log detail.

/// `error` and its causes, outermost first, joined by `: ` (how `main` and
/// the logs print an error).
///
/// ```
/// use std::fmt;
///
/// /// An error with a cause, as a `thiserror` enum with `#[source]` has.
/// #[derive(Debug)]
/// struct CannotInstall(std::io::Error);
///
/// impl fmt::Display for CannotInstall {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("cannot install the SIGTERM/SIGINT handlers")
///     }
/// }
///
/// impl std::error::Error for CannotInstall {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let error = CannotInstall(std::io::Error::other("disk full"));
/// assert_eq!(
///     lottery_log::chain(&error),
///     "cannot install the SIGTERM/SIGINT handlers: disk full"
/// );
/// ```
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
