#!/usr/bin/env bash
# mqtt-broadcast build script.
#
#   ./build.sh deps      install the system packages the build and the tests need (Debian 12)
#   ./build.sh build     cargo build --release -> target/release/libmqtt_broadcast.so
#   ./build.sh test      deps, build, Rust unit tests, then the PHP suites (extra args go to phpunit)
#   ./build.sh install   deps, build, copy the extension into PHP's extension dir, enable it (cli + fpm)
#   ./build.sh example   deps, build, run examples/publish.php against a throw-away mosquitto
#   ./build.sh bench     deps, build, run the benchmarks (bench/run.php) and print one markdown table
#
# deps does nothing (and needs no root) when every package is installed already.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXT="$ROOT/target/release/libmqtt_broadcast.so"
PHP_VERSION=8.2

DEPS=(
    php$PHP_VERSION-cli php$PHP_VERSION-dev php$PHP_VERSION-fpm libfcgi-bin
    php-sqlite3 php-mbstring php-laravel-framework phpunit
    libclang-dev clang make gcc git
    mosquitto mosquitto-clients
    openssl procps util-linux
)

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

cmd_deps() {
    local missing=()
    for pkg in "${DEPS[@]}"; do
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
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release)
    [ -f "$EXT" ] || { echo "build did not produce $EXT" >&2; exit 1; }
}

# Runs php with the fresh build loaded. An installed copy (./build.sh install) would
# be loaded first and win over -d extension=, so its ini file is left out of the
# scan dir; child php processes of the tests inherit the same environment.
run_php() {
    local scan_dir
    scan_dir="$(php --ini | sed -n 's/^Scan for additional .ini files in: *//p')"
    if [ -n "$scan_dir" ] && compgen -G "$scan_dir/*mqtt_broadcast*" >/dev/null; then
        local isolated="$ROOT/.build-tmp/php-conf.d" ini
        rm -rf "$isolated"
        mkdir -p "$isolated"
        for ini in "$scan_dir"/*.ini; do
            case "$ini" in *mqtt_broadcast*) ;; *) ln -s "$ini" "$isolated/" ;; esac
        done
        export PHP_INI_SCAN_DIR="$isolated"
    fi
    MQTT_BROADCAST_EXT="$EXT" php -d extension="$EXT" "$@"
}

# The unit tests of the patched rumqttc copy (vendor/README.md), with the features
# the extension uses. The copy is not in the workspace, so it has a lock file of
# its own (not committed): started from ours, it adds only the test dependencies.
cmd_test_vendored() {
    log "cargo test: vendor/rumqttc"
    local dir="$ROOT/vendor/rumqttc"
    [ -f "$dir/Cargo.lock" ] || cp "$ROOT/Cargo.lock" "$dir/Cargo.lock"
    (cd "$dir" && cargo test --lib --no-default-features --features use-rustls-no-provider \
        --target-dir "${CARGO_TARGET_DIR:-$ROOT/target}/vendor-rumqttc")
}

cmd_test() {
    cmd_deps
    cmd_build
    log "cargo test: crates/core"
    (cd "$ROOT" && cargo test --release -p mqtt-broadcast-core)
    cmd_test_vendored
    log "phpunit"
    (cd "$ROOT" && run_php /usr/bin/phpunit -c tests/php/phpunit.xml "$@")
    log "phpunit: the connection tests again over MQTT 5"
    (cd "$ROOT" && MQTT_BROADCAST_TEST_PROTOCOL=5 run_php /usr/bin/phpunit -c tests/php/phpunit.xml \
        --group protocol --exclude-group short-keep-alive "$@")
    log "phpunit: laravel-adapter"
    (cd "$ROOT" && run_php /usr/bin/phpunit -c laravel-adapter/tests/phpunit.xml "$@")
}

# Writes mqtt_broadcast.ini the way Debian's php packages and pecl do: into
# mods-available + phpenmod when that layout exists, else into php's scan dirs.
cmd_install() {
    cmd_deps
    cmd_build
    local ext_dir ini_line='extension=mqtt_broadcast'
    ext_dir="$(php-config --extension-dir)"
    log "installing $EXT into $ext_dir"
    as_root install -m 0644 "$EXT" "$ext_dir/mqtt_broadcast.so"

    local mods="/etc/php/$PHP_VERSION/mods-available"
    if [ -d "$mods" ] && command -v phpenmod >/dev/null 2>&1; then
        printf '; priority=20\n%s\n' "$ini_line" | as_root tee "$mods/mqtt_broadcast.ini" >/dev/null
        as_root phpenmod -v "$PHP_VERSION" -s ALL mqtt_broadcast
        log "enabled via phpenmod ($mods/mqtt_broadcast.ini)"
    else
        local dirs=() dir fpm
        dir="$(php --ini | sed -n 's/^Scan for additional .ini files in: *//p')"
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
    php -r 'exit(class_exists("Mqtt\\Client") ? 0 : 1);' \
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
    cmd_deps
    cmd_build
    run_php "$ROOT/bench/run.php"
}

main() {
    local sub="${1:-}"
    [ $# -gt 0 ] && shift
    case "$sub" in
        deps) cmd_deps ;;
        build) cmd_build ;;
        test) cmd_test "$@" ;;
        install) cmd_install ;;
        example) cmd_example ;;
        bench) cmd_bench ;;
        *) echo "usage: $0 {deps|build|test [phpunit args]|install|example|bench}" >&2; exit 2 ;;
    esac
}

main "$@"
