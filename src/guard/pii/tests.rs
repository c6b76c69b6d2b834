use serde_json::json;

use super::*;

fn policy(json: &str) -> PiiPolicy {
    PiiPolicy::from_json(json).unwrap()
}

/// `(entity, value)` of every match.
fn found(p: &PiiPolicy, text: &str) -> Vec<(String, String)> {
    p.detect(text)
        .into_iter()
        .map(|m| {
            (
                p.entities()[m.entity].name.clone(),
                text[m.start..m.end].to_string(),
            )
        })
        .collect()
}

fn one(text: &str) -> Option<(String, String)> {
    let f = found(&policy("{}"), text);
    assert!(f.len() <= 1, "{text:?}: {f:?}");
    f.into_iter().next()
}

fn assert_entity(entity: &str, value: &str, text: &str) {
    assert_eq!(
        one(text),
        Some((entity.to_string(), value.to_string())),
        "in {text:?}"
    );
}

#[test]
fn emails() {
    assert_entity(
        "email",
        "jane.doe+x@mail.example.co.uk",
        "mail jane.doe+x@mail.example.co.uk.",
    );
    assert_entity("email", "a@b.io", "<a@b.io>");
    for t in [
        "a@a@a",
        "user@localhost",
        "x@y.c",
        "john..x@a.com",
        "@foo.com",
        "me@-a.com",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn phones() {
    for v in [
        "(415) 555-0132",
        "(415)555-0132",
        "415-555-0132",
        "415.555.0132",
        "415 555 0132",
        "+1 415 555 0132",
        "+1-415-555-0132",
        "1-415-555-0132",
        "+1 (415) 555-0132",
        "+14155550132",
        "010-1234-5678",
        "01012345678",
        "+82 10-1234-5678",
        "+821012345678",
        "02-123-4567",
        "031-123-4567",
        "031-1234-5678",
        "+44 20 7946 0958",
        "+33 1 42 68 53 00",
        // Since issue 16 the shape decides, not the numbering plan: generators and
        // people write area codes no plan assigned, and the value is still theirs.
        "123-456-7890",
        "(012) 345-6789",
        "+1 123 456 7890",
        "010-123-5678",
    ] {
        assert_entity("phone", v, &format!("call {v} now"));
        assert_entity("phone", v, &format!("전화 {v}로 주세요"));
    }
    // Bare national digits need words that say phone; "my number" does.
    assert_entity("phone", "7296313758", "My number is 7296313758.");
    assert_entity("phone", "3331234567", "il mio numero è 3331234567");
    assert_eq!(one("My order number is 7296313758."), None);
    for t in [
        "555-0132",
        "4155550132",
        "415-555-01329",
        "+0 12345678",
        "2024-01-15",
        "+12 34",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn cards() {
    for v in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "2223000048400011",
        "3782 822463 10005",
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        "6200000000000005",
    ] {
        assert_entity("credit_card", v, &format!("card: {v}."));
    }
    for t in [
        "4111111111111112",
        "4111 1111 1111 111",
        "1234567812345670",
        "4111 1111-1111 1111",
        "41111111111111111111111",
        "9400 1000 0000 0000 0000 00",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn national_ids() {
    assert_entity("us_ssn", "123-45-6789", "SSN: 123-45-6789");
    assert_entity("us_ssn", "123 45 6789", "SSN 123 45 6789.");
    for t in [
        "000-12-3456",
        "666-12-3456",
        "901-12-3456",
        "123-00-4567",
        "123-45-0000",
        "123456789",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
    // 900101-1 + 5 digits + check digit
    let body = [9, 0, 0, 1, 0, 1, 1, 2, 3, 4, 5, 6];
    let check = rrn_check_digit(&body);
    let bare = format!("900101123456{check}");
    assert_entity("kr_rrn", &bare, &format!("번호 {bare}"));
    let wrong = format!("900101123456{}", (check + 1) % 10);
    assert_eq!(one(&wrong), None);
    // The dashed form: date and century digit suffice (post-2020 numbers lack the check).
    assert_entity(
        "kr_rrn",
        &format!("900101-123456{}", (check + 1) % 10),
        &format!("주민번호 900101-123456{}", (check + 1) % 10),
    );
    assert_entity("kr_rrn", "040229-3123456", "040229-3123456");
    // Both a valid RRN and a valid 13-digit Visa: a card word before it decides.
    assert_entity(
        "credit_card",
        "4903117108663",
        "Kartennummer: 4903117108663",
    );
    assert_entity(
        "credit_card",
        "4204108074109",
        "My card 4204108074109 expires",
    );
    assert_entity("kr_rrn", "4903117108663", "주민번호 4903117108663");
    for t in [
        "030229-3123456",
        "901301-1234567",
        "900101-9234567",
        "900132-1234567",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn ibans() {
    assert_entity(
        "iban",
        "DE89370400440532013000",
        "IBAN DE89370400440532013000.",
    );
    assert_entity(
        "iban",
        "DE89 3704 0044 0532 0130 00",
        "IBAN: DE89 3704 0044 0532 0130 00, thanks",
    );
    assert_entity(
        "iban",
        "GB29 NWBK 6016 1331 9268 19",
        "to GB29 NWBK 6016 1331 9268 19",
    );
    for t in [
        "DE89370400440532013001",
        "DE8937040044053201300",
        "XX89370400440532013000",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn ip_addresses() {
    for v in [
        "192.168.0.1",
        "8.8.8.8",
        "2001:db8::1",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "fe80::1ff:fe23:4567:890a",
        "::ffff:192.0.2.128",
    ] {
        assert_entity("ip_address", v, &format!("from {v}."));
    }
    for t in [
        "256.1.1.1",
        "1.2.3",
        "1.1.1.1.1",
        "v1.2.3.4",
        "01.2.3.4",
        "12:30:45",
        "std::vector",
        "00:1A:2B:3C:4D:5E",
        "::::",
        "1:2:3:4:5:6:7:8:9",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

fn jwt() -> String {
    // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890"} . signature
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c".into()
}

#[test]
fn secrets() {
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\nZ1BjP5CE/Wm/Rr500P\n-----END RSA PRIVATE KEY-----";
    for v in [
        "sk-proj-abcDEF1234567890abcdefGHIJ_klm-no",
        "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL",
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCD-EFGH",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
        "sk_live_abcdefghijklmnop1234",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        pem,
        &jwt(),
    ] {
        assert_entity("secret", v, &format!("key: {v} end"));
    }
    assert_entity(
        "secret",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    assert_entity(
        "secret",
        "hunter2hunter2",
        r#"{"password": "hunter2hunter2"}"#,
    );
    // An unterminated PEM block is taken to the end of its body.
    let cut = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC";
    assert_entity("secret", cut, &format!("{cut}\n\n... and more"));
    for t in [
        "sk-learn-compatible-estimators",
        "AKIA1234",
        "ghp_short",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJub3RhbGciOjF9.eyJ4IjoxfQ.abc",
        "password: required",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    ] {
        assert_eq!(one(t), None, "{t}");
    }
}

#[test]
fn custom_entities_with_validators() {
    let p = policy(
        r#"{"custom": [
            {"name": "employee_id", "pattern": "EMP-\\d{6}", "action": "mask"},
            {"name": "loyalty_card", "pattern": "LC\\d{8}", "validator": "luhn"}]}"#,
    );
    assert_eq!(
        found(&p, "ask EMP-123456"),
        vec![("employee_id".into(), "EMP-123456".into())]
    );
    assert_eq!(found(&p, "LC00000018 LC00000017").len(), 1);
    let mut t = "EMP-123456 and EMP-123456 and EMP-654321".to_string();
    let mut vault = PiiVault::new();
    p.redact_text(&mut t, &mut vault);
    assert_eq!(t, "[EMPLOYEE_ID_1] and [EMPLOYEE_ID_1] and [EMPLOYEE_ID_2]");
}

#[test]
fn config_errors_are_worded_as_rules() {
    let err = |j: &str| PiiPolicy::from_json(j).unwrap_err();
    assert_eq!(
        err(r#"{"entities": {"email": "erase"}}"#),
        r#"guard.pii.entities.email must be one of mask, hash, block, monitor, off (got "erase")"#
    );
    assert!(err(r#"{"entities": {"emails": "mask"}}"#)
        .starts_with(r#"guard.pii.entities has no entity "emails""#));
    assert!(err(r#"{"colour": 1}"#).contains("unknown field `colour`"));
    assert!(err(r#"{"custom": [{"name": "x", "pattern": "("}]}"#)
        .starts_with("guard.pii.custom[0].pattern must be a valid regular expression"));
    assert_eq!(
        err(r#"{"custom": [{"name": "x", "pattern": "a*"}]}"#),
        r#"guard.pii.custom[0].pattern must not match the empty string (got "a*")"#
    );
    assert_eq!(
        err(r#"{"custom": [{"name": "email", "pattern": "a"}]}"#),
        r#"guard.pii.custom[0].name must be unique and not a built-in entity (got "email")"#
    );
    assert_eq!(
        err(r#"{"custom": [{"name": "x", "pattern": "a", "validator": "crc"}]}"#),
        r#"guard.pii.custom[0].validator must be one of luhn, mod97 (got "crc")"#
    );
    assert_eq!(
        err(r#"{"leak": {"system_prompt_min_words": 2}}"#),
        "guard.pii.leak.system_prompt_min_words must be 0 (off) or between 3 and 64 (got 2)"
    );
    assert_eq!(
        err(r#"{"leak": {"action": "hash"}}"#),
        r#"guard.pii.leak.action must be one of block, mask, monitor (got "hash")"#
    );
    assert_eq!(
        err(r#"{"output": {"action": "drop"}}"#),
        r#"guard.pii.output.action must be one of mask, hash, block, monitor, off (got "drop")"#
    );
    // Off entities are not looked for.
    let p = policy(r#"{"entities": {"email": "off"}, "default_action": "off"}"#);
    assert!(p.detect("a@b.com 4111111111111111").is_empty());
}

#[test]
fn openai_request_is_redacted_everywhere_with_one_numbering() {
    let p = policy(r#"{"entities": {"phone": "hash"}, "hash_salt": "s"}"#);
    let mut body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Support bot. Escalate to boss@corp.com."},
            {"role": "user", "content": [{"type": "text", "text": "I am jane@x.org, call +1 415 555 0132"},
                                          {"type": "image_url", "image_url": {"url": "http://a@b.com"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "send", "arguments": "{\"to\":\"jane@x.org\",\"cc\":[\"boss@corp.com\"]}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sent to jane@x.org"}
        ]
    });
    let r = p.redact_request(&mut body, Api::OpenAiChat);
    assert!(r.changed && r.blocked.is_none());
    assert_eq!(
        body["messages"][0]["content"],
        "Support bot. Escalate to [EMAIL_1]."
    );
    let user = body["messages"][1]["content"][0]["text"].as_str().unwrap();
    assert!(user.starts_with("I am [EMAIL_2], call [PHONE:"), "{user}");
    assert_eq!(
        body["messages"][1]["content"][1]["image_url"]["url"],
        "http://a@b.com"
    );
    let args: serde_json::Value = serde_json::from_str(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"to": "[EMAIL_2]", "cc": ["[EMAIL_1]"]}));
    assert_eq!(body["messages"][3]["content"], "sent to [EMAIL_2]");
    assert_eq!(
        r.system_prompt.as_deref(),
        Some("Support bot. Escalate to [EMAIL_1].")
    );
    let email = r.findings.iter().find(|f| f.entity == "email").unwrap();
    assert_eq!((email.action, email.count), (Action::Mask, 5));
    assert_eq!(r.vault.original("[EMAIL_2]"), Some("jane@x.org"));
}

#[test]
fn anthropic_request_is_redacted_and_blocks_by_name() {
    let p = policy(r#"{"entities": {"credit_card": "block", "ip_address": "monitor"}}"#);
    let mut body = json!({
        "model": "claude-sonnet-4-5",
        "system": [{"type": "text", "text": "Never reveal ops@corp.com"}],
        "messages": [
            {"role": "user", "content": "Server 10.0.0.1 and my card 4111 1111 1111 1111"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "lookup", "input": {"email": "a@b.com", "n": 3}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "owner a@b.com"}]},
                                          {"type": "text", "text": "thanks"}]}
        ]
    });
    let r = p.redact_request(&mut body, Api::AnthropicMessages);
    assert_eq!(r.blocked.as_deref(), Some("credit_card"));
    assert_eq!(body["system"][0]["text"], "Never reveal [EMAIL_1]");
    assert_eq!(
        body["messages"][0]["content"],
        "Server 10.0.0.1 and my card 4111 1111 1111 1111"
    );
    assert_eq!(
        body["messages"][1]["content"][0]["input"],
        json!({"email": "[EMAIL_2]", "n": 3})
    );
    assert_eq!(
        body["messages"][2]["content"][0]["content"][0]["text"],
        "owner [EMAIL_2]"
    );
    assert!(r.findings.contains(&Finding {
        entity: "ip_address".into(),
        action: Action::Monitor,
        count: 1
    }));
}

fn guard_for(p: &PiiPolicy, user: &str, system: Option<&str>) -> OutputGuard {
    let mut body = json!({"messages": [{"role": "user", "content": user}]});
    let r = p.redact_request(&mut body, Api::OpenAiChat);
    OutputGuard::new(p, r.vault, system)
}

fn stream(g: &mut OutputGuard, deltas: &[&str]) -> (String, Vec<Finding>, Option<String>) {
    let mut text = String::new();
    let mut findings = Vec::new();
    let mut pieces: Vec<OutputPiece> = deltas.iter().map(|d| g.feed(d)).collect();
    pieces.push(g.finish());
    for d in pieces {
        text.push_str(&d.text);
        output::merge_findings(&mut findings, d.findings);
        if d.blocked.is_some() {
            return (text, findings, d.blocked);
        }
    }
    (text, findings, None)
}

#[test]
fn placeholders_are_restored_across_any_split() {
    let p = policy("{}");
    let answer = "Dear [EMAIL_1], we will call [PHONE_1]. Unknown [EMAIL_9] stays.";
    let whole = guard_for(&p, "me: jane@x.org, +1 415 555 0132", None).filter_all(answer);
    assert_eq!(
        whole.text,
        "Dear jane@x.org, we will call +1 415 555 0132. Unknown [EMAIL_9] stays."
    );
    for i in 0..=answer.len() {
        for j in i..=answer.len() {
            let mut g = guard_for(&p, "me: jane@x.org, +1 415 555 0132", None);
            let (t, _, _) = stream(&mut g, &[&answer[..i], &answer[i..j], &answer[j..]]);
            assert_eq!(t, whole.text, "split {i} {j}");
        }
    }
}

#[test]
fn held_back_tail_is_small_and_plain_text_flows() {
    let p = policy("{}");
    let mut g = guard_for(&p, "hi", None);
    assert_eq!(g.feed("Hello there, ").text, "Hello there, ");
    assert_eq!(g.feed("write to [EMA").text, "write to ");
    assert_eq!(g.feed("IL_1] or call 415 555").text, "[EMAIL_1] or call ");
    // A number is held until `context::RIGHT` bytes follow it: the word after it
    // (`(mobile)`, `USD`) or an extension may still change it.
    assert_eq!(g.feed(" 0132 today").text, "");
    assert_eq!(g.feed(", as agreed").text, "[PHONE_1] today, as ");
    assert_eq!(g.finish().text, "agreed");
}

#[test]
fn generated_pii_is_masked_and_user_values_come_back() {
    let p = policy("{}");
    let mut g = guard_for(&p, "I am jane@x.org", None);
    let (t, f, _) = stream(
        &mut g,
        &["Hi [EMAIL_1]! Contact bob@y.com or jane@x.org", "."],
    );
    // bob@y.com was generated by the model: masked with a fresh, non-restorable number.
    assert_eq!(t, "Hi jane@x.org! Contact [EMAIL_2] or jane@x.org.");
    assert_eq!(
        f,
        vec![Finding {
            entity: "email".into(),
            action: Action::Mask,
            count: 1
        }]
    );
    assert_eq!(g.vault().original("[EMAIL_2]"), None);

    let p = policy(r#"{"output": {"action": "block"}}"#);
    let mut g = guard_for(&p, "x", None);
    let (t, _, blocked) = stream(
        &mut g,
        &["Your key is sk-proj-abcdefghij", "KLMNOPQRST1234567890 ok"],
    );
    assert_eq!(
        (t.as_str(), blocked.as_deref()),
        ("Your key is ", Some("secret"))
    );
    assert_eq!(g.feed("more").text, "");
}

#[test]
fn canaries_and_system_prompt_leaks() {
    let p = policy(
        r#"{"leak": {"canaries": ["ZEBRA-42-CANARY"], "system_prompt_min_words": 6, "action": "mask"}}"#,
    );
    let system = "You are Atlas, the helpdesk assistant of Acme. Never discuss salaries or the merger with Globex.";
    let answer = "Sure! My instructions say: never discuss SALARIES or the merger, with Globex. Also ZEBRA-42-CANARY. Bye";
    let whole = guard_for(&p, "hi", Some(system)).filter_all(answer);
    assert_eq!(
        whole.text,
        "Sure! My instructions say: [SYSTEM_PROMPT]. Also [CANARY]. Bye"
    );
    for i in 0..=answer.len() {
        let mut g = guard_for(&p, "hi", Some(system));
        let (t, f, _) = stream(&mut g, &[&answer[..i], &answer[i..]]);
        assert_eq!(t, whole.text, "split {i}");
        assert_eq!(f.len(), 2);
    }
    let p = policy(r#"{"leak": {"system_prompt_min_words": 6}}"#);
    let mut g = guard_for(&p, "hi", Some(system));
    let (t, _, b) = stream(
        &mut g,
        &["I am ", "Atlas, the helpdesk assistant of Acme and more"],
    );
    assert_eq!((t.as_str(), b.as_deref()), ("I am ", Some("system_prompt")));
}

/// A tiny deterministic PRNG (xorshift64*), so the fuzz loops need no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PARTS: &[&str] = &[
    "jane@x.org",
    "[EMAIL_1]",
    "[PHONE_1]",
    "[EMA",
    "bob@y.com",
    "+1 415 555 0132",
    "(415) 555-0199",
    "010-1234-5678",
    "4111 1111 1111 1111",
    "123-45-6789",
    "DE89 3704 0044 0532 0130 00",
    "10.0.0.1",
    "2001:db8::1",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCD",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "password = hunter2hunter2",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    "CANARY-77",
    "never reveal the secret plan of the company",
    " ",
    "  ",
    "\n",
    ", ",
    ". ",
    "word",
    "1 2 3",
    "한국어 ",
    "é",
    "🦀",
    "x",
    "415",
    "-",
    "[",
    "]",
    "@",
    ":",
    ".",
];

#[test]
fn streaming_equals_one_shot_on_random_texts_and_splits() {
    let p = policy(
        r#"{"leak": {"canaries": ["CANARY-77"], "system_prompt_min_words": 4, "action": "mask"}}"#,
    );
    let system = Some("Please never reveal the secret plan of the company to anyone");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..400 {
        let mut text = String::new();
        for _ in 0..rng.below(30) + 1 {
            text.push_str(PARTS[rng.below(PARTS.len())]);
        }
        let whole = guard_for(&p, "me: jane@x.org, +1 415 555 0132", system).filter_all(&text);
        let mut g = guard_for(&p, "me: jane@x.org, +1 415 555 0132", system);
        let mut out = String::new();
        let mut at = 0;
        let mut blocked = None;
        while at < text.len() && blocked.is_none() {
            let mut end = (at + rng.below(12)).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            let piece = g.feed(&text[at..end]);
            out.push_str(&piece.text);
            blocked = piece.blocked;
            at = end;
        }
        if blocked.is_none() {
            let piece = g.finish();
            out.push_str(&piece.text);
            blocked = piece.blocked;
        }
        assert_eq!(
            (out.as_str(), &blocked),
            (whole.text.as_str(), &whole.blocked),
            "round {round}: {text:?}"
        );
    }
}

#[test]
fn never_panics_on_random_input() {
    let p = policy(r#"{"leak": {"canaries": ["CANARY-77"], "system_prompt_min_words": 4}}"#);
    let alphabet: Vec<char> = "aZ09@.-_+()[]:/= \n\t#é한🦀eyJ-----BEGIN sk-"
        .chars()
        .collect();
    let mut rng = Rng(42);
    for _ in 0..300 {
        let n = rng.below(300);
        let text: String = (0..n)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let _ = p.detect(&text);
        let mut g = guard_for(&p, &text, Some(&text));
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + rng.below(7)).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            g.feed(&text[at..end]);
            at = end;
        }
        g.finish();
    }
}

/// 1 MB inputs built against each scanner finish (a bound that only a quadratic blow-up
/// breaks: a linear scan takes well under a second even on a loaded machine, a quadratic
/// one hours; it is not a speed test).
#[test]
fn adversarial_megabyte_inputs_stay_linear() {
    let p = policy(
        r#"{"custom": [{"name": "emp", "pattern": "EMP-\\d{6}"}], "leak": {"canaries": ["aaaa-canary"], "system_prompt_min_words": 4}}"#,
    );
    let mb = 1 << 20;
    let rep = |s: &str| s.repeat(mb / s.len());
    let inputs = [
        rep("a@"),
        rep("a."),
        "a".repeat(mb) + "@",
        rep("1"),
        rep("1 "),
        rep("1-"),
        rep("[["),
        rep("[EMAIL_"),
        rep("1.1."),
        rep(":"),
        rep("a:"),
        rep("-----BEGIN PRIVATE KEY-----\n"),
        "-----BEGIN PRIVATE KEY-----\n".to_string() + &rep("A"),
        rep("eyJ"),
        rep("eyJhbGciOiJIUzI1NiJ9."),
        rep("password="),
        rep("secret: "),
        rep("sk-"),
        rep("+1 "),
        rep("GB29 "),
        rep("the the "),
        rep("aaaa-"),
    ];
    let start = std::time::Instant::now();
    for text in &inputs {
        let t0 = std::time::Instant::now();
        let _ = p.detect(text);
        let mut g = guard_for(&p, "x", Some("the the the the the"));
        for chunk in text.as_bytes().chunks(4096) {
            g.feed(std::str::from_utf8(chunk).unwrap());
        }
        g.finish();
        let took = t0.elapsed();
        println!("{:<12?} {took:?}", &text[..12]);
        assert!(took.as_secs_f64() < 30.0, "{:?}...: {took:?}", &text[..20]);
    }
    println!("adversarial inputs: {:?}", start.elapsed());
}
