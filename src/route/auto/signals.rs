//! Cheap signals of how hard a chat request is, read from the request object and its
//! already-counted input tokens: one pass of substring search over at most
//! `max_scan_bytes` of user text, no allocation per cue.

use serde_json::{Map, Value};

use crate::config_error::ConfigError;

use super::config::{RawWeights, Thresholds};

/// A signal that can add points to a request's score. The names appear in
/// `x-llm-route-reason`, so they are short ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    ReasoningCue,
    AnalysisCue,
    AnalysisDepth,
    AnalysisBreadth,
    TaskCue,
    CodeBlock,
    CodeLike,
    CodingCue,
    Math,
    LengthDemand,
    MultiPart,
    Tools,
    JsonSchema,
    LongInput,
    VeryLongInput,
    DeepConversation,
    SimpleCue,
}

const ALL: [Signal; 17] = [
    Signal::ReasoningCue,
    Signal::AnalysisCue,
    Signal::AnalysisDepth,
    Signal::AnalysisBreadth,
    Signal::TaskCue,
    Signal::CodeBlock,
    Signal::CodeLike,
    Signal::CodingCue,
    Signal::Math,
    Signal::LengthDemand,
    Signal::MultiPart,
    Signal::Tools,
    Signal::JsonSchema,
    Signal::LongInput,
    Signal::VeryLongInput,
    Signal::DeepConversation,
    Signal::SimpleCue,
];

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::ReasoningCue => "reasoning_cue",
            Signal::AnalysisCue => "analysis_cue",
            Signal::AnalysisDepth => "analysis_cues>=2",
            Signal::AnalysisBreadth => "analysis_cues>=3",
            Signal::TaskCue => "task_cue",
            Signal::CodeBlock => "code_block",
            Signal::CodeLike => "code_like",
            Signal::CodingCue => "coding_cue",
            Signal::Math => "math",
            Signal::LengthDemand => "length_demand",
            Signal::MultiPart => "multi_part",
            Signal::Tools => "tools",
            Signal::JsonSchema => "json_schema",
            Signal::LongInput => "long_input",
            Signal::VeryLongInput => "very_long_input",
            Signal::DeepConversation => "deep_conversation",
            Signal::SimpleCue => "simple_cue",
        }
    }
}

/// Points per signal (compiled `routing.weights`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights {
    points: [i32; ALL.len()],
}

impl Default for Weights {
    fn default() -> Self {
        let mut points = [0; ALL.len()];
        for s in ALL {
            points[s as usize] = match s {
                Signal::ReasoningCue => 7,
                Signal::AnalysisCue => 3,
                Signal::AnalysisDepth => 2,
                Signal::AnalysisBreadth => 2,
                Signal::TaskCue => 3,
                Signal::CodeBlock => 2,
                Signal::CodeLike => 1,
                Signal::CodingCue => 1,
                Signal::Math => 2,
                Signal::LengthDemand => 1,
                Signal::MultiPart => 1,
                Signal::Tools => 2,
                Signal::JsonSchema => 1,
                Signal::LongInput => 2,
                Signal::VeryLongInput => 4,
                Signal::DeepConversation => 1,
                Signal::SimpleCue => -2,
            };
        }
        Weights { points }
    }
}

impl Weights {
    pub fn of(&self, s: Signal) -> i32 {
        self.points[s as usize]
    }

    pub(super) fn compile(raw: RawWeights) -> Result<Weights, ConfigError> {
        let mut w = Weights::default();
        let given = [
            (Signal::ReasoningCue, raw.reasoning_cue),
            (Signal::AnalysisCue, raw.analysis_cue),
            (Signal::AnalysisDepth, raw.analysis_depth),
            (Signal::AnalysisBreadth, raw.analysis_breadth),
            (Signal::TaskCue, raw.task_cue),
            (Signal::CodeBlock, raw.code_block),
            (Signal::CodeLike, raw.code_like),
            (Signal::CodingCue, raw.coding_cue),
            (Signal::Math, raw.math),
            (Signal::LengthDemand, raw.length_demand),
            (Signal::MultiPart, raw.multi_part),
            (Signal::Tools, raw.tools),
            (Signal::JsonSchema, raw.json_schema),
            (Signal::LongInput, raw.long_input),
            (Signal::VeryLongInput, raw.very_long_input),
            (Signal::DeepConversation, raw.deep_conversation),
            (Signal::SimpleCue, raw.simple_cue),
        ];
        for (s, v) in given {
            if let Some(v) = v {
                if !(-20..=20).contains(&v) {
                    return Err(ConfigError(format!(
                        "routing.weights.{} must be between -20 and 20 points (got {v})",
                        s.name()
                    )));
                }
                w.points[s as usize] = v;
            }
        }
        Ok(w)
    }
}

