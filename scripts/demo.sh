#!/usr/bin/env bash
# The main job: import a busybox root filesystem as an image, build examples/hello-site on
# it (RUN steps in runc), list and inspect, save to an archive and load it into a second store.
#
# Needs: a Rust toolchain and Debian's busybox-static (both installed by the setup
# script). skopeo, when present, also reads the archive. Work files go to $DEMO_DIR
# (default: target/demo), which is recreated on every run.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${DEMO_DIR:-$repo/target/demo}"

echo "==> building strata"
cargo build --quiet --manifest-path "$repo/Cargo.toml" --bin strata
strata="${CARGO_TARGET_DIR:-$repo/target}/debug/strata"

if [ ! -x /bin/busybox ]; then
    echo "error: /bin/busybox not found; install the busybox-static package" >&2
    exit 1
fi

rm -rf "$work"
mkdir -p "$work/rootfs"
cd "$work"

echo "==> making a busybox root filesystem"
(
    cd rootfs
    mkdir -p bin etc root tmp var home dev proc sys
    chmod 1777 tmp
    chmod 700 root
    cp /bin/busybox bin/busybox
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >etc/passwd
    printf 'root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n' >etc/group
)
tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C rootfs -cf busybox-rootfs.tar .

s1=(--root "$work/store")
s2=(--root "$work/store2")

echo "==> strata import busybox-rootfs.tar busybox:latest"
id="$("$strata" "${s1[@]}" import busybox-rootfs.tar busybox:latest \
    --change 'CMD ["sh"]' --change 'ENV PATH=/bin' -m "busybox from Debian's busybox-static")"
echo "$id"

echo "==> strata build -t hello-site:1 examples/hello-site (a real two-stage build in runc)"
"$strata" "${s1[@]}" build --progress plain --build-arg VERSION=1.0 -t hello-site:1 "$repo/examples/hello-site"
"$strata" "${s1[@]}" history hello-site:1
echo "==> rebuild: every step comes from the cache"
"$strata" "${s1[@]}" build --progress plain --build-arg VERSION=1.0 -t hello-site:1 "$repo/examples/hello-site" 2>&1 | grep -E "CACHED|writing image"

echo "==> strata images"
"$strata" "${s1[@]}" images

echo "==> strata inspect busybox"
"$strata" "${s1[@]}" inspect busybox

echo "==> strata save -o busybox.tar busybox hello-site:1"
"$strata" "${s1[@]}" save -o busybox.tar busybox hello-site:1
tar -tvf busybox.tar

echo "==> strata load -i busybox.tar (into a second store)"
"$strata" "${s2[@]}" load -i busybox.tar
"$strata" "${s2[@]}" images
"$strata" "${s2[@]}" system check

id2="$("$strata" "${s2[@]}" images --no-trunc -q busybox 2>/dev/null | head -n1 || true)"
if [ -n "$id2" ] && [ "$id2" != "$id" ]; then
    echo "error: image ID changed across save/load: $id -> $id2" >&2
    exit 1
fi

if command -v skopeo >/dev/null; then
    echo "==> skopeo inspect docker-archive:busybox.tar:hello-site:1"
    skopeo inspect "docker-archive:$work/busybox.tar:hello-site:1"
fi
echo "==> done: image $id saved to $work/busybox.tar and loaded into $work/store2"
