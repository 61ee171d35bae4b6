#!/usr/bin/env bash
# The test matrix beyond the host's PHP and Mosquitto (./build.sh test covers those):
#
#   sid     Debian unstable: PHP 8.4 and the newest Mosquitto Debian ships (2.1.x):
#           the connection tests (--group protocol) over MQTT 3.1.1, then the
#           tests of the API surface a PHP version can change (stubs, argument
#           checks, the built-in broker, the Mosquitto-PHP classes). CI runs
#           this one (.ci/run); SID_FULL=1 runs the whole extension's suite and
#           the connection tests again over MQTT 5 instead.
#   trixie  Debian 13: the extension's suites (and the Laravel package's, on
#           Debian 13's Laravel 10) on PHP 8.4, against Mosquitto 2.0.x
#
#   tests/matrix/run.sh [trixie|sid]...         make (unless cached), build, test (default: both)
#   tests/matrix/run.sh create [trixie|sid]...  only make the root filesystems (CI makes sid's
#                                               while the host builds)
#   tests/matrix/run.sh seed [trixie|sid]...    and copy the host's build in, for the first build
#   tests/matrix/run.sh build [trixie|sid]...   and build (CI builds sid's while the host's tests run)
#
# Each runs in a cached root filesystem (tests/matrix/rootfs.sh) with the build for
# its PHP in a cargo target directory inside that root filesystem, so the checkout's
# target/ is never touched and a second run rebuilds only what changed. A root
# filesystem's first build starts from a copy of the host's (./build.sh build): the
# same rustc, the same sources at the same paths, so cargo keeps every dependency
# and compiles only what depends on PHP (ext-php-rs, whose build script reruns for
# the other php-config, and the extension): about 1.5 minutes instead of 6 on 2 cores.
# Where debootstrap or chroot cannot run, it says why and skips (exit 0); a test
# that fails makes it fail.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
ROOTFS="$HERE/rootfs.sh"
# Inside the root filesystem: persists with it, outside the checkout.
TARGET=/var/tmp/mqtt-broadcast-target

log() { printf '==> matrix: %s\n' "$*" >&2; }

in_rootfs() {
    local name="$1"; shift
    "$ROOTFS" enter "$name" env CARGO_TARGET_DIR="$TARGET" "$@"
}

# Copies the host's build into the root filesystem's target directory for its PHP,
# unless that has a build already or the host has none.
seed_build() {
    local name="$1" host own
    host="$("$ROOT/build.sh" target-dir 2>/dev/null)" || return 0
    [ -d "$host/release" ] || return 0
    own="$("$ROOTFS" path "$name")$(in_rootfs "$name" ./build.sh target-dir)"
    [ -e "$own" ] && return 0
    log "$name: its first build starts from the host's ($host)"
    mkdir -p "$(dirname "$own")"
    cp -a "$host" "$own.partial"
    mv "$own.partial" "$own"
}

build() {
    local name="$1"
    seed_build "$name"
    in_rootfs "$name" ./build.sh build
}

run_trixie() {
    in_rootfs trixie ./build.sh test-php
}

# Every run even when one fails, so that one CI run shows every difference of
# the broker and of PHP. CI's budget takes the connection tests and the API
# surface; SID_FULL=1 runs the whole suite in place of the first run.
run_sid() {
    local failed=0
    if [ "${SID_FULL:-0}" = 1 ]; then
        in_rootfs sid ./build.sh phpunit -c tests/php/phpunit.xml || failed=1
    else
        log "sid: the connection tests over MQTT 3.1.1"
        in_rootfs sid ./build.sh phpunit -c tests/php/phpunit.xml --group protocol || failed=1
    fi
    if [ "${SID_FULL:-0}" = 1 ]; then
        log "sid: the connection tests again over MQTT 5"
        in_rootfs sid env MQTT_BROADCAST_TEST_PROTOCOL=5 ./build.sh phpunit -c tests/php/phpunit.xml \
            --group protocol --exclude-group short-keep-alive || failed=1
    else
        log "sid: the API surface under this PHP"
        in_rootfs sid ./build.sh phpunit -c tests/php/phpunit.xml \
            --filter 'StubsTest|BadInputTest|BrokerTest|MosquittoCompatTest|MetricsTest' || failed=1
    fi
    return $failed
}

main() {
    local mode=test name reason start failed=()
    case "${1:-}" in
        create | seed | build) mode="$1"; shift ;;
    esac
    local names=("$@")
    [ ${#names[@]} -gt 0 ] || names=(trixie sid)

    reason="$("$ROOTFS" unsupported)"
    if [ -n "$reason" ]; then
        log "SKIPPED: cannot run the PHP/Mosquitto matrix on this machine: $reason"
        return 0
    fi
    for name in "${names[@]}"; do
        start=$SECONDS
        "$ROOTFS" create "$name"
        log "$name: root filesystem ready after $((SECONDS - start))s"
        case "$mode" in
            create) continue ;;
            seed) seed_build "$name"; continue ;;
            build) build "$name" || failed+=("$name"); continue ;;
        esac
        start=$SECONDS
        if build "$name" && "run_$name"; then
            log "$name: passed in $((SECONDS - start))s"
        else
            log "$name: FAILED after $((SECONDS - start))s"
            failed+=("$name")
        fi
    done
    if [ ${#failed[@]} -gt 0 ]; then
        log "failed: ${failed[*]}"
        return 1
    fi
    [ "$mode" != test ] || log "passed: ${names[*]}"
}

main "$@"
