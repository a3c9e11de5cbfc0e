//! BuildKit's build checks.
