//! Property test of the config reader: random bytes and mutations of a valid config (truncations,
//! byte flips, insertions), decoded as `gradus train` decodes a config file and parsed with and
//! without `--set` overrides. It must return, never panic; an error names the file (or the
//! override) and, for TOML syntax and type errors, the line and column. `PROPTEST_CASES` sets the
//! number of cases (4096 by default).

use crate::config::parse;
use crate::RunError;
use gradus_fuzz::{config, mutated};
use proptest::prelude::*;

const VALID: &str = include_str!("../../../../examples/breast-cancer.toml");

fn check(result: Result<crate::config::Config, RunError>, source: &str) {
    if let Err(e) = result {
        let msg = e.to_string();
        assert!(
            msg.starts_with(source) || msg.starts_with("--set "),
            "no file or override named: {msg}"
        );
    }
}

/// True when `msg` starts with a config key (`model.hidden[1]: ...`) or lists refused values,
/// each line of which does.
fn names_a_key(msg: &str) -> bool {
    let key = |line: &str| {
        line.split_once(": ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
        })
    };
    match msg.split_once(" invalid values:") {
        Some((_, rest)) => rest.lines().skip(1).all(|l| key(l.trim_start())),
        None => key(msg),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_files(bytes in mutated(VALID.as_bytes().to_vec())) {
        let text = match gradus_data::utf8::decode(bytes, "fuzz.toml") {
            Ok(text) => text,
            Err(e) => {
                prop_assert!(e.to_string().starts_with("fuzz.toml:"), "{}", e);
                return Ok(());
            }
        };
        let result = parse(&text, "fuzz.toml", &[]).map_err(|e| e.to_string());
        if let Err(msg) = &result {
            prop_assert!(msg.starts_with("fuzz.toml: "), "{}", msg);
            // a syntax or type error points at a line; a refused value names its key
            prop_assert!(
                msg.contains("line ") || names_a_key(&msg["fuzz.toml: ".len()..]),
                "neither a line nor a key: {}",
                msg
            );
        }
        check(parse(&text, "fuzz.toml", &["optimizer.lr=0.01".to_string()]), "fuzz.toml");
    }

    #[test]
    fn overrides(key in "[a-z_.\\[\\]]{0,24}", value in "\\PC{0,12}") {
        let set = vec![format!("{key}={value}"), value.clone(), key.clone()];
        check(parse(VALID, "fuzz.toml", &set), "fuzz.toml");
    }
}
