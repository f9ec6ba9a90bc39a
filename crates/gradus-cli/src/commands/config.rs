//! `gradus config --list`: every key of a run config with its type, default and allowed values
//! (from `gradus_run::config::keys`, which reads them off the config structs and the validation
//! table).

/// Runs `gradus config --list` (`markdown`: as a Markdown table, for docs).
pub fn run(list: bool, markdown: bool) -> Result<(), String> {
    if !list && !markdown {
        return Err("gradus config: pass --list (every key, its type, default and allowed values) or --markdown".into());
    }
    let keys = gradus_run::config::keys::keys();
    if markdown {
        println!("| key | type | default | allowed | meaning |\n|---|---|---|---|---|");
        for k in &keys {
            println!(
                "| `{}` | {} | {} | {} | {} |",
                k.key,
                k.kind,
                k.default,
                k.allowed.replace('|', "\\|"),
                k.doc
            );
        }
        return Ok(());
    }
    let width = keys.iter().map(|k| k.key.len()).max().unwrap_or(0);
    for k in &keys {
        println!("{:<width$}  {}  (default: {})", k.key, k.kind, k.default);
        if !k.doc.is_empty() {
            println!("{:<width$}  {}", "", k.doc);
        }
        if !k.allowed.is_empty() {
            println!("{:<width$}  allowed: {}", "", k.allowed);
        }
    }
    Ok(())
}