/// The signals of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signals {
    pub input_tokens: u64,
    pub messages: u64,
    fired: [bool; ALL.len()],
}

impl Signals {
    /// Reads the signals of an OpenAI chat-completions request object.
    pub fn of(request: &Map<String, Value>, input_tokens: u64, t: &Thresholds) -> Signals {
        let mut s = Signals {
            input_tokens,
            messages: 0,
            fired: [false; ALL.len()],
        };
        let messages = match request.get("messages") {
            Some(Value::Array(m)) => m.as_slice(),
            _ => &[],
        };
        s.messages = messages.len() as u64;
        s.set(
            Signal::DeepConversation,
            s.messages >= t.deep_conversation_messages,
        );
        s.set(
            Signal::VeryLongInput,
            input_tokens >= t.very_long_input_tokens,
        );
        s.set(
            Signal::LongInput,
            input_tokens >= t.long_input_tokens && input_tokens < t.very_long_input_tokens,
        );
        let offered = |k: &str| matches!(request.get(k), Some(Value::Array(a)) if !a.is_empty());
        s.set(Signal::Tools, offered("tools") || offered("functions"));
        let schema = request
            .get("response_format")
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            == Some("json_schema");
        s.set(Signal::JsonSchema, schema);

        let text = user_text(messages, t.max_scan_bytes);
        s.scan_text(&text);
        s
    }

    fn set(&mut self, signal: Signal, on: bool) {
        self.fired[signal as usize] = on;
    }

    pub fn has(&self, signal: Signal) -> bool {
        self.fired[signal as usize]
    }

    /// The signals that fired, in a fixed order.
    pub fn fired(&self) -> impl Iterator<Item = Signal> + '_ {
        ALL.into_iter().filter(|s| self.has(*s))
    }

    /// Sum of the weights of the signals that fired.
    pub fn score(&self, w: &Weights) -> i32 {
        self.fired().map(|s| w.of(s)).sum()
    }

    fn scan_text(&mut self, raw: &str) {
        let text = Lowered::new(raw);
        self.set(Signal::ReasoningCue, text.any(REASONING));
        let analysis = text.count(ANALYSIS);
        self.set(Signal::AnalysisCue, analysis >= 1);
        self.set(Signal::AnalysisDepth, analysis >= 2);
        self.set(Signal::AnalysisBreadth, analysis >= 3);
        self.set(Signal::TaskCue, text.any(TASK));
        self.set(Signal::CodingCue, text.any(CODING));
        self.set(
            Signal::LengthDemand,
            text.any(LENGTH) || counted_length(&text.text),
        );
        self.set(Signal::SimpleCue, text.any(SIMPLE));
        self.set(
            Signal::Math,
            text.any(MATH_WORDS) || raw.chars().any(is_math_symbol) || has_power(raw),
        );
        self.set(Signal::CodeBlock, raw.contains("```"));
        // Fenced code is the stronger form of the same evidence; count it once.
        self.set(
            Signal::CodeLike,
            !self.has(Signal::CodeBlock) && code_like_lines(raw) >= 2,
        );
        self.set(Signal::MultiPart, multi_part(raw));
    }
}

/// User text, newest message first, at most `max` bytes (cut at a char boundary).
fn user_text(messages: &[Value], max: usize) -> String {
    let mut out = String::new();
    for m in messages.iter().rev() {
        if m.get("role").and_then(Value::as_str) != Some("user") {
            continue;
        }
        let mut push = |s: &str| {
            let room = max.saturating_sub(out.len());
            let mut end = s.len().min(room);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(&s[..end]);
            out.push('\n');
        };
        match m.get("content") {
            Some(Value::String(s)) => push(s),
            Some(Value::Array(parts)) => {
                for p in parts {
                    if let Some(Value::String(s)) = p.get("text") {
                        push(s);
                    }
                }
            }
            _ => {}
        }
        if out.len() >= max {
            break;
        }
    }
    out
}

