//! An OCI distribution registry server over a storage trait (filesystem, S3)
