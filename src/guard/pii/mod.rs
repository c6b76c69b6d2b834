//! PII detection, masking and restore (work in progress).
