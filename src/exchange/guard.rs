//! The guard stage in the exchange: the input rules on the body, the input-token cap once
//! the tokens are counted, and the LLM judge for a grey-zone injection score.

use super::{no_callout, BodyStage, CallAnswer, Callout, Exchange, HostView, Next};
use crate::config::Config;
use crate::errors::UserError;
use crate::guard::injection::semantic::SemanticGuard;
use crate::guard::injection::Decision;
use crate::guard::judge::Judge;
use crate::guard::{self, Acted, GuardPolicy, Mode};
use crate::metrics;

/// The rule set for this request (by path, group and consumer).
fn policy<'c>(config: &'c Config, ex: &Exchange) -> Option<&'c GuardPolicy> {
    let guard = config.guard.as_ref()?;
    let caller = ex.caller.as_ref();
    Some(guard.policy_for(
        &ex.path,
        caller.map(|c| c.consumer.group.as_str()),
        caller.map(|c| c.consumer.id.as_str()),
    ))
}

pub(super) const INPUT: BodyStage = BodyStage {
    name: "guard",
    run: input,
    resume: no_callout,
};

fn input(ex: &mut Exchange, config: &Config, _: &dyn HostView) -> Next {
    let Some(policy) = policy(config, ex) else {
        return Next::Go;
    };
    let enforce = policy.mode == Mode::Enforce;
    // The prompt stage may have parsed (and rewritten) the body already.
    let outcome = match ex.request.parsed.take() {
        Some(req) => guard::inspect_parsed(policy, ex.api, req),
        None => guard::inspect_request(policy, ex.api, &ex.request.body),
    };
    ex.acted = outcome.acted;
    if let Some(e) = outcome.blocked {
        return Next::Refuse(e, vec![]);
    }
    ex.request.answer_guard = outcome.answer;
    ex.request.guarded_body = outcome.body;
    ex.request.parsed = outcome.parsed;
    ex.request.judge_ask = outcome.judge.filter(|_| enforce);
    ex.request.semantic_ask = outcome.semantic;
    Next::Go
}

pub(super) const SEMANTIC: BodyStage = BodyStage {
    name: "guard_semantic",
    run: ask_semantic,
    resume: semantic_answer,
};

fn semantic_guard(config: &Config, ex: &Exchange) -> Option<SemanticGuard> {
    policy(config, ex)?.injection.as_ref()?.semantic.clone()
}

/// `guard.injection.semantic`: the nearest known attack to the last user turn.
fn ask_semantic(ex: &mut Exchange, config: &Config, _: &dyn HostView) -> Next {
    let Some(ask) = ex.request.semantic_ask.as_ref() else {
        return Next::Go;
    };
    let Some(g) = semantic_guard(config, ex) else {
        return Next::Go;
    };
    Next::Call(Callout {
        cluster: g.cluster.clone(),
        headers: vec![
            (":method".into(), "POST".into()),
            (":path".into(), g.path()),
            (":authority".into(), g.cluster.clone()),
            ("content-type".into(), "application/json".into()),
        ],
        body: g.body(&ask.text),
        timeout_ms: g.timeout_ms,
    })
}

/// The similarity joins the score; the joined score decides as the rules' would (block,
/// ask the judge, or pass). No answer: the signal is off, counted.
fn semantic_answer(
    ex: &mut Exchange,
    config: &Config,
    answer: &CallAnswer,
    _: &dyn HostView,
) -> Next {
    let (Some(ask), Some(g), Some(policy)) = (
        ex.request.semantic_ask.take(),
        semantic_guard(config, ex),
        policy(config, ex),
    ) else {
        return Next::Go;
    };
    let similarity = match answer.status {
        200 => SemanticGuard::similarity(&answer.body),
        _ => None,
    };
    let Some(similarity) = similarity else {
        log::info!(
            "llm-gateway: semantic injection signal off (sidecar status {})",
            answer.status
        );
        ex.pending
            .metrics
            .push(metrics::guard_semantic_lookup("error"));
        return Next::Go;
    };
    ex.pending
        .metrics
        .push(metrics::guard_semantic_lookup("ok"));
    let Some(injection) = policy.injection.as_ref() else {
        return Next::Go;
    };
    let score = g.combine(ask.score, similarity);
    let before = injection.decide(ask.score);
    let enforce = policy.mode == Mode::Enforce;
    match injection.decide(score) {
        Decision::Attack => {
            log::info!(
                "llm-gateway: injection score {:.2} with similarity {similarity:.2} to a known attack",
                score
            );
            if enforce {
                ex.acted.push(Acted::new("injection_semantic", "block"));
                let category = "prompt_injection".to_string();
                return Next::Refuse(UserError::ContentFilter { category }, vec![]);
            }
            ex.acted.push(Acted::new("injection_semantic", "flag"));
        }
        Decision::GreyZone if before == Decision::Clean => {
            ex.acted.push(Acted::new("injection_semantic", "flag"));
            if enforce && ex.request.judge_ask.is_none() {
                ex.request.judge_ask = Some(crate::guard::JudgeAsk {
                    text: ask.text,
                    score,
                });
            }
        }
        _ => {}
    }
    Next::Go
}

pub(super) const TOKEN_LIMIT: BodyStage = BodyStage {
    name: "token_limit",
    run: token_limit,
    resume: no_callout,
};

fn token_limit(ex: &mut Exchange, config: &Config, _: &dyn HostView) -> Next {
    let (Some(policy), Some(plan)) = (policy(config, ex), ex.plan.as_ref()) else {
        return Next::Go;
    };
    match guard::check_tokens(policy, plan.input_tokens) {
        Ok(()) => Next::Go,
        Err((acted, error)) => {
            ex.acted.push(acted);
            match error {
                Some(e) => Next::Refuse(e, vec![]),
                None => Next::Go,
            }
        }
    }
}

pub(super) const JUDGE: BodyStage = BodyStage {
    name: "judge",
    run: ask_judge,
    resume: judged,
};

fn judge(config: &Config) -> Option<&Judge> {
    config.guard.as_ref()?.judge.as_ref()
}

/// A grey-zone score asks the judge; the request waits for its verdict.
fn ask_judge(ex: &mut Exchange, config: &Config, _: &dyn HostView) -> Next {
    let (Some(ask), Some(judge)) = (ex.request.judge_ask.take(), judge(config)) else {
        return Next::Go;
    };
    let body = judge.request_body(&ask.text);
    let mut headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), judge.path.clone()),
        (":authority".to_string(), judge.authority.clone()),
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), body.len().to_string()),
    ];
    headers.extend(judge.headers.iter().cloned());
    Next::Call(Callout {
        cluster: judge.cluster.clone(),
        headers,
        body,
        timeout_ms: judge.timeout_ms,
    })
}

/// The judge's verdict (a timeout arrives as Envoy's own 504, a failed call as status 0).
fn judged(ex: &mut Exchange, config: &Config, answer: &CallAnswer, _: &dyn HostView) -> Next {
    let Some(judge) = judge(config) else {
        return Next::Go;
    };
    let verdict = Judge::verdict(answer.status, &answer.body);
    if judge.blocks(verdict) {
        ex.acted.push(Acted {
            rule: "judge".into(),
            action: "block",
        });
        let category = "prompt_injection".to_string();
        return Next::Refuse(UserError::ContentFilter { category }, vec![]);
    }
    ex.acted.push(Acted {
        rule: "judge".into(),
        action: "allow",
    });
    Next::Go
}
