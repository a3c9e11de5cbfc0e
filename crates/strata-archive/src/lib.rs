//! docker-archive and OCI image layout import and export
