//! Reference parsing against a table of cases mirroring distribution's `reference` tests
//! (valid and invalid inputs), plus docker's normalisation and familiar forms.

use strata_oci::{ErrorKind, Reference};

const F64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

/// input, normalised domain, path, tag, digest hex (sha256 unless 128 long).
/// (input, domain, path, tag, digest hex)
type ValidCase = (
    String,
    &'static str,
    String,
    Option<&'static str>,
    Option<String>,
);

fn valid_cases() -> Vec<ValidCase> {
    let f128 = F64.repeat(2);
    let s = |x: &str| x.to_owned();
    vec![
        (
            s("test_com"),
            "docker.io",
            s("library/test_com"),
            Some("latest"),
            None,
        ),
        (
            s("test.com:tag"),
            "docker.io",
            s("library/test.com"),
            Some("tag"),
            None,
        ),
        (
            s("test.com:5000"),
            "docker.io",
            s("library/test.com"),
            Some("5000"),
            None,
        ),
        (
            s("test.com/repo:tag"),
            "test.com",
            s("repo"),
            Some("tag"),
            None,
        ),
        (
            s("test:5000/repo"),
            "test:5000",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("test:5000/repo:tag"),
            "test:5000",
            s("repo"),
            Some("tag"),
            None,
        ),
        (
            format!("test:5000/repo@sha256:{F64}"),
            "test:5000",
            s("repo"),
            None,
            Some(s(F64)),
        ),
        (
            format!("test:5000/repo:tag@sha256:{F64}"),
            "test:5000",
            s("repo"),
            Some("tag"),
            Some(s(F64)),
        ),
        (
            format!("repo@sha256:{F64}"),
            "docker.io",
            s("library/repo"),
            None,
            Some(s(F64)),
        ),
        (
            s("sub-dom1.foo.com/bar/baz/quux"),
            "sub-dom1.foo.com",
            s("bar/baz/quux"),
            Some("latest"),
            None,
        ),
        (
            s("sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
            "sub-dom1.foo.com",
            s("bar/baz/quux"),
            Some("some-long-tag"),
            None,
        ),
        (
            s("b.gcr.io/test.example.com/my-app:test.example.com"),
            "b.gcr.io",
            s("test.example.com/my-app"),
            Some("test.example.com"),
            None,
        ),
        (
            s("xn--n3h.com/myimage:xn--n3h.com"),
            "xn--n3h.com",
            s("myimage"),
            Some("xn--n3h.com"),
            None,
        ),
        (
            format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{f128}"),
            "xn--7o8h.com",
            s("myimage"),
            Some("xn--7o8h.com"),
            Some(f128.clone()),
        ),
        (
            s("foo_bar.com:8080"),
            "docker.io",
            s("library/foo_bar.com"),
            Some("8080"),
            None,
        ),
        (
            s("foo/foo_bar.com:8080"),
            "docker.io",
            s("foo/foo_bar.com"),
            Some("8080"),
            None,
        ),
        (
            s("192.168.1.1"),
            "docker.io",
            s("library/192.168.1.1"),
            Some("latest"),
            None,
        ),
        (
            s("192.168.1.1:tag"),
            "docker.io",
            s("library/192.168.1.1"),
            Some("tag"),
            None,
        ),
        (
            s("192.168.1.1:5000"),
            "docker.io",
            s("library/192.168.1.1"),
            Some("5000"),
            None,
        ),
        (
            s("192.168.1.1/repo"),
            "192.168.1.1",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("192.168.1.1:5000/repo"),
            "192.168.1.1:5000",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("[2001:db8::1]/repo"),
            "[2001:db8::1]",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("[2001:db8:1:2:3:4:5:6]/repo:tag"),
            "[2001:db8:1:2:3:4:5:6]",
            s("repo"),
            Some("tag"),
            None,
        ),
        (
            s("[2001:db8::1]:5000/repo"),
            "[2001:db8::1]:5000",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("[2001:db8::1]:5000/repo:tag"),
            "[2001:db8::1]:5000",
            s("repo"),
            Some("tag"),
            None,
        ),
        (
            format!("[2001:db8::1]:5000/repo@sha256:{F64}"),
            "[2001:db8::1]:5000",
            s("repo"),
            None,
            Some(s(F64)),
        ),
        (
            format!("[2001:db8::1]:5000/repo:tag@sha256:{F64}"),
            "[2001:db8::1]:5000",
            s("repo"),
            Some("tag"),
            Some(s(F64)),
        ),
        (
            s("[2001:db8::]:5000/repo"),
            "[2001:db8::]:5000",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("[::1]:5000/repo"),
            "[::1]:5000",
            s("repo"),
            Some("latest"),
            None,
        ),
        (
            s("localhost:5000/a/b:tag"),
            "localhost:5000",
            s("a/b"),
            Some("tag"),
            None,
        ),
        (
            s("localhost/foo"),
            "localhost",
            s("foo"),
            Some("latest"),
            None,
        ),
        (
            s("Uppercase/lowercase:tag"),
            "Uppercase",
            s("lowercase"),
            Some("tag"),
            None,
        ),
        (
            s("ubuntu"),
            "docker.io",
            s("library/ubuntu"),
            Some("latest"),
            None,
        ),
        (
            s("docker.io/ubuntu"),
            "docker.io",
            s("library/ubuntu"),
            Some("latest"),
            None,
        ),
        (
            s("index.docker.io/library/ubuntu:22.04"),
            "docker.io",
            s("library/ubuntu"),
            Some("22.04"),
            None,
        ),
        (
            s("index.docker.io/user/app"),
            "docker.io",
            s("user/app"),
            Some("latest"),
            None,
        ),
        (
            s("a__b/c--d/e.f/g_h/i---j:_t.-"),
            "docker.io",
            s("a__b/c--d/e.f/g_h/i---j"),
            Some("_t.-"),
            None,
        ),
        (
            format!("a:{}", "t".repeat(128)),
            "docker.io",
            s("library/a"),
            Some(Box::leak("t".repeat(128).into_boxed_str())),
            None,
        ),
        // The name may total 255 characters: "a.com/" + 249.
        (
            format!("a.com/{}a", "a/".repeat(124)),
            "a.com",
            format!("{}a", "a/".repeat(124)),
            Some("latest"),
            None,
        ),
    ]
}

/// input, a fragment the error message must contain.
fn invalid_cases() -> Vec<(String, &'static str)> {
    let s = |x: &str| x.to_owned();
    vec![
        (s(""), "at least one component"),
        (s(":justtag"), "at least one component"),
        (format!("@sha256:{F64}"), "at least one component"),
        (
            format!("validname@invaliddigest:{F64}"),
            "unsupported digest algorithm",
        ),
        (format!("validname@sha256:{}", &F64[1..]), "sha256"),
        (s("validname@sha256:abc"), "invalid digest format"),
        (s("Uppercase:tag"), "must be lowercase"),
        (s("test.com/Uppercase"), "must be lowercase"),
        (s("docker.io/Uppercase"), "must be lowercase"),
        (format!("{}a:tag", "a/".repeat(128)), "255 characters"),
        // Normalisation adds "docker.io/", which pushes this 255-character name over.
        (format!("{}a:tag", "a/".repeat(127)), "255 characters"),
        (s("aa/asdf$$^/aa"), "path component"),
        (s("[2001:db8::1]"), "invalid tag format"),
        (s("[2001:db8::1]:5000"), "invalid"),
        (s("[2001:db8::1]:tag"), "invalid"),
        (s("[fe80::1%eth0]:5000/repo"), "invalid domain"),
        (s("[fe80::1%@invalidzone]:5000/repo"), "invalid"),
        (s("foo/bar:"), "invalid tag format"),
        (s("foo:-tag"), "invalid tag format"),
        (s("foo:.tag"), "invalid tag format"),
        (format!("foo:{}", "t".repeat(129)), "invalid tag format"),
        (s("a___b"), "path component"),
        (s("a-_b"), "path component"),
        (s("a..b"), "path component"),
        (s("a._b"), "path component"),
        (s("-a"), "path component"),
        (s("a-"), "path component"),
        (s("a//b"), "path component"),
        (s("a/"), "path component"),
        (s("foo_bar.com/x"), "invalid domain"),
        (s("-foo.com/x"), "invalid domain"),
        (s("localhost:abc/x"), "invalid port"),
        (s("a b"), "path component"),
        (s(F64), "64-character hexadecimal"),
    ]
}

#[test]
fn valid_references_parse_and_normalise() {
    for (input, domain, path, tag, digest) in valid_cases() {
        let r = Reference::parse(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.domain(), domain, "domain of {input}");
        assert_eq!(r.path(), path, "path of {input}");
        assert_eq!(r.repository(), format!("{domain}/{path}"));
        assert_eq!(r.tag(), tag, "tag of {input}");
        assert_eq!(
            r.digest().map(|d| d.hex().to_owned()),
            digest,
            "digest of {input}"
        );
        // Display is the full normalised form and re-parses to the same reference.
        let again = Reference::parse(&r.to_string()).unwrap();
        assert_eq!(again, r, "{input} -> {r}");
        assert_eq!(
            Reference::parse(&r.familiar()).unwrap(),
            r,
            "familiar {}",
            r.familiar()
        );
    }
}

#[test]
fn invalid_references_name_input_and_rule() {
    for (input, fragment) in invalid_cases() {
        let e = match Reference::parse(&input) {
            Ok(r) => panic!("{input:?} accepted as {r}"),
            Err(e) => e,
        };
        assert!(
            matches!(
                e.kind,
                ErrorKind::InvalidReference | ErrorKind::Unsupported | ErrorKind::InvalidDigest
            ),
            "{input}: {e:?}"
        );
        assert!(
            e.message.contains(&format!("{input:?}")),
            "{input}: message {:?} lacks input",
            e.message
        );
        assert!(
            e.message.contains(fragment),
            "{input}: message {:?} lacks {fragment:?}",
            e.message
        );
    }
}

#[test]
fn display_and_familiar_forms() {
    let cases = [
        ("ubuntu", "docker.io/library/ubuntu:latest", "ubuntu:latest"),
        ("user/app:1", "docker.io/user/app:1", "user/app:1"),
        (
            "docker.io/library/a/b",
            "docker.io/library/a/b:latest",
            "library/a/b:latest",
        ),
        (
            "localhost:5000/a/b:tag",
            "localhost:5000/a/b:tag",
            "localhost:5000/a/b:tag",
        ),
    ];
    for (input, full, familiar) in cases {
        let r = Reference::parse(input).unwrap();
        assert_eq!(r.to_string(), full);
        assert_eq!(r.familiar(), familiar);
    }
    let pinned = format!("busybox:1.36@sha256:{F64}");
    let r = Reference::parse(&pinned).unwrap();
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/busybox:1.36@sha256:{F64}")
    );
    assert_eq!(r.familiar(), pinned);
    assert_eq!(r.manifest_ref(), format!("sha256:{F64}"));
    assert_eq!(
        r.without_tag().to_string(),
        format!("docker.io/library/busybox@sha256:{F64}")
    );
    assert_eq!(r.registry_host(), "registry-1.docker.io");
}

#[test]
fn with_tag_and_digest() {
    let r = Reference::parse("localhost:5000/app").unwrap();
    let t = r.with_tag("v2").unwrap();
    assert_eq!(t.to_string(), "localhost:5000/app:v2");
    assert_eq!(t.manifest_ref(), "v2");
    assert!(r.with_tag("-bad").is_err());
    let d = strata_oci::Digest::sha256_of(b"x");
    let pinned = t.with_digest(d.clone());
    assert_eq!(pinned.to_string(), format!("localhost:5000/app:v2@{d}"));
    assert_eq!(pinned.digest(), Some(&d));
    assert_eq!(pinned.registry_host(), "localhost:5000");
    let json = serde_json::to_string(&pinned).unwrap();
    assert_eq!(serde_json::from_str::<Reference>(&json).unwrap(), pinned);
}
