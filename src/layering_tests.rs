//! The crate's top-level modules import each other without circles: shared types live in
//! leaf modules (`api`, `config_error`, `facts`), the config hub imports the stages and no
//! stage imports it back, and only the integrators (`exchange`, `attempt`, `host`) see
//! everything. Read from the source, `crate::<module>` paths outside test code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".rs") || name.ends_with("tests.rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap();
            let top = rel.iter().next().unwrap().to_string_lossy();
            let top = top.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            // Inline test modules come last in a file; they may import anything.
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let target: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !target.is_empty() && target != top {
                    graph.entry(top.clone()).or_default().insert(target);
                }
            }
        }
    }
    graph
}

/// Every module reachable from `from`.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for next in graph.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn top_level_modules_import_each_other_without_circles() {
    let graph = imports();
    assert!(graph.contains_key("exchange") && graph.contains_key("config"));
    for module in graph.keys() {
        assert!(
            !reachable(&graph, module).contains(module),
            "{module} imports itself through {:?}",
            graph[module]
        );
    }
}

#[test]
fn shared_types_live_in_leaf_modules() {
    let graph = imports();
    for leaf in ["api", "config_error", "facts", "errors", "scope"] {
        let deps = reachable(&graph, leaf);
        assert!(
            deps.iter()
                .all(|d| ["api", "config_error", "tokens"].contains(&d.as_str())),
            "{leaf} reaches {deps:?}"
        );
    }
    for stage in [
        "guard",
        "identity",
        "limits",
        "route",
        "usage",
        "providers",
        "cache",
    ] {
        assert!(
            !reachable(&graph, stage).contains("config"),
            "the stage {stage} imports the config hub"
        );
    }
}