/// Lower-cased user text, and whether it is all ASCII (most prompts are: then the
/// non-ASCII cues are skipped without a search).
struct Lowered {
    text: String,
    ascii: bool,
}

impl Lowered {
    fn new(raw: &str) -> Lowered {
        Lowered {
            text: raw.to_lowercase(),
            ascii: raw.is_ascii(),
        }
    }

    /// Whether the text contains any of `cues`.
    fn any(&self, cues: &[&str]) -> bool {
        cues.iter().any(|cue| self.has(cue))
    }

    /// How many distinct cues of `cues` the text contains.
    fn count(&self, cues: &[&str]) -> usize {
        cues.iter().filter(|cue| self.has(cue)).count()
    }

    /// A cue that starts with an ASCII letter or digit must start a word ("prove" matches
    /// "proves" but not "improve"); CJK cues match anywhere, since those scripts do not
    /// separate words.
    fn has(&self, cue: &str) -> bool {
        if self.ascii && !cue.is_ascii() {
            return false;
        }
        let word = cue.starts_with(|c: char| c.is_ascii_alphanumeric());
        let text = self.text.as_str();
        text.match_indices(cue).any(|(i, _)| {
            !word
                || !text[..i]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
        })
    }
}

fn is_math_symbol(c: char) -> bool {
    matches!(
        c,
        '∑' | '∫'
            | '√'
            | '≤'
            | '≥'
            | '≠'
            | '∀'
            | '∃'
            | '∈'
            | '∞'
            | '≡'
            | '∂'
            | '⇒'
            | '⟹'
            | 'π'
            | '∏'
            | '²'
            | '³'
    )
}

/// `x^2`, `n^k`, `\frac`, `$...$`-style notation.
fn has_power(raw: &str) -> bool {
    const LATEX: &[&str] = &[
        "\\frac", "\\sum", "\\int", "\\sqrt", "\\lim", "\\mathbb", "$$",
    ];
    if LATEX.iter().any(|l| raw.contains(l)) {
        return true;
    }
    let b = raw.as_bytes();
    b.windows(3).any(|w| {
        w[0].is_ascii_alphanumeric()
            && w[1] == b'^'
            && (w[2].is_ascii_alphanumeric() || w[2] == b'{' || w[2] == b'(')
    })
}

/// "500 words", "3 pages", "2000字", "1000단어": a number followed by a length unit.
fn counted_length(text: &str) -> bool {
    const UNITS: &[&str] = &[
        " words",
        " pages",
        " paragraphs",
        "단어",
        "자",
        "語",
        "文字",
        "字",
        " palabras",
        " páginas",
        " wörter",
        " seiten",
        " mots",
    ];
    UNITS.iter().any(|u| {
        text.match_indices(u).any(|(i, _)| {
            let before = text[..i].trim_end();
            let digits = before
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .count();
            digits > 0
                && before[before.len() - digits..]
                    .parse::<u32>()
                    .is_ok_and(|n| n >= 500)
        })
    })
}

fn code_like_lines(raw: &str) -> usize {
    const STARTS: &[&str] = &[
        "def ",
        "fn ",
        "function ",
        "class ",
        "import ",
        "#include",
        "public ",
        "private ",
        "return ",
        "const ",
        "let ",
        "var ",
        "select ",
        "for (",
        "if (",
        "while (",
        "traceback",
        "file \"",
        "error:",
        "exception",
        "panic",
        "}",
    ];
    raw.lines()
        .filter(|l| {
            let t = l.trim();
            let lower = t.to_ascii_lowercase();
            (t.len() > 1 && (t.ends_with(';') || t.ends_with('{') || t.ends_with("):")))
                || (l.starts_with("    ") && t.contains('(') && t.contains(')'))
                || STARTS
                    .iter()
                    .any(|s| lower.starts_with(s) && t.len() > s.len() + 1)
        })
        .count()
}

