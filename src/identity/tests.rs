use super::*;

fn sha(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn identity(json: String) -> Result<Identity, ConfigError> {
    compile(serde_json::from_str(&json).map_err(|e| ConfigError(e.to_string()))?)
}

fn demo() -> Identity {
    identity(format!(
        r#"{{"consumers":[
            {{"id":"alice","group":"free","key_sha256":"{}","models":["gpt-4o-mini"],"budget":{{"daily_usd":1}}}},
            {{"id":"bob","group":"pro","key_sha256":"{}"}},
            {{"id":"carol","group":"pro"}}],
          "jwt":{{"payload_key":"jwt_payload","group_claim":"tier"}}}}"#,
        sha("sk-alice"),
        sha("sk-bob")
    ))
    .unwrap()
}

#[test]
fn virtual_keys_identify_by_hash() {
    let id = demo();
    let alice = id
        .identify(&Credentials {
            authorization: Some("Bearer sk-alice"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            alice.consumer.id.as_str(),
            alice.consumer.group.as_str(),
            alice.source
        ),
        ("alice", "free", Source::ApiKey)
    );
    assert_eq!(alice.consumer.daily_budget_usd, Some(1.0));
    assert!(alice.consumer.may_use("gpt-4o-mini-2024-07-18") && !alice.consumer.may_use("gpt-4o"));
    let bob = id
        .identify(&Credentials {
            x_api_key: Some("sk-bob"),
            ..Default::default()
        })
        .unwrap()
        .unwrap();
    assert_eq!(bob.consumer.id, "bob");
}

#[test]
fn unknown_missing_and_malformed_keys_are_refused() {
    let id = demo();
    let unknown = Credentials {
        authorization: Some("Bearer sk-mallory"),
        ..Default::default()
    };
    assert_eq!(id.identify(&unknown), Err(IdentityError::InvalidKey));
    assert_eq!(
        id.identify(&Credentials::default()),
        Err(IdentityError::InvalidKey)
    );
    let basic = Credentials {
        authorization: Some("Basic abc"),
        ..Default::default()
    };
    assert!(matches!(
        id.identify(&basic),
        Err(IdentityError::MalformedKey(_))
    ));
    let long = format!("Bearer {}", "k".repeat(300));
    let long = Credentials {
        authorization: Some(&long),
        ..Default::default()
    };
    assert!(matches!(
        id.identify(&long),
        Err(IdentityError::MalformedKey(_))
    ));
}

#[test]
fn jwt_claims_win_and_map_to_known_consumers() {
    let id = demo();
    let creds = Credentials {
        authorization: Some("Bearer eyJhbGciOi.not-a-virtual-key"),
        jwt_claims: Some((Some("carol"), None)),
        ..Default::default()
    };
    let carol = id.identify(&creds).unwrap().unwrap();
    assert_eq!(
        (
            carol.consumer.id.as_str(),
            carol.consumer.group.as_str(),
            carol.source
        ),
        ("carol", "pro", Source::Jwt)
    );
    let stranger = Credentials {
        jwt_claims: Some((Some("dave@example.com"), Some("free"))),
        ..Default::default()
    };
    let dave = id.identify(&stranger).unwrap().unwrap();
    assert_eq!(
        (dave.consumer.id.as_str(), dave.consumer.group.as_str()),
        ("dave@example.com", "free")
    );
    // jwt configured, no verified JWT on this request: the bearer value is a virtual key.
    let key = Credentials {
        authorization: Some("Bearer sk-bob"),
        jwt_claims: Some((None, None)),
        ..Default::default()
    };
    assert_eq!(id.identify(&key).unwrap().unwrap().consumer.id, "bob");
}

#[test]
fn trusted_header_only_when_configured() {
    let off = demo();
    let creds = Credentials {
        trusted: Some((Some("eve"), None)),
        ..Default::default()
    };
    assert_eq!(off.identify(&creds), Err(IdentityError::InvalidKey));
    let on = identity(r#"{"trusted_header":{"consumer":"x-consumer-id"}}"#.to_string()).unwrap();
    assert_eq!(
        on.identify(&creds).unwrap().unwrap().source,
        Source::TrustedHeader
    );
}

#[test]
fn optional_identity_lets_anonymous_through() {
    let id = identity(format!(
        r#"{{"required":false,"consumers":[{{"id":"a","key_sha256":"{}"}}]}}"#,
        sha("k")
    ))
    .unwrap();
    assert_eq!(id.identify(&Credentials::default()), Ok(None));
    let wrong = Credentials {
        x_api_key: Some("nope"),
        ..Default::default()
    };
    assert_eq!(id.identify(&wrong), Err(IdentityError::InvalidKey));
}

#[test]
fn config_errors_name_the_field() {
    let e = identity(r#"{"consumers":[{"id":"a","key_sha256":"XYZ"}]}"#.into()).unwrap_err();
    assert_eq!(e.0, "identity.consumers[0].key_sha256 must be 64 lowercase hex characters, a SHA-256 (got \"XYZ\")");
    let e = identity(format!(
        r#"{{"consumers":[{{"id":"a","key_sha256":"{0}"}},{{"id":"b","key_sha256":"{0}"}}]}}"#,
        sha("k")
    ))
    .unwrap_err();
    assert_eq!(
        e.0,
        "identity.consumers[1].key_sha256 must be unique (same as consumer \"a\")"
    );
    let e = identity(r#"{"consumers":[{"id":"a b"}]}"#.into()).unwrap_err();
    assert!(
        e.0.starts_with("identity.consumers[0].id must be 1-64 characters"),
        "{}",
        e.0
    );
    let e = identity(r#"{"consumers":[]}"#.into()).unwrap_err();
    assert!(
        e.0.starts_with("identity needs at least one source"),
        "{}",
        e.0
    );
    let e = identity(format!(
        r#"{{"consumers":[{{"id":"a","key_sha256":"{}","budget":{{"daily_usd":-1}}}}]}}"#,
        sha("k")
    ))
    .unwrap_err();
    assert_eq!(
        e.0,
        "identity.consumers[0].budget.daily_usd must be a positive number of USD (got -1)"
    );
}
