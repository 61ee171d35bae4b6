#!/usr/bin/env bash
# mqtt-broadcast build script.
#
#   ./build.sh deps      install the system packages the build and the tests need (Debian 12 or later)
#   ./build.sh deps bench  the same, plus what the benchmarks need besides (nginx-light, wrk)
#   ./build.sh build     cargo build --release -> target/php-API[-zts][-debug]/release/libmqtt_broadcast.so
#                        (with the built-in broker, Mqtt\Broker: cargo feature "broker")
#   ./build.sh target-dir  print that cargo target directory (target/php-API[-zts][-debug])
#   ./build.sh test      deps, build, Rust unit tests, then the PHP suites (extra args go to phpunit)
#   ./build.sh test-php  deps, build, the PHP suites only
#   ./build.sh test-rust build, the Rust tests only (./build.sh test runs them beside the PHP suites)
#   ./build.sh phpunit ARGS  deps, build, phpunit ARGS with the build loaded
#   ./build.sh test-matrix  the suites under Debian 13's PHP 8.4 and against the newest
#                        Mosquitto, in cached debootstrap root filesystems (tests/matrix/run.sh)
#   ./build.sh test-zts  the extension's suite under a thread-safe PHP 8.2 built from Debian's
#                        source package, Apache's threaded MPMs included (tests/matrix/zts.sh)
#   ./build.sh install   deps, build, copy the extension into PHP's extension dir, enable it (cli + fpm)
#   ./build.sh example   deps, build, run examples/publish.php against the built-in broker (Mqtt\Broker)
#   ./build.sh bench     deps bench, build, run the benchmarks (bench/run.php) and print one markdown table
#
# The PHP built for and tested is the one whose php-config is $PHP_CONFIG, else
# the php-config on PATH; on a machine with no PHP yet, deps installs the
# distribution's default one.
#
# deps does nothing (and needs no root) when every package is installed already.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '==> %s\n' "$*" >&2; }

# Sets PHP_CONFIG (resolved, e.g. /usr/bin/php-config8.2), PHP (its php binary),
# PHP_VERSION (8.2) and EXT (where the build for this PHP lands).
#
# Each PHP build (API version, thread safety, debug) gets a cargo target directory of
# its own: ext-php-rs reruns its build script when $PHP_CONFIG or $PHP change, not
# when the PHP behind them does, so one shared directory would hand a PHP upgraded in
# place the module built for the old one ("Module compiled with module API=...").
find_php() {
    local config="${PHP_CONFIG:-php-config}" api key
    config="$(command -v "$config" 2>/dev/null)" || { echo "no php-config (${PHP_CONFIG:-php-config}): run ./build.sh deps, or set PHP_CONFIG" >&2; exit 1; }
    PHP_CONFIG="$(readlink -f "$config")"
    PHP="$(readlink -f "$("$PHP_CONFIG" --php-binary)")"
    PHP_VERSION="$("$PHP" -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')"
    api="$("$PHP_CONFIG" --phpapi)"
    key="php-$api$("$PHP" -r 'echo PHP_ZTS ? "-zts" : "", PHP_DEBUG ? "-debug" : "";')"
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$key"
    EXT="$TARGET_DIR/release/libmqtt_broadcast.so"
}

# The packages for the PHP on PATH, or the distribution's default PHP (the php-*
# packages depend on it) when there is none yet.
deps() {
    local v=''
    if command -v php-config >/dev/null 2>&1; then
        v="$("$(php-config --php-binary)" -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')"
    fi
    echo php$v-cli php$v-dev php$v-fpm libfcgi-bin \
        php$v-sqlite3 php$v-mbstring php-laravel-framework phpunit \
        libclang-dev clang make gcc git \
        mosquitto mosquitto-clients rabbitmq-server \
        openssl procps util-linux iproute2 \
        python3-prometheus-client \
        chromium
}

