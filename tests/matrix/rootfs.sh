#!/usr/bin/env bash
# Debian root filesystems for running the test suites under another PHP or
# another Mosquitto than the host's (tests/matrix/run.sh uses them).
#
#   tests/matrix/rootfs.sh create NAME        make the root filesystem NAME unless it is cached
#   tests/matrix/rootfs.sh enter NAME CMD...  run CMD in it, as root, in the checkout
#   tests/matrix/rootfs.sh path NAME          print where it lives
#   tests/matrix/rootfs.sh unsupported        print why this machine cannot, or nothing
#                                             (installs debootstrap, Debian's package, when missing)
#
# NAME is one of:
#   trixie   Debian 13: PHP 8.4, Mosquitto 2.0.x (the stable release users install)
#   sid      Debian unstable: the newest Mosquitto Debian ships (2.1.x) and its PHP
#
# They are cached in $MQTT_MATRIX_CACHE (default /var/cache/mqtt-broadcast-matrix),
# outside the checkout, and reused when present: creating one downloads a few
# hundred MB from Debian's mirror and takes minutes. Delete the directory to
# start afresh. Needs root and debootstrap (Debian's package).
set -euo pipefail

CACHE="${MQTT_MATRIX_CACHE:-/var/cache/mqtt-broadcast-matrix}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# The mirror the host's apt uses, so that a machine restricted to its own
# mirror can still debootstrap; deb.debian.org elsewhere.
mirror() {
    local uri
    uri="$(grep -hs -E '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
        | grep -o -E 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ')"
    echo "${uri:-http://deb.debian.org/debian}"
}

# What a root filesystem holds beyond minbase and ./build.sh deps (which installs
# Debian's default PHP with the build's and the tests' packages): certificates for
# cargo to reach its registry, and the C library headers bindgen reads.
EXTRA_PACKAGES="ca-certificates libc6-dev"

suite_of() {
    case "$1" in
        trixie) echo trixie ;;
        sid) echo sid ;;
        *) echo "unknown root filesystem '$1' (trixie or sid)" >&2; exit 2 ;;
    esac
}

log() { printf '==> %s\n' "$*" >&2; }

# Why this machine cannot make or enter a root filesystem, or nothing. Installs
# debootstrap where it is missing and apt can (as ./build.sh deps installs the
# build's packages), so that a fresh machine, CI's included, can run the matrix.
unsupported() {
    [ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap, chroot and mounts)"; return; }
    command -v unshare >/dev/null 2>&1 || { echo "unshare (util-linux) is missing"; return; }
    unshare --mount true 2>/dev/null || { echo "cannot make a mount namespace here (a container without CAP_SYS_ADMIN?)"; return; }
    if ! command -v debootstrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        log "installing debootstrap"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap debian-archive-keyring; } >&2 || true
    fi
    command -v debootstrap >/dev/null 2>&1 || { echo "debootstrap is not installed and apt-get could not install it"; return; }
}

# Runs a command in the root filesystem $1 with the host's checkout, Rust toolchain,
# /proc, /sys and /dev mounted. The mounts live in a mount namespace of their own,
# so they vanish with the command, even when it is killed.
in_rootfs() {
    local dir="$1"; shift
    local home="${HOME:-/root}"
    unshare --mount --propagation private /bin/bash -euc '
        dir="$1" checkout="$2" home="$3"; shift 3
        mount -t proc proc "$dir/proc"
        mount --rbind /sys "$dir/sys"
        mount --rbind /dev "$dir/dev"
        mkdir -p "$dir$checkout" "$dir/root/.cargo" "$dir/root/.rustup"
        mount --bind "$checkout" "$dir$checkout"
        # The toolchain rustup installed on the host; its binaries need only an
        # older glibc than the root filesystem has.
        [ -d "$home/.cargo" ] && mount --bind "$home/.cargo" "$dir/root/.cargo"
        [ -d "$home/.rustup" ] && mount --bind "$home/.rustup" "$dir/root/.rustup"
        cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
        exec chroot "$dir" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
            PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            CI="${CI:-}" PHPUNIT=/opt/host-phpunit/phpunit MQTT_BROADCAST_DEPS=matrix \
            /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$checkout" "$@"
    ' in_rootfs "$dir" "$ROOT" "$home" "$@"
}

