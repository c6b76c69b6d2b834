use serde_json::{json, Map, Value};

use super::*;
use crate::tokens::{count_text, Encoding};
use crate::usage::pricing::{default_prices, BilledTokens};

fn routing(json: &str) -> Routing {
    compile(serde_json::from_str(json).unwrap()).unwrap()
}

fn err(json: &str) -> String {
    match serde_json::from_str::<RawRouting>(json) {
        Ok(raw) => compile(raw).unwrap_err().0,
        Err(e) => e.to_string(),
    }
}

const AUTO: &str = r#"{"aliases": {"auto": {"tiers": {"simple": "gpt-4o-mini", "moderate": "gpt-4.1", "complex": "o3"}}}}"#;

fn with_rules(rules: &str) -> Routing {
    routing(&format!(
        r#"{{"aliases": {{"auto": {{"tiers": {{"simple": "gpt-4o-mini", "moderate": "gpt-4.1", "complex": "o3"}}}}}}, "rules": {rules}}}"#
    ))
}

fn chat(text: &str) -> Map<String, Value> {
    json!({"model": "auto", "messages": [{"role": "user", "content": text}]})
        .as_object()
        .unwrap()
        .clone()
}

fn no_headers(_: &str) -> Option<String> {
    None
}

fn route(r: &Routing, req: &Map<String, Value>, tokens: u64) -> RouteDecision {
    decide(r, "auto", req, tokens, None, &no_headers).unwrap()
}

#[test]
fn config_defaults_and_errors_name_the_field() {
    let r = routing(AUTO);
    assert_eq!(r.thresholds, Thresholds::default());
    assert!(r.is_alias("auto") && !r.is_alias("gpt-4o"));
    assert!(err(r#"{"aliases": {}, "bogus": 1}"#).contains("unknown field `bogus`"));
    assert!(err(r#"{"aliases": {"auto": {"tiers": {}, "x": 1}}}"#).contains("unknown field `x`"));
    assert_eq!(
        err(r#"{"aliases": {}}"#),
        "routing.aliases must name at least one alias (got none)"
    );
    assert_eq!(
        err(r#"{"aliases": {"auto": {"tiers": {"hard": "o3"}}}}"#),
        "routing.aliases.auto.tiers keys must be one of simple, moderate, complex (got \"hard\")"
    );
    assert_eq!(
        err(r#"{"aliases": {"auto": {"tiers": {"simple": "gpt 4"}}}}"#),
        "routing.aliases.auto.tiers.simple must be a model name of 1-128 printable ASCII characters without spaces (got \"gpt 4\")"
    );
    assert_eq!(
        err(
            r#"{"aliases": {"auto": {"tiers": {"simple": "m"}}}, "thresholds": {"moderate_at": 5, "complex_at": 5}}"#
        ),
        "routing.thresholds.complex_at must be > routing.thresholds.moderate_at (5) (got 5)"
    );
    assert_eq!(
        err(r#"{"aliases": {"auto": {"tiers": {"simple": "m"}}}, "weights": {"math": 99}}"#),
        "routing.weights.math must be between -20 and 20 points (got 99)"
    );
    let rules_err = |rules: &str| {
        err(&format!(
            r#"{{"aliases": {{"auto": {{"tiers": {{"simple": "m"}}}}}}, "rules": {rules}}}"#
        ))
    };
    assert_eq!(
        rules_err(r#"[{"when": {}, "pin": "m"}]"#),
        "routing.rules[0].when must set at least one of header, groups, paths"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"groups": ["free"]}, "pin": "m", "forbid": ["o3"]}]"#),
        "routing.rules[0] must set exactly one of pin, tier, forbid"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"groups": []}, "forbid": ["o3"]}]"#),
        "routing.rules[0].when.groups must list at least one value (got none)"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"paths": ["v1/chat"]}, "forbid": ["o3"]}]"#),
        "routing.rules[0].when.paths[0] must be a path starting with '/' without query (got \"v1/chat\")"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"groups": ["a"]}, "tier": "huge"}]"#),
        "routing.rules[0].tier must be one of simple, moderate, complex (got \"huge\")"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"groups": ["a"]}, "forbid": ["o3"], "aliases": ["smart"]}]"#),
        "routing.rules[0].aliases[0] must name one of routing.aliases (got \"smart\")"
    );
    assert_eq!(
        rules_err(r#"[{"when": {"header": {"name": "x llm", "value": "a"}}, "forbid": ["o3"]}]"#),
        "routing.rules[0].when.header.name must be a header name of [A-Za-z0-9_:-] (got \"x llm\")"
    );
}

