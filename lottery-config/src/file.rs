//! The `--config` TOML file: read, checked, a problem said on one line, and
//! the old snake_case keys found.

use std::collections::BTreeMap;
use std::path::Path;

use clap::CommandFactory;
use serde::de::{DeserializeOwned, IgnoredAny};
use toml::Spanned;

use crate::error::ConfigError;
use crate::warning::ConfigWarning;

/// Reads the settings of the TOML file at `path` into `T` (a program's
/// settings: its clap flags, which name the file's keys, and its serde
/// fields, kebab-case with `deny_unknown_fields`), and the old keys it used.
///
/// A key written in snake_case (`batch_max_amount`, as the agency's files
/// were) for a setting whose flag is kebab-case (`--batch-max-amount`) is an
/// old key: it is read as the new one, and returned as a
/// [`ConfigWarning::OldKey`] naming the new key, for the program to log.
/// Any other key `T` does not know is refused.
///
/// # Errors
/// [`ConfigError::ReadFile`], or [`ConfigError::ParseFile`] naming the line
/// (as written) and the problem: not TOML, an unknown key, a mistyped value.
pub fn read_file<T: DeserializeOwned + CommandFactory>(
    path: &Path,
) -> Result<(T, Vec<ConfigWarning>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    let command = T::command();
    let flags: Vec<&str> = command
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .collect();
    // The top-level keys where they are written. A file that is no TOML
    // table is left to `T`'s parse below, which says what is wrong.
    let keys: BTreeMap<Spanned<String>, IgnoredAny> = toml::from_str(&text).unwrap_or_default();
    let mut renamed = text.clone().into_bytes();
    let mut warnings = Vec::new();
    for key in keys.keys() {
        let new = key.get_ref().replace('_', "-");
        if new == *key.get_ref() || !flags.contains(&new.as_str()) {
            continue;
        }
        // `-` for `_` has the same length: every other byte, and so every
        // line and position a later error names, stays where it is.
        for byte in &mut renamed[key.span()] {
            if *byte == b'_' {
                *byte = b'-';
            }
        }
        warnings.push(ConfigWarning::OldKey {
            file: path.to_owned(),
            old: key.get_ref().clone(),
            new,
        });
    }
    let renamed = String::from_utf8(renamed).expect("ASCII bytes replaced by ASCII bytes");
    let settings: T = toml::from_str(&renamed).map_err(|error| ConfigError::ParseFile {
        path: path.to_owned(),
        problem: file_problem(&text, &error),
    })?;
    Ok((settings, warnings))
}

/// What is wrong with a config file, on one line: the line it is on (as
/// written) and toml's message, which names an unknown key; for a mistyped
/// value, the line written names its key.
fn file_problem(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    let Some(start) = error.span().map(|span| span.start) else {
        return message;
    };
    let line = text
        .get(..start)
        .map_or(1, |before| before.matches('\n').count() + 1);
    let written = text.lines().nth(line - 1).unwrap_or("").trim();
    format!("line {line} ({written}): {message}")
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use clap::Parser;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Parser, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Settings {
        #[arg(long)]
        id: Option<u32>,
        #[arg(long)]
        in_flight: Option<u32>,
        #[arg(long)]
        max_frame: Option<u32>,
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn kebab_case_keys_are_read_without_a_warning() {
        let file = file("id = 2\nin-flight = 3\nmax-frame = 9000\n");
        let (settings, warnings) = read_file::<Settings>(file.path()).unwrap();
        assert_eq!(
            (settings.id, settings.in_flight, settings.max_frame),
            (Some(2), Some(3), Some(9000))
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn an_old_key_is_read_and_named_with_its_new_key() {
        let file = file("in_flight = 3\n");
        let (settings, warnings) = read_file::<Settings>(file.path()).unwrap();
        assert_eq!(settings.in_flight, Some(3));
        let [ConfigWarning::OldKey { old, new, .. }] = &warnings[..] else {
            panic!("one old key: {warnings:?}");
        };
        assert_eq!((old.as_str(), new.as_str()), ("in_flight", "in-flight"));
    }

    #[test]
    fn an_unknown_key_is_refused_naming_its_line_also_after_an_old_key() {
        let file = file("in_flight = 1\nmax_frames = 9000\n");
        let error = read_file::<Settings>(file.path()).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, ConfigError::ParseFile { .. }), "{text}");
        assert!(text.contains("line 2 (max_frames = 9000)"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn a_quoted_old_key_and_a_value_holding_underscores_are_read_right() {
        let file = file("\"max_frame\" = 9000\nid = 1 # in_flight = 2\n");
        let (settings, warnings) = read_file::<Settings>(file.path()).unwrap();
        assert_eq!((settings.max_frame, settings.in_flight), (Some(9000), None));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let path = Path::new("/nonexistent/lottery.toml");
        let error = read_file::<Settings>(path).unwrap_err();
        assert!(matches!(error, ConfigError::ReadFile { .. }), "{error}");
        assert!(error.to_string().contains("/nonexistent/lottery.toml"));
    }
}
