//! Properties over generated input: parsers never panic on hostile strings, and printing a
//! parsed value parses back to the same value.

use proptest::prelude::*;
use strata_oci::{Platform, RawConfig, RawManifest, Reference};

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}((\\.|_|__|-{1,3})[a-z0-9]{1,6}){0,2}"
}

fn reference_string() -> impl Strategy<Value = String> {
    let domain = prop_oneof![
        Just(String::new()),
        Just("localhost/".to_owned()),
        Just("localhost:5000/".to_owned()),
        "[a-z][a-z0-9-]{0,5}[a-z0-9]\\.(com|io)(:[0-9]{1,5})?/",
        Just("[::1]:5000/".to_owned()),
    ];
    let tag = prop_oneof![
        Just(String::new()),
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}".prop_map(|t| format!(":{t}"))
    ];
    let digest = prop_oneof![
        Just(String::new()),
        "[a-f0-9]{64}".prop_map(|h| format!("@sha256:{h}"))
    ];
    // The first segment has no '.', or it would be taken for a domain.
    let first = "[a-z0-9]{1,6}((_|__|-{1,3})[a-z0-9]{1,6}){0,2}";
    let rest = proptest::collection::vec(component(), 0..3);
    (domain, first, rest, tag, digest).prop_map(|(d, first, rest, t, g)| {
        let path = std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join("/");
        format!("{d}{path}{t}{g}")
    })
}

proptest! {
    #[test]
    fn reference_display_round_trips(s in reference_string()) {
        let r = Reference::parse(&s).unwrap();
        prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r.clone());
        prop_assert_eq!(Reference::parse(&r.familiar()).unwrap(), r.clone());
        prop_assert!(r.tag().is_some() || r.digest().is_some());
    }

    #[test]
    fn reference_parse_never_panics(s in "\\PC{0,80}") {
        if let Ok(r) = Reference::parse(&s) {
            prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn platform_parse_is_idempotent(s in "[a-zA-Z0-9_.()-]{1,12}(/[a-zA-Z0-9_.-]{1,8}){0,3}") {
        if let Ok(p) = Platform::parse(&s) {
            prop_assert_eq!(Platform::parse(&p.to_string()).unwrap(), p);
        }
    }

    #[test]
    fn document_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = RawManifest::parse(bytes.clone(), None);
        let _ = RawConfig::parse(bytes);
    }

    #[test]
    fn json_shaped_manifests_never_panic(
        version in 0u64..4,
        media in prop_oneof![Just("application/vnd.oci.image.manifest.v1+json"), Just("x"), Just("application/vnd.docker.distribution.manifest.list.v2+json")],
        size in prop_oneof![Just("1".to_owned()), Just("-1".to_owned()), Just("\"1\"".to_owned())],
        digest in prop_oneof![Just("sha256:".to_owned() + &"a".repeat(64)), Just("md5:x".to_owned()), Just("sha256+b64:abc".to_owned())],
    ) {
        let doc = format!(
            r#"{{"schemaVersion":{version},"mediaType":"{media}","config":{{"mediaType":"a/b","size":{size},"digest":"{digest}"}},"layers":[],"manifests":[{{"mediaType":"a/b","size":{size},"digest":"{digest}"}}]}}"#
        );
        let _ = RawManifest::parse(doc.into_bytes(), None);
    }
}