#[test]
fn signals_fire_on_their_cues() {
    let t = Thresholds::default();
    let fired = |text: &str| -> Vec<&'static str> {
        Signals::of(&chat(text), 10, &t)
            .fired()
            .map(Signal::name)
            .collect()
    };
    assert_eq!(fired("hello"), Vec::<&str>::new());
    assert!(fired("Please prove it").contains(&"reasoning_cue"));
    assert!(!fired("How can I improve my essay?").contains(&"reasoning_cue"));
    for cue in [
        "단계별로 풀어줘",
        "これを証明して",
        "请证明",
        "explícalo paso a paso",
        "Schritt für Schritt bitte",
        "étape par étape",
    ] {
        assert!(fired(cue).contains(&"reasoning_cue"), "{cue}");
    }
    assert!(fired("分析一下").contains(&"analysis_cue"));
    assert!(fired("```\nlet x = 1;\n```").contains(&"code_block"));
    assert!(fired("solve x^2 + 1 = 0").contains(&"math"));
    assert!(fired("∀ε>0").contains(&"math"));
    assert!(fired("write at least 1500 words").contains(&"length_demand"));
    assert!(!fired("give me 5 words").contains(&"length_demand"));
    assert!(fired("1. a\n2. b\n3. c").contains(&"multi_part"));

    let req = json!({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}});
    let s = Signals::of(req.as_object().unwrap(), 9000, &t);
    let names: Vec<_> = s.fired().map(Signal::name).collect();
    assert_eq!(names, ["tools", "json_schema", "very_long_input"]);

    let deep: Vec<Value> = (0..12)
        .map(|i| json!({"role": if i % 2 == 0 {"user"} else {"assistant"}, "content": "ok"}))
        .collect();
    let s = Signals::of(json!({"messages": deep}).as_object().unwrap(), 10, &t);
    assert!(s.has(Signal::DeepConversation) && s.messages == 12);
}

#[test]
fn cues_are_lower_case_and_distinct() {
    for (name, cues) in super::signals::CUE_LISTS {
        for a in cues.iter() {
            assert_eq!(*a, a.to_lowercase(), "{name}: {a}");
        }
    }
    let cues = super::signals::COUNTED_CUES;
    {
        for a in cues.iter() {
            // Distinct counting needs no cue to match inside another: letter-initial cues
            // match at word starts, the others anywhere.
            let word = a.starts_with(|c: char| c.is_ascii_alphanumeric());
            for b in cues.iter() {
                let inside = if word {
                    b.starts_with(a)
                } else {
                    b.contains(a)
                };
                assert!(a == b || !inside, "{a:?} matches inside {b:?}");
            }
        }
    }
}

#[test]
fn scan_is_bounded_and_newest_first() {
    let t = Thresholds {
        max_scan_bytes: 256,
        ..Thresholds::default()
    };
    let req = json!({"messages": [
        {"role": "user", "content": "prove this"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "x".repeat(1000)}]});
    let s = Signals::of(req.as_object().unwrap(), 10, &t);
    assert!(!s.has(Signal::ReasoningCue));
    let roomy = Signals::of(req.as_object().unwrap(), 10, &Thresholds::default());
    assert!(roomy.has(Signal::ReasoningCue));
}

#[test]
fn score_picks_the_tier_and_reason_explains_it() {
    let r = routing(AUTO);
    let d = route(&r, &chat("What is the capital of France?"), 12);
    assert_eq!((d.tier, d.model.as_str()), (Tier::Simple, "gpt-4o-mini"));
    assert_eq!(d.reason, "tier=simple score=-2 signals=simple_cue");

    let text = "Prove step by step that this is correct:\n```rust\nfn f() {}\n```";
    let d = route(&r, &chat(text), 2500);
    assert_eq!((d.tier, d.model.as_str()), (Tier::Complex, "o3"));
    assert_eq!(
        d.reason,
        "tier=complex score=12 signals=reasoning_cue,code_block,coding_cue,long_input:2500"
    );
    assert!(d.reason.is_ascii());
}

