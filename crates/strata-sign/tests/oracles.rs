//! strata's keys and signatures checked by independent implementations: Python's
//! `hashlib.scrypt` + PyNaCl + `cryptography` decrypt what strata encrypts and write cosign
//! keys strata must read; openssl verifies strata's signatures.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use strata_oci::Digest;
use strata_sign::keys::{PrivateKey, PublicKey};
use strata_sign::payload::SimpleSigning;
use strata_sign::signature;

/// The venv python the setup script prepares, or `None` outside CI when it is missing.
fn python() -> Option<PathBuf> {
    let py = strata_testkit::target_dir().join("venv/bin/python");
    if py.exists() {
        return Some(py);
    }
    assert!(
        !strata_testkit::in_ci(),
        "{} is missing: run scripts/setup.sh",
        py.display()
    );
    eprintln!("note: {} missing; skipping", py.display());
    None
}

fn run_python(py: &PathBuf, script: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const DECRYPT: &str = r#"
import base64, hashlib, json, sys
import nacl.secret
from cryptography.hazmat.primitives import serialization
text = open(sys.argv[1]).read()
assert text.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"), text[:60]
body = base64.b64decode("".join(l for l in text.splitlines() if not l.startswith("-----")))
env = json.loads(body)
assert env["kdf"]["name"] == "scrypt" and env["cipher"]["name"] == "nacl/secretbox"
p = env["kdf"]["params"]
assert (p["N"], p["r"], p["p"]) == (32768, 8, 1), p
key = hashlib.scrypt(sys.argv[2].encode(), salt=base64.b64decode(env["kdf"]["salt"]), n=p["N"], r=p["r"], p=p["p"], maxmem=64*1024*1024, dklen=32)
der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(env["ciphertext"]), base64.b64decode(env["cipher"]["nonce"]))
priv = serialization.load_der_private_key(der, password=None)
print(priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(), end="")
"#;

const GENERATE: &str = r#"
import base64, hashlib, json, os, sys
import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
priv = ec.generate_private_key(ec.SECP256R1())
der = priv.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
salt, nonce = os.urandom(32), os.urandom(24)
key = hashlib.scrypt(sys.argv[2].encode(), salt=salt, n=32768, r=8, p=1, maxmem=64*1024*1024, dklen=32)
ct = nacl.secret.SecretBox(key).encrypt(der, nonce).ciphertext
env = {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
       "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
       "ciphertext": base64.b64encode(ct).decode()}
b = base64.b64encode(json.dumps(env).encode()).decode()
lines = [b[i:i+64] for i in range(0, len(b), 64)]
open(sys.argv[1], "w").write("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END ENCRYPTED COSIGN PRIVATE KEY-----\n")
open(sys.argv[1] + ".pub", "w").write(priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
open(sys.argv[1] + ".sec1", "w").write(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()).decode())
open(sys.argv[1] + ".p8enc", "w").write(priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(sys.argv[2].encode())).decode())
"#;

const VERIFY: &str = r#"
import base64, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
pub = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
pub.verify(open(sys.argv[3], "rb").read(), open(sys.argv[2], "rb").read(), ec.ECDSA(hashes.SHA256()))
print("verified")
"#;

#[test]
fn python_decrypts_the_cosign_key_strata_writes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let path = dir.path().join("cosign.key");
    std::fs::write(&path, key.to_cosign_pem(b"s3cret").unwrap()).unwrap();
    let public = run_python(&py, DECRYPT, &[path.to_str().unwrap(), "s3cret"]);
    assert_eq!(
        PublicKey::from_pem(&public, "python").unwrap(),
        key.public_key()
    );
}

#[test]
fn strata_reads_cosign_sec1_and_encrypted_pkcs8_keys_python_writes() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cosign.key");
    run_python(&py, GENERATE, &[path.to_str().unwrap(), "pw"]);
    let expected = PublicKey::from_pem(
        &std::fs::read_to_string(path.with_extension("key.pub")).unwrap(),
        "pub",
    )
    .unwrap();
    for suffix in ["", ".sec1", ".p8enc"] {
        let file = format!("{}{suffix}", path.display());
        let text = std::fs::read_to_string(&file).unwrap();
        let key = PrivateKey::from_pem(&text, &file, || Ok(b"pw".to_vec())).unwrap();
        assert_eq!(key.public_key(), expected, "{file}");
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let err = PrivateKey::from_pem(&text, "cosign.key", || Ok(b"wrong".to_vec())).unwrap_err();
    assert!(err.to_string().contains("wrong password"), "{err}");
}

#[test]
fn openssl_and_python_verify_strata_signatures() {
    let Some(openssl) = strata_testkit::require_tool("openssl").unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let public = dir.path().join("cosign.pub");
    std::fs::write(&public, key.public_key().to_pem().unwrap()).unwrap();
    let digest = Digest::sha256_of(b"manifest");
    let payload = SimpleSigning::new("localhost:5000/app", &digest, &Default::default()).to_bytes();
    let sig = signature::sign(&key, &payload);
    let payload_path = dir.path().join("payload.json");
    let sig_path = dir.path().join("sig.der");
    std::fs::write(&payload_path, &payload).unwrap();
    std::fs::write(&sig_path, &sig).unwrap();
    let out = Command::new(openssl)
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig_path)
        .arg(&payload_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");
    // A flipped payload byte must fail under openssl too.
    let mut tampered = payload.clone();
    tampered[10] ^= 1;
    std::fs::write(&payload_path, &tampered).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(&sig_path)
        .arg(&payload_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::write(&payload_path, &payload).unwrap();
    if let Some(py) = python() {
        let ok = run_python(
            &py,
            VERIFY,
            &[
                public.to_str().unwrap(),
                payload_path.to_str().unwrap(),
                sig_path.to_str().unwrap(),
            ],
        );
        assert_eq!(ok.trim(), "verified");
    }
    // And the base64 form stored in the annotation decodes to the same DER.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        sig
    );
}
