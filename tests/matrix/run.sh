#!/usr/bin/env bash
# The test matrix beyond the host's PHP and Mosquitto (./build.sh test covers those):
#
#   trixie  Debian 13: the extension's suites (and the Laravel package's) on PHP 8.4,
#           against Mosquitto 2.0.x
#   sid     Debian unstable: the connection tests (--group protocol, over MQTT 3.1.1
#           and MQTT 5) and the MQTT 5 tests against the newest Mosquitto Debian
#           ships (2.1.x), on unstable's PHP
#
#   tests/matrix/run.sh [trixie|sid]...   (default: both)
#
# Each runs in a cached root filesystem (tests/matrix/rootfs.sh) with the build for
# its PHP in a cargo target directory inside that root filesystem, so the checkout's
# target/ is never touched and a second run rebuilds only what changed.
# Where debootstrap or chroot cannot run, it says why and skips (exit 0).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOTFS="$HERE/rootfs.sh"
# Inside the root filesystem: persists with it, outside the checkout.
TARGET=/var/tmp/mqtt-broadcast-target

log() { printf '==> matrix: %s\n' "$*" >&2; }

in_rootfs() {
    local name="$1"; shift
    "$ROOTFS" enter "$name" env CARGO_TARGET_DIR="$TARGET" "$@"
}

run_trixie() {
    in_rootfs trixie ./build.sh test-php
}

# All three even when one fails, so that one run shows every difference of the broker.
run_sid() {
    local failed=0
    in_rootfs sid ./build.sh phpunit -c tests/php/phpunit.xml --group protocol || failed=1
    log "sid: the connection tests again over MQTT 5"
    in_rootfs sid env MQTT_BROADCAST_TEST_PROTOCOL=5 ./build.sh phpunit -c tests/php/phpunit.xml \
        --group protocol --exclude-group short-keep-alive || failed=1
    log "sid: MQTT 5 end to end"
    in_rootfs sid ./build.sh phpunit -c tests/php/phpunit.xml tests/php/Mqtt5Test.php || failed=1
    return $failed
}

main() {
    local names=("$@") name reason start failed=()
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
        start=$SECONDS
        if "run_$name"; then
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
    log "passed: ${names[*]}"
}

main "$@"
