//! The local content store: verified atomic blobs, metadata database, snapshots by chain ID, leases, locks, garbage collection
