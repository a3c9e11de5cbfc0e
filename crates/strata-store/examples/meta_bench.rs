//! Rough timing of metadata operations (each one opens the database under the lock file).
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let s = strata_store::Store::open(dir.path()).unwrap();
    let t = std::time::Instant::now();
    for i in 0..200 {
        s.put_record("bench", &format!("k{i}"), b"v").unwrap();
    }
    println!("put_record: {:?}/op", t.elapsed() / 200);
    let t = std::time::Instant::now();
    for i in 0..200 {
        s.get_record("bench", &format!("k{i}")).unwrap();
    }
    println!("get_record: {:?}/op", t.elapsed() / 200);
}
