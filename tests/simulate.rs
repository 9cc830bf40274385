//! `newsmesh simulate` (issue 18): the binary runs a small mesh on its virtual clock and
//! ends with the figures line; a partition keeps the mesh from converging until it
//! heals; churned nodes catch up; one seed gives one last line; the picture is one
//! well-formed SVG document.

mod common;

use std::collections::BTreeMap;

use common::*;

/// Runs `simulate` with `args`; returns stdout's lines, checking it exits 0.
fn simulate(args: &[&str]) -> Vec<String> {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    let done = cmd_without_home(&all, &[]);
    assert_eq!(done.code, Some(0), "simulate {args:?}: {done:#?}");
    done.stdout_text().lines().map(str::to_string).collect()
}

/// The key=value fields of the last line.
fn figures(lines: &[String]) -> BTreeMap<String, String> {
    let last = lines.last().expect("a last line");
    last.split_whitespace()
        .map(|field| {
            let (k, v) = field
                .split_once('=')
                .unwrap_or_else(|| panic!("{field:?} in {last:?} is not key=value"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

const SMALL: [&str; 6] = ["--nodes", "30", "--articles", "12", "--seed", "7"];

#[test]
fn a_small_mesh_converges_with_each_body_once() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("propagation.svg");
    let mut args = SMALL.to_vec();
    args.extend(["--svg", svg.to_str().unwrap()]);
    let lines = simulate(&args);
    let f = figures(&lines);
    for key in [
        "nodes",
        "links",
        "articles",
        "seed",
        "relay",
        "converged",
        "delivered",
        "convergence_s",
        "median_s",
        "p99_s",
        "max_hops",
        "mean_hops",
        "bodies_per_node_per_article",
        "ids_offered_per_article",
        "bytes_per_link",
    ] {
        assert!(f.contains_key(key), "no {key}= in {lines:?}");
    }
    assert_eq!(f["nodes"], "30");
    assert_eq!(f["links"], "45");
    assert_eq!(f["converged"], "yes", "{lines:?}");
    assert_eq!(f["delivered"], "360/360");
    assert_eq!(f["bodies_per_node_per_article"], "1.00", "{lines:?}");
    // Every node but the origin and the one that delivered it is offered each article by
    // at least one neighbour: more ids than nodes, far fewer than all links twice.
    let offered: f64 = f["ids_offered_per_article"].parse().unwrap();
    assert!((29.0..=90.0).contains(&offered), "{lines:?}");
    assert!(f["max_hops"].parse::<u32>().unwrap() >= 2);

    let text = std::fs::read_to_string(&svg).expect("the picture");
    assert!(text.starts_with("<?xml"), "{}", &text[..80.min(text.len())]);
    assert_eq!(text.matches("<svg").count(), 1);
    assert!(text.trim_end().ends_with("</svg>"));
    assert_well_formed(&text);
    assert!(text.matches("<path").count() >= 12, "one line per article");
}

#[test]
fn the_same_seed_gives_the_same_last_line() {
    let one = simulate(&SMALL);
    let two = simulate(&SMALL);
    assert_eq!(one.last(), two.last());
    let mut other = SMALL.to_vec();
    other[5] = "8";
    assert_ne!(simulate(&other).last(), one.last());
}

#[test]
fn a_partition_keeps_the_mesh_apart_until_it_heals() {
    let mut cut = SMALL.to_vec();
    cut.extend(["--partition", "0"]);
    let apart = figures(&simulate(&cut));
    assert_eq!(apart["converged"], "no");
    assert_eq!(apart["convergence_s"], "none");
    cut.extend(["--heal", "2h"]);
    let healed = figures(&simulate(&cut));
    assert_eq!(healed["converged"], "yes");
    assert_eq!(healed["bodies_per_node_per_article"], "1.00");
    // Nothing crossed before the partition healed, two hours in.
    let took: f64 = healed["convergence_s"].parse().unwrap();
    assert!(took >= 7200.0 - 24.0, "{healed:?}");
    // The same by cron alone.
    let mut cron = cut.clone();
    cron.extend(["--relay", "cron"]);
    let by_cron = figures(&simulate(&cron));
    assert_eq!(by_cron["converged"], "yes", "{by_cron:?}");
    assert_eq!(by_cron["relay"], "cron");
}

#[test]
fn nodes_off_for_days_catch_up_once_back() {
    let mut args = SMALL.to_vec();
    args.extend(["--churn", "0.3", "--off", "3d", "--relay", "both"]);
    let f = figures(&simulate(&args));
    assert_eq!(f["converged"], "yes", "{f:?}");
    assert_eq!(f["bodies_per_node_per_article"], "1.00", "{f:?}");
    let took: f64 = f["convergence_s"].parse().unwrap();
    assert!(
        took >= 3.0 * 86_400.0 - 30.0,
        "the churned nodes were off 3 days: {f:?}"
    );
}

#[test]
fn bad_options_are_usage_errors_or_refusals() {
    let done = cmd_without_home(&["simulate", "--nodes", "5", "--degree", "3"], &[]);
    assert_eq!(done.code, Some(1), "odd total degree: {done:#?}");
    assert!(done.stderr_text().contains("--degree"), "{done:#?}");
    let done = cmd_without_home(&["simulate", "--nodes", "5", "--hop", "fast"], &[]);
    assert_eq!(done.code, Some(1));
    let done = cmd_without_home(&["simulate"], &[]);
    assert_eq!(done.code, Some(2), "--nodes is required");
}

/// Tags open and close in order (a small check: no library for one test).
fn assert_well_formed(svg: &str) {
    let mut open: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("a tag ends") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "closing {name}");
        } else {
            let name = tag.split_whitespace().next().unwrap_or_default();
            open.push(name.to_string());
        }
        assert!(!tag.contains('<'), "{tag}");
    }
    assert!(open.is_empty(), "unclosed {open:?}");
}

#[test]
fn the_man_page_shows_the_keys_simulate_prints() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/newsmesh.1")).unwrap();
    let section = &page[page.find(".SH SIMULATE").expect("a SIMULATE section")..];
    let example = &section[section.find(".nf\n").expect("an example") + 4..];
    let example = &example[..example.find(".fi\n").expect("its end")];
    let shown: Vec<&str> = example
        .split_whitespace()
        .filter_map(|field| field.split_once('=').map(|(k, _)| k))
        .collect();
    let lines = simulate(&SMALL);
    let printed: Vec<&str> = lines
        .last()
        .unwrap()
        .split_whitespace()
        .filter_map(|field| field.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(shown, printed, "the man page's example line and a real one");
}

#[test]
fn a_given_topology_is_the_mesh_simulated() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("line.txt");
    std::fs::write(&file, "# a line of five\n0 1\n1 2\n2 3\n3 4\n").unwrap();
    let args = [
        "--nodes",
        "5",
        "--articles",
        "6",
        "--topology",
        file.to_str().unwrap(),
    ];
    let f = figures(&simulate(&args));
    assert_eq!(f["links"], "4", "{f:?}");
    assert_eq!(f["converged"], "yes", "{f:?}");
    let hops: u32 = f["max_hops"].parse().unwrap();
    assert!(
        (2..=4).contains(&hops),
        "a line of five is at most 4 hops: {f:?}"
    );
}