#[test]
fn rules_pin_fix_tiers_and_forbid() {
    let r = with_rules(
        r#"[{"when": {"header": {"name": "X-LLM-Tier", "value": "complex"}}, "tier": "complex"},
            {"when": {"groups": ["free"]}, "forbid": ["o3"]},
            {"when": {"paths": ["/cheap/chat"]}, "pin": "gpt-4o-mini"},
            {"when": {"groups": ["vip"]}, "pin": "o3"}]"#,
    );
    let proof = chat("Prove that sqrt(2) is irrational.");
    let hi = chat("hi");
    let tier_header = |h: &str| (h == "x-llm-tier").then(|| "complex".to_string());

    // Header fixes the tier.
    let d = decide(&r, "auto", &hi, 5, None, &tier_header).unwrap();
    assert_eq!((d.tier, d.model.as_str()), (Tier::Complex, "o3"));
    assert!(
        d.reason.ends_with(" rules=0 tier_rule=complex"),
        "{}",
        d.reason
    );

    // A forbidden tier falls to the nearest allowed one, header or not.
    let d = decide(&r, "auto", &proof, 5, Some("free"), &tier_header).unwrap();
    assert_eq!((d.tier, d.model.as_str()), (Tier::Moderate, "gpt-4.1"));
    assert!(
        d.reason
            .ends_with(" rules=0,1 tier_rule=complex from=complex"),
        "{}",
        d.reason
    );

    // Path pin (query ignored).
    let path = |h: &str| (h == ":path").then(|| "/cheap/chat?x=1".to_string());
    let d = decide(&r, "auto", &proof, 5, None, &path).unwrap();
    assert_eq!((d.tier, d.model.as_str()), (Tier::Simple, "gpt-4o-mini"));
    assert!(
        d.reason.ends_with(" rules=2 pin=gpt-4o-mini"),
        "{}",
        d.reason
    );

    // A pin of a forbidden model is ignored; the score decides within what is allowed.
    let r2 = with_rules(
        r#"[{"when": {"groups": ["free"]}, "forbid": ["o3"]},
            {"when": {"groups": ["free"]}, "pin": "o3"}]"#,
    );
    let d = decide(&r2, "auto", &proof, 5, Some("free"), &no_headers).unwrap();
    assert_eq!(d.model, "gpt-4.1");
    assert!(
        d.reason.contains(" rules=0,1 pin_forbidden=o3"),
        "{}",
        d.reason
    );

    // Everything forbidden: refused.
    let r3 =
        with_rules(r#"[{"when": {"groups": ["x"]}, "forbid": ["o3", "gpt-4.1", "gpt-4o-mini"]}]"#);
    match decide(&r3, "auto", &hi, 5, Some("x"), &no_headers) {
        Err(RouteError::AllForbidden { reason }) => assert!(reason.ends_with("all_forbidden")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decide(&r3, "gpt-4o", &hi, 5, None, &no_headers),
        Err(RouteError::UnknownAlias)
    );
}

#[test]
fn missing_tiers_fall_to_the_nearest_configured_one() {
    let r = routing(r#"{"aliases": {"auto": {"tiers": {"simple": "small", "complex": "big"}}}}"#);
    // Score 4: moderate, not configured; the cheaper neighbour wins the tie.
    let d = route(&r, &chat("Compare these two designs for our API"), 20);
    assert_eq!((d.tier, d.model.as_str()), (Tier::Simple, "small"));
    assert!(d.reason.ends_with("from=moderate"), "{}", d.reason);
}

#[test]
fn reason_is_bounded_ascii() {
    let model = "m".repeat(128);
    let r = routing(&format!(
        r#"{{"aliases": {{"auto": {{"tiers": {{"simple": "{model}"}}}}}},
            "rules": [{{"when": {{"groups": ["g"]}}, "pin": "{model}"}}]}}"#
    ));
    let text = "Prove and analyze in detail: ```x``` def f(x):\n    return g(x);\nx^2 what is? 1. a\n2. b\n3. c? ?";
    let mut req = chat(text);
    req.insert("tools".into(), json!([{"type": "function"}]));
    req.insert("response_format".into(), json!({"type": "json_schema"}));
    let d = decide(&r, "auto", &req, 100_000, Some("g"), &no_headers).unwrap();
    assert!(
        d.reason.len() <= MAX_REASON_LEN && d.reason.is_ascii(),
        "{}",
        d.reason
    );
    assert!(d.reason.contains(",+"), "{}", d.reason);
}

// ---- The labelled prompt set ------------------------------------------------------

struct Prompt {
    text: String,
    label: Tier,
    lang: String,
    test: bool,
}

fn prompts() -> Vec<Prompt> {
    include_str!("../../../integration/data/routing_prompts.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Prompt {
                text: v["text"].as_str().unwrap().to_string(),
                label: Tier::from_name(v["label"].as_str().unwrap()).unwrap(),
                lang: v["lang"].as_str().unwrap().to_string(),
                test: v["split"] == "test",
            }
        })
        .collect()
}