# The suites are written for the PHPUnit the host runs (Debian 12's 9.6: getName(),
# doc-comment @group annotations), which a newer Debian replaced by PHPUnit 11 or
# later. So each root filesystem gets the host's PHPUnit and the libraries it needs,
# copied from the host's installed packages into /opt/host-phpunit, and ./build.sh
# runs it there ($PHPUNIT). Refreshed when the host's PHPUnit changes.
copy_host_phpunit() {
    local dir="$1" dest="$1/opt/host-phpunit" version pkg
    version="$(dpkg-query -W -f '${Version}' phpunit 2>/dev/null)" \
        || { echo "the host has no phpunit package: run ./build.sh deps first" >&2; exit 1; }
    [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ] && return
    log "copying the host's PHPUnit $version into $dest"
    rm -rf "$dest"
    mkdir -p "$dest/php"
    for pkg in $(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
            --no-breaks --no-replaces --no-enhances phpunit | grep -v '^ ' | sort -u); do
        dpkg -L "$pkg" 2>/dev/null | sed -n 's|^/usr/share/php/||p' | while read -r file; do
            [ -f "/usr/share/php/$file" ] && (cd /usr/share/php && cp --parents "$file" "$dest/php/")
        done
    done
    # /usr/bin/phpunit without its #! line, started by a file that puts these
    # libraries ahead of the system's on the include path.
    sed '1{/^#!/d}' /usr/bin/phpunit >"$dest/phpunit-main.php"
    cat >"$dest/phpunit" <<'PHP'
<?php
set_include_path(__DIR__ . '/php' . PATH_SEPARATOR . get_include_path());
require __DIR__ . '/phpunit-main.php';
PHP
    echo "$version" >"$dest/VERSION"
}

cmd_create() {
    local name="$1" suite dir tmp php reason
    suite="$(suite_of "$name")"
    dir="$CACHE/$name"
    if [ -x "$dir/usr/bin/php" ]; then
        log "root filesystem $name: cached in $dir"
        copy_host_phpunit "$dir"
        return
    fi
    reason="$(unsupported)"
    [ -z "$reason" ] || { echo "cannot create root filesystem $name: $reason" >&2; exit 3; }

    # Made in a scratch directory and renamed when complete, so that an
    # interrupted run never leaves a half-made one to be reused.
    tmp="$CACHE/$name.partial"
    rm -rf "$tmp"
    mkdir -p "$CACHE"
    log "debootstrap $suite into $tmp from $(mirror)"
    local start=$SECONDS
    debootstrap --variant=minbase "$suite" "$tmp" "$(mirror)" >"$CACHE/$name.debootstrap.log" 2>&1 \
        || { tail -n 20 "$CACHE/$name.debootstrap.log" >&2; exit 1; }
    # Packages are not kept: the cache holds what runs, not the downloads.
    # The mirror may be a dated snapshot: unstable's Release file carries a
    # Valid-Until a week ahead, which such a mirror's has passed.
    printf 'APT::Install-Recommends "false";\nAPT::Keep-Downloaded-Packages "false";\nAcquire::Check-Valid-Until "false";\n' \
        >"$tmp/etc/apt/apt.conf.d/90matrix"
    # debootstrap's minbase has no /etc/hosts: "localhost" would not resolve.
    printf '127.0.0.1 localhost\n::1 localhost\n' >"$tmp/etc/hosts"
    # Services are started by the tests, never by the packages' install scripts.
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod +x "$tmp/usr/sbin/policy-rc.d"
    in_rootfs "$tmp" apt-get update -q >/dev/null
    log "./build.sh deps and $EXTRA_PACKAGES in $name"
    {
        in_rootfs "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $EXTRA_PACKAGES &&
            in_rootfs "$tmp" ./build.sh deps
    } >"$CACHE/$name.apt.log" 2>&1 || { tail -n 20 "$CACHE/$name.apt.log" >&2; exit 1; }
    in_rootfs "$tmp" apt-get clean
    copy_host_phpunit "$tmp"
    mv "$tmp" "$dir"
    log "root filesystem $name ready in $((SECONDS - start))s: $(du -sh "$dir" | cut -f1)"
}

cmd_enter() {
    local name="$1"; shift
    suite_of "$name" >/dev/null
    [ -x "$CACHE/$name/usr/bin/php" ] || { echo "no root filesystem $name: run $0 create $name" >&2; exit 1; }
    in_rootfs "$CACHE/$name" "$@"
}

main() {
    local sub="${1:-}" name="${2:-}"
    if [ "$sub" = unsupported ]; then
        unsupported
        return
    fi
    [ -n "$name" ] || { echo "usage: $0 {create|enter|path} NAME [CMD...] | $0 unsupported" >&2; exit 2; }
    shift 2
    case "$sub" in
        create) cmd_create "$name" ;;
        enter) cmd_enter "$name" "$@" ;;
        path) echo "$CACHE/$name" ;;
        *) echo "usage: $0 {create|enter|path} NAME [CMD...] | $0 unsupported" >&2; exit 2 ;;
    esac
}

main "$@"
