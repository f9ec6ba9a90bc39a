//! Relative paths in a config file resolve against the file's folder, as Cargo resolves
//! `path = "../dep"` in a `Cargo.toml` and docker-compose a `build:` context: the config then
//! trains from any working directory. A path given on the command line (`--set data.path=...`)
//! resolves against the working directory, as every command-line path does.
//!
//! Resolved paths are absolute and written so into the run folder's `config.toml` and the model
//! file's spec, so `gradus eval`, `--resume` and `gradus analyze` find the data from anywhere.
//!
//! | key | what |
//! |---|---|
//! | `data.path` | the training file or folder |
//! | `data.validation_path` | a separate validation file |
//! | `data.test_path` | a test file or folder (for mnist the word `test`, the test split, is kept) |
//! | `optimizer.weights` | the learned optimizer's weights file |
//! | `model.init_from` | the model file a run starts from |

use std::path::{Component, Path, PathBuf};

/// The keys of a config that name files or folders.
pub const PATH_KEYS: [&str; 3] = ["data.path", "data.validation_path", "data.test_path"];

/// `path` joined to `dir` when relative, made absolute against the working directory, with `.`
/// and `name/..` removed lexically (as Cargo normalizes paths; no file is looked at).
///
/// ```
/// use gradus_run::config::paths::resolve;
/// use std::path::Path;
/// let p = resolve(Path::new("/repo/examples"), "../data/mnist");
/// assert_eq!(p, Path::new("/repo/data/mnist"));
/// assert_eq!(resolve(Path::new("/repo/examples"), "/srv/d.csv"), Path::new("/srv/d.csv"));
/// ```
pub fn resolve(dir: &Path, path: &str) -> PathBuf {
    let joined = dir.join(path);
    let absolute = std::path::absolute(&joined).unwrap_or(joined);
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Resolves the relative [`PATH_KEYS`] of a config table against `dir` (the config file's
/// folder), in place; other keys and absent ones are left alone, and so is mnist's
/// `test_path = "test"`. Paths that are not valid UTF-8 after joining are kept as given.
///
/// ```
/// use gradus_run::config::paths::resolve_table;
/// let mut t: toml::Table = toml::from_str(
///     "[data]\nformat = \"mnist\"\npath = \"../data/mnist\"\ntest_path = \"test\"\n",
/// ).unwrap();
/// resolve_table(&mut t, std::path::Path::new("/repo/examples"));
/// assert_eq!(t["data"]["path"].as_str(), Some("/repo/data/mnist"));
/// assert_eq!(t["data"]["test_path"].as_str(), Some("test"));
/// ```
pub fn resolve_table(table: &mut toml::Table, dir: &Path) {
    for (section, key) in [("optimizer", "weights"), ("model", "init_from")] {
        if let Some(toml::Value::Table(o)) = table.get_mut(section) {
            if let Some(toml::Value::String(p)) = o.get_mut(key) {
                if let (false, Some(s)) = (p.is_empty(), resolve(dir, p).to_str()) {
                    *p = s.to_string();
                }
            }
        }
    }
    let Some(toml::Value::Table(data)) = table.get_mut("data") else {
        return;
    };
    let mnist = data.get("format").and_then(|f| f.as_str()) == Some("mnist");
    for key in PATH_KEYS {
        let name = key.trim_start_matches("data.");
        let Some(toml::Value::String(p)) = data.get_mut(name) else {
            continue;
        };
        if (mnist && name == "test_path" && p == "test") || p.is_empty() {
            continue;
        }
        if let Some(s) = resolve(dir, p).to_str() {
            *p = s.to_string();
        }
    }
}

/// The folder a config file's relative paths resolve against: the file's parent (the working
/// directory for a bare file name).
///
/// ```
/// use std::path::Path;
/// assert_eq!(gradus_run::config::paths::folder_of(Path::new("examples/mnist.toml")), Path::new("examples"));
/// assert_eq!(gradus_run::config::paths::folder_of(Path::new("mnist.toml")), Path::new("."));
/// ```
pub fn folder_of(config: &Path) -> &Path {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Resolves the relative [`PATH_KEYS`] of a parsed config: against `dir` (the config file's
/// folder), except the keys in `from_command_line` (set by `--set`), against the working
/// directory.
///
/// ```
/// let mut c = gradus_run::Config::from_toml_str(
///     "[data]\nformat = \"csv\"\npath = \"rows.csv\"\ntest_path = \"t.csv\"\ntarget = \"y\"\ntask = \"regression\"\n\
///      [model]\nkind = \"linear\"\n[optimizer]\nname = \"sgd\"\nlr = 0.1\n",
/// )?;
/// let dir = std::path::Path::new("/repo/configs");
/// gradus_run::config::paths::resolve_config(&mut c, dir, &["data.test_path".to_string()]);
/// assert_eq!(c.data.path, "/repo/configs/rows.csv");
/// let cwd = std::env::current_dir().unwrap();
/// assert_eq!(std::path::Path::new(c.data.test_path.as_deref().unwrap()), cwd.join("t.csv"));
/// # Ok::<(), gradus_run::RunError>(())
/// ```
pub fn resolve_config(c: &mut super::Config, dir: &Path, from_command_line: &[String]) {
    let mnist = c.data.format == "mnist";
    let d = &mut c.data;
    let fields: [(&str, Option<&mut String>); 5] = [
        ("optimizer.weights", c.optimizer.weights.as_mut()),
        ("model.init_from", c.model.init_from.as_mut()),
        ("data.path", Some(&mut d.path)),
        ("data.validation_path", d.validation_path.as_mut()),
        ("data.test_path", d.test_path.as_mut()),
    ];
    for (key, value) in fields {
        let Some(p) = value else { continue };
        if (mnist && key == "data.test_path" && p == "test") || p.is_empty() {
            continue;
        }
        let base = if from_command_line.iter().any(|k| k == key) {
            Path::new(".")
        } else {
            dir
        };
        if let Some(s) = resolve(base, p).to_str() {
            *p = s.to_string();
        }
    }
}