/// Routes a prompt as a one-message request, with the input tokens the host would count.
fn classify(r: &Routing, p: &Prompt) -> (RouteDecision, u64) {
    let req = chat(&p.text);
    let tokens = crate::tokens::count_openai_chat("gpt-4o", &req);
    (route(r, &req, tokens), tokens)
}

#[test]
fn prompt_set_is_well_formed() {
    let ps = prompts();
    assert!(ps.len() >= 150, "{}", ps.len());
    let test = ps.iter().filter(|p| p.test).count();
    assert!((ps.len() / 3..=ps.len() / 3 + 1).contains(&test), "{test}");
    for lang in ["en", "ko", "ja", "zh", "es", "de", "fr"] {
        assert!(ps.iter().filter(|p| p.lang == lang).count() >= 10, "{lang}");
    }
}

#[test]
fn routing_accuracy_on_the_prompt_set() {
    let r = routing(AUTO);
    let ps = prompts();
    let mut acc = [0.0; 2];
    for (i, split) in ["train", "test"].into_iter().enumerate() {
        // confusion[label][predicted]
        let mut confusion = [[0u32; 3]; 3];
        for p in ps.iter().filter(|p| p.test == (i == 1)) {
            let (d, _) = classify(&r, p);
            confusion[p.label as usize][d.tier as usize] += 1;
            if i == 0 && d.tier != p.label {
                // Misses are printed for the training split only: tune on these.
                println!(
                    "miss {:?}->{:?} [{}] {}",
                    p.label,
                    d.tier,
                    d.reason,
                    p.text.replace('\n', " ")
                );
            }
        }
        let n: u32 = confusion.iter().flatten().sum();
        let right: u32 = (0..3).map(|k| confusion[k][k]).sum();
        acc[i] = f64::from(right) / f64::from(n);
        println!("{split}: accuracy {right}/{n} = {:.1}%", 100.0 * acc[i]);
        println!("{split}: confusion (rows: label, cols: routed simple/moderate/complex)");
        for t in Tier::ALL {
            println!("  {:<8} {:?}", t.as_str(), confusion[t as usize]);
        }
    }
    // A regression floor, well below what is measured (see the module's report).
    assert!(acc[0] >= 0.85 && acc[1] >= 0.80, "{acc:?}");
}

/// Cost of the test split routed by `auto`, against sending every prompt to the premium
/// model (`o3`). Input: each prompt's tokens (`count_text`, o200k). Output: an assumed
/// visible answer length by the prompt's *label* (what the task needs, whichever model
/// answers): simple 150, moderate 600, complex 1500 tokens. Reasoning models also bill
/// hidden reasoning tokens as output; the second figure assumes o3 spends as many
/// reasoning tokens as it writes visible ones (1x), the first assumes none.
#[test]
fn cost_saved_on_the_test_split() {
    let r = routing(AUTO);
    let prices = default_prices();
    let visible = |t: Tier| match t {
        Tier::Simple => 150,
        Tier::Moderate => 600,
        Tier::Complex => 1500,
    };
    let cost = |model: &str, input: u64, label: Tier, reasoning_factor: u64| {
        let out = visible(label);
        let hidden = if model.starts_with('o') {
            out * reasoning_factor
        } else {
            0
        };
        prices.lookup(model).unwrap().1.cost_usd(&BilledTokens {
            input,
            output: out + hidden,
            ..BilledTokens::default()
        })
    };
    for factor in [0, 1] {
        let (mut routed, mut oracle, mut premium) = (0.0, 0.0, 0.0);
        for p in prompts().iter().filter(|p| p.test) {
            let (d, _) = classify(&r, p);
            let input = count_text(Encoding::O200kBase, &p.text);
            routed += cost(&d.model, input, p.label, factor);
            let right_model = r.aliases["auto"].model(p.label).unwrap();
            oracle += cost(right_model, input, p.label, factor);
            premium += cost("o3", input, p.label, factor);
        }
        println!(
            "test split, o3 reasoning tokens = {factor}x visible: all-o3 ${premium:.5}, routed ${routed:.5} (saved {:.1}%), perfect routing ${oracle:.5} (saved {:.1}%)",
            100.0 * (1.0 - routed / premium),
            100.0 * (1.0 - oracle / premium)
        );
        assert!(routed < premium);
    }
}
