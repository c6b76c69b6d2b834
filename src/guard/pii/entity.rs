//! The built-in entity kinds, their configuration names and placeholder labels.

/// A built-in detector. Custom entities (config `custom`) are compiled separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    Email,
    Phone,
    CreditCard,
    UsSsn,
    KrRrn,
    Iban,
    IpAddress,
    Secret,
}

impl Builtin {
    pub const ALL: [Builtin; 8] = [
        Builtin::Email,
        Builtin::Phone,
        Builtin::CreditCard,
        Builtin::UsSsn,
        Builtin::KrRrn,
        Builtin::Iban,
        Builtin::IpAddress,
        Builtin::Secret,
    ];

    /// The stable name used in configuration, findings and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Email => "email",
            Builtin::Phone => "phone",
            Builtin::CreditCard => "credit_card",
            Builtin::UsSsn => "us_ssn",
            Builtin::KrRrn => "kr_rrn",
            Builtin::Iban => "iban",
            Builtin::IpAddress => "ip_address",
            Builtin::Secret => "secret",
        }
    }

    pub fn from_name(s: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// Placeholder label of an entity name: `credit_card` -> `CREDIT_CARD`.
pub fn label_of(name: &str) -> String {
    name.to_ascii_uppercase()
}
