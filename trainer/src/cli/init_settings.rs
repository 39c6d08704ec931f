//! `trainer init-settings`: writes the commented settings template.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

/// The template: every key the capture reads, with its default and what it does.
const TEMPLATE: &str = include_str!("../../assets/settings.template.yaml");

/// Writes the template to `path`, refusing to replace a file unless `force` is set.
pub fn write(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        bail!(
            "{} already exists; pass --force to replace it",
            path.display()
        );
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(TEMPLATE.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::TEMPLATE;

    #[test]
    fn template_loads_as_settings_with_the_documented_defaults() {
        let settings = capture_core::Settings::from_yaml_str(TEMPLATE).expect("template loads");
        let defaults = capture_core::Settings::from_yaml_str("{}").expect("empty file loads");
        assert_eq!(settings.instrumentation, defaults.instrumentation);
        assert_eq!(settings.telemetry_capture, defaults.telemetry_capture);
        assert_eq!(
            settings.project.db_flush_mode,
            defaults.project.db_flush_mode
        );
        assert!(settings.project.dump_buffer.enabled);
    }
}