/// Three or more numbered items or questions.
fn multi_part(raw: &str) -> bool {
    let numbered = raw
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            let digits = t.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && digits < 3 && matches!(t.as_bytes().get(digits), Some(b'.' | b')'))
        })
        .count();
    let questions = raw.matches(['?', '？']).count();
    numbered >= 3 || questions >= 3
}

/// Proof, derivation, "step by step", careful reasoning.
const REASONING: &[&str] = &[
    // English
    "step by step",
    "step-by-step",
    "prove",
    "proof ",
    "derive",
    "derivation",
    "rigorous",
    "formally",
    "show that",
    "think carefully",
    "reason through",
    "think through",
    // Korean
    "단계별",
    "증명",
    "유도",
    "차근차근",
    "논리적으로",
    // Japanese
    "証明",
    "ステップバイステップ",
    "段階的",
    "導出",
    "一歩ずつ",
    "順を追って",
    // Chinese
    "证明",
    "一步一步",
    "逐步",
    "推导",
    // Spanish
    "paso a paso",
    "demuestra",
    "demostrar",
    "demostración",
    "deriva ",
    // German
    "schritt für schritt",
    "beweise",
    "beweis ",
    "herleit",
    "leite ",
    // French
    "étape par étape",
    "démontre",
    "démonstration",
    "prouve",
    "dérive",
];

/// Analysis, design, comparison, optimisation, planning, hard systems topics. Counted
/// by distinct cue, so no cue may contain another (checked in the tests).
const ANALYSIS: &[&str] = &[
    // English
    "analy",
    "compar",
    "trade-off",
    "tradeoff",
    "evaluat",
    "design",
    "architect",
    "optimi",
    "strateg",
    "pros and cons",
    "implications",
    "root cause",
    "assess",
    "critique",
    "migrat",
    "scalab",
    "prioriti",
    "diagnos",
    "concurren",
    "lock-free",
    "consistency",
    "distributed",
    "race condition",
    "deadlock",
    "memory leak",
    "risk",
    // Korean
    "분석",
    "비교",
    "설계",
    "최적화",
    "평가",
    "장단점",
    "전략",
    "아키텍처",
    "확장성",
    "메모리 누수",
    // Japanese
    "比較",
    "設計",
    "最適化",
    "評価",
    "戦略",
    "検討",
    "移行",
    "整合性",
    "並列",
    // Chinese and Japanese (分析 is both)
    "分析",
    "比较",
    "设计",
    "优化",
    "评估",
    "策略",
    "权衡",
    "分布式",
    "多线程",
    "高可用",
    // Spanish
    "analiza",
    "diseñ",
    "evalú",
    "ventajas y desventajas",
    "arquitectura",
    "migración",
    "estrateg",
    // German
    "vergleich",
    "entwirf",
    "entwerfen",
    "bewerte",
    "vor- und nachteile",
    "speicherleck",
    "ursachen",
    // French
    "conçois",
    "concevoir",
    "évalue",
    "avantages et inconvénients",
    "compromis",
    "stratég",
];

/// An ordinary task beyond a lookup: explain, write, summarise, draft, fix, why.
const TASK: &[&str] = &[
    "explain",
    "write",
    "summar",
    "draft",
    "create",
    "describe",
    "difference",
    "how does",
    "how do i",
    "fix",
    "why",
    "outline",
    "help me",
    "plan",
    "itinerary",
    "설명",
    "작성",
    "써 줘",
    "써줘",
    "차이",
    "요약",
    "왜",
    "방법",
    "説明",
    "書いて",
    "違い",
    "要約",
    "なぜ",
    "作成",
    "方法",
    "解释",
    "介绍",
    "写一",
    "帮我写",
    "区别",
    "总结",
    "为什么",
    "怎么",
    "如何",
    "explica",
    "escribe",
    "redacta",
    "resume",
    "diferencia",
    "por qué",
    "cómo funciona",
    "erkläre",
    "schreibe",
    "formuliere",
    "unterschied",
    "zusammenfass",
    "warum",
    "wie funktioniert",
    "erstelle",
    "explique",
    "écris",
    "rédige",
    "différence",
    "résume",
    "pourquoi",
    "comment fonctionne",
];

