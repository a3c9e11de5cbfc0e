//! Tar layers: deterministic writer, safe applier (whiteouts, no path escape), gzip/zstd, digests and diffIDs in one pass
