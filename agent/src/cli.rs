//! Command-line arguments: `--config FILE`, `--check-config`, `--help`, `--version`.

use std::path::PathBuf;

/// What the command line asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    /// The YAML config file; without it, defaults plus environment overrides.
    pub config: Option<PathBuf>,
    /// Validate, print the effective config, and exit.
    pub check_config: bool,
    /// Print usage and exit.
    pub help: bool,
    /// Print the version and exit.
    pub version: bool,
}

/// Usage text for `--help` and argument errors.
pub const USAGE: &str = "usage: node-agent [--config FILE] [--check-config]

  --config FILE    YAML configuration (see docs/agent.md); NODE_AGENT__<SECTION>__<KEY>
                   environment variables override it
  --check-config   validate the configuration, print the effective one, and exit
  --help           show this help
  --version        show the version
";

impl Args {
    /// Parses arguments (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--config" => {
                    parsed.config = Some(args.next().ok_or("--config needs a file path")?.into())
                }
                s if s.starts_with("--config=") => {
                    parsed.config = Some(s["--config=".len()..].into())
                }
                "--check-config" => parsed.check_config = true,
                "--help" | "-h" => parsed.help = true,
                "--version" | "-V" => parsed.version = true,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn config_path_in_both_spellings() {
        assert_eq!(
            parse(&["--config", "a.yaml"]).unwrap().config,
            Some("a.yaml".into())
        );
        assert_eq!(
            parse(&["--config=b.yaml", "--check-config"]).unwrap(),
            Args {
                config: Some("b.yaml".into()),
                check_config: true,
                ..Args::default()
            }
        );
    }

    #[test]
    fn unknown_or_incomplete_arguments_are_errors() {
        assert_eq!(
            parse(&["--confg"]).unwrap_err(),
            "unknown argument \"--confg\""
        );
        assert_eq!(
            parse(&["--config"]).unwrap_err(),
            "--config needs a file path"
        );
    }
}
