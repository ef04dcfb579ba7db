//! Local COS + CLS server that verifies every signature (filled by issue 3).