/// Writing or fixing code.
const CODING: &[&str] = &[
    "function",
    "implement",
    "script",
    "code",
    "bug",
    "debug",
    "stack trace",
    "refactor",
    "compile",
    "regex",
    "sql",
    "unit test",
    "segfault",
    "null pointer",
    "python",
    "rust",
    "javascript",
    "typescript",
    "java ",
    "golang",
    "c++",
    "kubernetes",
    "docker",
    "typeerror",
    "exception",
    "react",
    "코드",
    "함수",
    "버그",
    "디버그",
    "에러",
    "오류",
    "구현",
    "리팩터",
    "자바스크립트",
    "파이썬",
    "コード",
    "関数",
    "バグ",
    "デバッグ",
    "エラー",
    "実装",
    "リファクタ",
    "代码",
    "函数",
    "调试",
    "实现",
    "重构",
    "报错",
    "código",
    "función",
    "depura",
    "funktion",
    "fehler im",
    "programm",
    "fonction",
    "débogu",
    "implément",
];

/// Math vocabulary (notation is checked separately).
const MATH_WORDS: &[&str] = &[
    "integral",
    "derivative",
    "eigen",
    "matrix",
    "polynomial",
    "equation",
    "probabilit",
    "lemma",
    "prime",
    "modulo",
    "inequality",
    "irrational",
    "converge",
    "induction",
    "recurrence",
    "방정식",
    "적분",
    "미분",
    "행렬",
    "확률",
    "소수",
    "方程",
    "積分",
    "微分",
    "行列",
    "確率",
    "定理",
    "素数",
    "漸化式",
    "帰納法",
    "积分",
    "矩阵",
    "概率",
    "整除",
    "ecuación",
    "derivada",
    "matriz",
    "probabilidad",
    "teorema",
    "primo",
    "gleichung",
    "ableitung",
    "wahrscheinlichkeit",
    "primzahl",
    "grenzwert",
    "équation",
    "intégrale",
    "dérivée",
    "matrice",
    "probabilité",
    "théorème",
];

/// An explicit demand for a long or thorough answer.
const LENGTH: &[&str] = &[
    "in detail",
    "detailed",
    "comprehensive",
    "thorough",
    "in depth",
    "in-depth",
    "essay",
    "report",
    "long-form",
    "자세히",
    "상세",
    "구체적으로",
    "보고서",
    "詳しく",
    "詳細",
    "網羅",
    "レポート",
    "详细",
    "全面",
    "深入",
    "报告",
    "detallad",
    "en profundidad",
    "exhaustiv",
    "informe",
    "ausführlich",
    "detailliert",
    "umfassend",
    "bericht",
    "en détail",
    "détaillé",
    "approfondi",
    "exhaustif",
    "rapport",
];

/// Lookups, definitions, translations, brevity.
const SIMPLE: &[&str] = &[
    "what is",
    "what's",
    "who is",
    "who was",
    "when did",
    "when was",
    "define ",
    "translate",
    "synonym",
    "typo",
    "capital of",
    "in one sentence",
    "briefly",
    "tl;dr",
    "spell",
    "how do you say",
    "convert",
    "rewrite",
    "rephrase",
    "fix the grammar",
    "proofread",
    "one-line",
    "shorten",
    "뭐야",
    "무엇인가",
    "번역",
    "한 문장",
    "간단히",
    "짧게",
    "뜻",
    "맞춤법",
    "とは",
    "翻訳",
    "一文で",
    "簡単に",
    "短く",
    "意味",
    "言い換え",
    "是什么",
    "翻译",
    "一句话",
    "简短",
    "意思",
    "改写",
    "qué es",
    "quién",
    "traduce",
    "en una frase",
    "brevemente",
    "sinónimo",
    "significa",
    "was ist",
    "wer ist",
    "übersetze",
    "in einem satz",
    "kurz ",
    "bedeutet",
    "qu'est-ce",
    "qui est",
    "traduis",
    "en une phrase",
    "brièvement",
    "signifie",
    "corrige",
];

#[cfg(test)]
pub(super) const COUNTED_CUES: &[&str] = ANALYSIS;

#[cfg(test)]
pub(super) const CUE_LISTS: &[(&str, &[&str])] = &[
    ("reasoning", REASONING),
    ("analysis", ANALYSIS),
    ("task", TASK),
    ("coding", CODING),
    ("math", MATH_WORDS),
    ("length", LENGTH),
    ("simple", SIMPLE),
];