# Only the benchmarks need these: nginx in front of PHP-FPM for their web rows, loaded by wrk
# (bench/lib/Nginx.php starts its own nginx from a temp dir; the system service is not used).
bench_deps() {
    echo nginx-light wrk
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# deps, or with "bench" the benchmarks' packages too.
cmd_deps() {
    local packages missing=() pkg
    packages="$(deps)"
    [ "${1:-}" = bench ] && packages="$packages $(bench_deps)"
    # The test matrix's root filesystems (tests/matrix/rootfs.sh sets this) run the
    # PHP suites without the two tests that need these, which skip, saying so: the
    # dashboard's browser and the RabbitMQ cluster. Left out, they keep the making
    # of a root filesystem light while CI builds.
    if [ "${MQTT_BROADCAST_DEPS:-}" = matrix ]; then
        packages="$(printf '%s\n' $packages | grep -v -x -e chromium -e rabbitmq-server | tr '\n' ' ')"
    fi
    for pkg in $packages; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "system packages already installed"
        return
    fi
    log "installing: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

cmd_build() {
    find_php
    log "cargo build --release for PHP $PHP_VERSION ($PHP_CONFIG) into $TARGET_DIR"
    (cd "$ROOT" && PHP_CONFIG="$PHP_CONFIG" PHP="$PHP" cargo build --release --features broker --target-dir "$TARGET_DIR")
    [ -f "$EXT" ] || { echo "build did not produce $EXT" >&2; exit 1; }
}

# Runs php with the fresh build loaded. An installed copy (./build.sh install) would
# be loaded first and win over -d extension=, so its ini file is left out of the
# scan dir; child php processes of the tests inherit the same environment.
run_php() {
    local scan_dir
    scan_dir="$("$PHP" --ini | sed -n 's/^Scan for additional .ini files in: *//p')"
    if [ -n "$scan_dir" ] && compgen -G "$scan_dir/*mqtt_broadcast*" >/dev/null; then
        local isolated="$ROOT/.build-tmp/php-conf.d" ini
        rm -rf "$isolated"
        mkdir -p "$isolated"
        for ini in "$scan_dir"/*.ini; do
            case "$ini" in *mqtt_broadcast*) ;; *) ln -s "$ini" "$isolated/" ;; esac
        done
        export PHP_INI_SCAN_DIR="$isolated"
    fi
    MQTT_BROADCAST_EXT="$EXT" "$PHP" -d extension="$EXT" "$@"
}

# The unit tests of the patched rumqttc copy (vendor/README.md), with the features
# the extension uses. The copy is not in the workspace, so it has a lock file of
# its own (not committed): started from ours, it adds only the test dependencies.
# cargo runs them in a copy outside the checkout: inside it, cargo 1.95 refuses the
# package as one of our workspace's that is not a member ("current package believes
# it's in a workspace when it's not"), workspace.exclude notwithstanding.
cmd_test_vendored() {
    log "cargo test: vendor/rumqttc"
    local dir="$ROOT/vendor/rumqttc" copy status=0
    [ -f "$dir/Cargo.lock" ] || cp "$ROOT/Cargo.lock" "$dir/Cargo.lock"
    copy="$(mktemp -d "${TMPDIR:-/tmp}/mqtt-broadcast-rumqttc.XXXXXX")"
    cp -r "$dir/." "$copy/"
    (cd "$copy" && cargo test --lib --no-default-features --features use-rustls-no-provider \
        --target-dir "${CARGO_TARGET_DIR:-$ROOT/target}/vendor-rumqttc") || status=$?
    cp "$copy/Cargo.lock" "$dir/Cargo.lock"
    rm -rf "$copy"
    return "$status"
}

# Debian's phpunit: PHP files run by the PHP under test. tests/matrix/ names
# another copy of the same PHPUnit in its root filesystems.
PHPUNIT="${PHPUNIT:-/usr/bin/phpunit}"

# The connection test classes ./build.sh test runs against the built-in broker
# too (MQTT_BROADCAST_TEST_BROKER=builtin): 35 s of the group's 2.5 minutes
# there; the whole group: MQTT_BROADCAST_TEST_BROKER=builtin ./build.sh phpunit
# -c tests/php/phpunit.xml --group protocol.
BUILTIN_BROKER_TESTS='AsyncPublishTest|AuthTest|BrokerOutageTest|CloseTest|ConnectionReuseTest|EventTest|PersistentSessionTest|PublishSyncTest|QueueFullTest|RouteTest|ShutdownFlushTest|WillTest'

cmd_test() {
    cmd_deps
    cmd_build
    # The Rust tests spend minutes compiling (a fat-LTO link per test binary) and
    # the PHP suites mostly wait on sockets and timers: the Rust tests run beside
    # them in a session of their own, niced so that the PHP suites get the CPU
    # whenever they ask for it. Their output comes after the PHP suites'.
    local rust_log="$ROOT/.build-tmp/rust-tests.log" rust_pid php_status=0 rust_status=0
    mkdir -p "$ROOT/.build-tmp"
    log "cargo test runs beside the PHP suites; its output follows theirs"
    setsid nice -n 19 "$ROOT/build.sh" test-rust >"$rust_log" 2>&1 &
    rust_pid=$!
    trap 'kill -- -'"$rust_pid"' 2>/dev/null || true' EXIT
    test_php "$@" || php_status=$?
    wait "$rust_pid" || rust_status=$?
    trap - EXIT
    cat "$rust_log" >&2
    [ "$rust_status" -eq 0 ] || log "cargo test FAILED (exit $rust_status)"
    [ "$php_status" -eq 0 ] || log "phpunit FAILED (exit $php_status)"
    [ "$rust_status" -eq 0 ] && [ "$php_status" -eq 0 ]
}

# The Rust tests: the core's and the broker's, then the vendored rumqttc's. In a
# target directory of their own, so that cargo's lock on it for minutes does not
# stall a build of the extension meanwhile (PeclInstallTest's phpize build reuses
# the extension's), brought up to date from the extension's first: its
# dependencies (rmqtt's among them) are compiled already, and cargo keeps them.
cmd_test_rust() {
    cmd_build
    local dir="$TARGET_DIR-rust-tests"
    mkdir -p "$dir"
    cp -a -u "$TARGET_DIR/." "$dir/"
    log "cargo test: crates/core and crates/broker"
    (cd "$ROOT" && cargo test --release -p mqtt-broadcast-core -p mqtt-broadcast-broker \
        --target-dir "$dir")
    cmd_test_vendored
}

# The PHP suites alone, against the build for the PHP under test (the Rust tests
# do not depend on PHP: tests/matrix/run.sh runs these under other PHPs).
cmd_test_php() {
    cmd_deps
    cmd_build
    test_php "$@"
}

# Every suite, even after one failed, so that one run shows every failure.
test_php() {
    local failed=0
    log "phpunit (PHP $PHP_VERSION, $(mosquitto -h 2>/dev/null | head -n 1))"
    (cd "$ROOT" && run_php "$PHPUNIT" -c tests/php/phpunit.xml "$@") || failed=1
    log "phpunit: the connection tests again over MQTT 5"
    (cd "$ROOT" && MQTT_BROADCAST_TEST_PROTOCOL=5 run_php "$PHPUNIT" -c tests/php/phpunit.xml \
        --group protocol --exclude-group short-keep-alive "$@") || failed=1
    log "phpunit: connection tests against the built-in broker (Mqtt\\Broker) instead of Mosquitto"
    (cd "$ROOT" && MQTT_BROADCAST_TEST_BROKER=builtin run_php "$PHPUNIT" -c tests/php/phpunit.xml \
        --group protocol --filter "/($BUILTIN_BROKER_TESTS)::/" "$@") || failed=1
    log "phpunit: laravel-adapter"
    (cd "$ROOT" && run_php "$PHPUNIT" -c laravel-adapter/tests/phpunit.xml "$@") || failed=1
    return "$failed"
}

# phpunit with the build for the PHP under test loaded: ./build.sh phpunit -c tests/php/phpunit.xml --group protocol
cmd_phpunit() {
    cmd_deps
    cmd_build
    log "phpunit $* (PHP $PHP_VERSION, $(mosquitto -h 2>/dev/null | head -n 1))"
    (cd "$ROOT" && run_php "$PHPUNIT" "$@")
}

# Writes mqtt_broadcast.ini the way Debian's php packages and pecl do: into
# mods-available + phpenmod when that layout exists, else into php's scan dirs.
cmd_install() {
    cmd_deps
    cmd_build
    local ext_dir ini_line='extension=mqtt_broadcast'
    ext_dir="$("$PHP_CONFIG" --extension-dir)"
    log "installing $EXT into $ext_dir"
    as_root install -m 0644 "$EXT" "$ext_dir/mqtt_broadcast.so"

    local mods="/etc/php/$PHP_VERSION/mods-available"
    if [ -d "$mods" ] && command -v phpenmod >/dev/null 2>&1; then
        printf '; priority=20\n%s\n' "$ini_line" | as_root tee "$mods/mqtt_broadcast.ini" >/dev/null
        as_root phpenmod -v "$PHP_VERSION" -s ALL mqtt_broadcast
        log "enabled via phpenmod ($mods/mqtt_broadcast.ini)"
    else
        local dirs=() dir fpm
        dir="$("$PHP" --ini | sed -n 's/^Scan for additional .ini files in: *//p')"
        [ -n "$dir" ] && [ "$dir" != "(none)" ] && dirs+=("$dir")
        for fpm in php-fpm$PHP_VERSION php-fpm; do
            if command -v "$fpm" >/dev/null 2>&1; then
                dir="$("$fpm" -i 2>/dev/null | sed -n 's/^Scan this dir for additional .ini files => *//p')"
                [ -n "$dir" ] && [ "$dir" != "(none)" ] && dirs+=("$dir")
                break
            fi
        done
        [ ${#dirs[@]} -gt 0 ] || { echo "no conf.d scan dir found; add '$ini_line' to php.ini" >&2; exit 1; }
        for dir in $(printf '%s\n' "${dirs[@]}" | sort -u); do
            as_root mkdir -p "$dir"
            printf '%s\n' "$ini_line" | as_root tee "$dir/20-mqtt_broadcast.ini" >/dev/null
            log "wrote $dir/20-mqtt_broadcast.ini"
        done
    fi
    "$PHP" -r 'exit(class_exists("Mqtt\\Client") ? 0 : 1);' \
        || { echo "php does not load mqtt_broadcast after install" >&2; exit 1; }
    log "mqtt_broadcast installed"
}

cmd_example() {
    cmd_deps
    cmd_build
    run_php "$ROOT/tests/support/run-example.php" "$ROOT/examples/publish.php"
}

# Knobs (BENCH_RUNS, BENCH_ONLY, ...) are environment variables: see bench/run.php.
cmd_bench() {
    cmd_deps bench
    cmd_build
    run_php "$ROOT/bench/run.php"
}

main() {
    local sub="${1:-}"
    [ $# -gt 0 ] && shift
    case "$sub" in
        deps) cmd_deps "$@" ;;
        build) cmd_build ;;
        target-dir) find_php; echo "$TARGET_DIR" ;;
        test) cmd_test "$@" ;;
        test-rust) cmd_test_rust ;;
        test-php) cmd_test_php "$@" ;;
        phpunit) cmd_phpunit "$@" ;;
        test-matrix) "$ROOT/tests/matrix/run.sh" "$@" ;;
        test-zts) "$ROOT/tests/matrix/zts.sh" "$@" ;;
        install) cmd_install ;;
        example) cmd_example ;;
        bench) cmd_bench ;;
        *) echo "usage: $0 {deps [bench]|build|test [phpunit args]|test-rust|test-php [phpunit args]|phpunit ARGS|test-matrix|test-zts [phpunit args]|install|example|bench}" >&2; exit 2 ;;
    esac
}

main "$@"
