#!/usr/bin/env bash
# The extension under a thread-safe (ZTS) PHP, the kind FrankenPHP and Apache's
# worker and event MPMs run: several threads of one process serve requests and
# share that process's connections.
#
#   tests/matrix/zts.sh [phpunit args]     (./build.sh test-zts)
#
# 1. PHP: Debian 12's php8.2 source package (apt-get source), configured with
#    --enable-zts and only what the suites need, its CLI, FPM and Apache 2
#    (apxs2) SAPIs built once and cached in $MQTT_MATRIX_CACHE/php-zts (default
#    /var/cache/mqtt-broadcast-matrix/php-zts); later runs reuse it.
# 2. The extension built for it by ./build.sh, into target/php-API-zts/.
# 3. The extension's suite (tests/php/phpunit.xml) under that PHP, its FPM
#    included; ZtsTest (Apache's worker and event MPMs, many threads of one
#    process publishing through one connection) runs only there.
#
# Building PHP needs root (apt-get installs its build dependencies and Debian's
# Apache; /etc/apt gets a deb-src entry for Debian's archive when it has none).
# Where that cannot be done, it says why and skips (exit 0).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MQTT_MATRIX_CACHE:-/var/cache/mqtt-broadcast-matrix}"
PREFIX="$CACHE/php-zts"
PACKAGE=php8.2
# Written last into $PREFIX: a PHP without it is half-built and made afresh.
STAMP="$PREFIX/BUILT"

# Thread-safe and without Zend signals, as FrankenPHP requires its PHP to be built.
# With them (PHP's default), a child of Apache's threaded MPMs that stops (graceful
# stop) sends itself SIGTERM, PHP's handler applies the default action, and the
# child dies before PHP shuts down: no extension gets to flush (ZtsTest fails).
# Then the extensions tests/ and Debian's PHPUnit use, nothing else: posix, pcntl
# and sockets for the tests' processes and sockets; dom, xml, xmlwriter, mbstring
# and tokenizer for PHPUnit; ctype for the Laravel package's test support.
CONFIGURE=(
    --enable-zts --disable-zend-signals
    --disable-all --disable-cgi --enable-fpm --with-apxs2=/usr/bin/apxs2
    --enable-posix --enable-pcntl --enable-sockets --enable-ctype --enable-tokenizer
    --enable-mbstring --disable-mbregex
    --with-libxml --enable-dom --enable-xml --enable-xmlwriter
    --without-pear
)
# What building it needs besides ./build.sh deps.
BUILD_PACKAGES="dpkg-dev gcc make autoconf bison re2c pkg-config libtool shtool libxml2-dev apache2-dev apache2-bin"

log() { printf '==> zts: %s\n' "$*" >&2; }

# Why a PHP cannot be built here, or nothing.
unsupported() {
    [ "$(id -u)" -eq 0 ] || { echo "building PHP needs root (apt-get for its build dependencies and Debian's source package)"; return; }
    command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: Debian's $PACKAGE source package is fetched with it"; return; }
}

install_packages() {
    local missing=() pkg
    for pkg in $BUILD_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "installing: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# deb-src entries for the Debian archive entries apt has (deb822 .sources files and
# one-line .list files), unless apt already knows where to get source packages.
add_deb_src() {
    apt-get source --print-uris "$PACKAGE" >/dev/null 2>&1 && return
    local list=/etc/apt/sources.list.d/mqtt-broadcast-deb-src
    log "no deb-src entry for Debian's archive: writing $list.{sources,list}"
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        awk '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && uris ~ /\/debian(-security)?\/?( |$)/ && enabled != "no")
                    printf "Types: deb-src\n%s\n", body
                types = ""; uris = ""; enabled = ""; body = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            /^Types:/ { types = $0; sub(/^Types:[ \t]*/, "", types); next }
            /^Enabled:/ { enabled = tolower($2) }
            /^URIs:/ { uris = $0 }
            { body = body $0 "\n" }
            END { flush() }
        ' "$file"
    done >"$list.sources.new"
    grep -hs -E '^deb[ \t]+([[][^]]*[]][ \t]+)?https?://[^ ]+/debian(-security)?/?[ \t]' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed 's/^deb/deb-src/' >"$list.list.new" || true
    local ext
    for ext in sources list; do
        if [ -s "$list.$ext.new" ]; then mv "$list.$ext.new" "$list.$ext"; else rm -f "$list.$ext.new"; fi
    done
    apt-get update -q >/dev/null
}

# Downloads and unpacks the source package (with Debian's patches applied) into $1
# and prints the directory. The newest version apt knows first, then older ones: a
# mirror may serve the security archive's binary packages but not their sources.
fetch_source() {
    local dir="$1" version out
    for version in $(apt-cache showsrc "$PACKAGE" 2>/dev/null | sed -n 's/^Version: //p' | sort -u -r -V); do
        rm -rf "$dir"
        mkdir -p "$dir"
        if out="$(cd "$dir" && apt-get source -q "$PACKAGE=$version" 2>&1)"; then
            find "$dir" -mindepth 1 -maxdepth 1 -type d -name "$PACKAGE-*" | head -n 1
            return
        fi
        log "apt-get source $PACKAGE=$version failed: $(printf '%s\n' "$out" | grep -m 1 '^E:' || printf '%s\n' "$out" | tail -n 1)"
    done
    return 1
}

# Builds PHP from Debian's source into $PREFIX: Debian's patches touch configure.ac
# and its m4 files, so configure is made afresh first. Only the CLI and FPM are
# installed; Apache's module is copied beside them, since `make install` would
# hand it to apxs, which installs it into the system's Apache.
build_php() {
    local work="$CACHE/php-zts-source" src start=$SECONDS
    log "apt-get source $PACKAGE into $work"
    src="$(fetch_source "$work")" || { log "SKIPPED: apt knows no $PACKAGE source package it can fetch (see above): no ZTS PHP to test with"; return 3; }
    [ -n "$src" ] || { log "SKIPPED: apt-get source $PACKAGE unpacked nothing in $work"; return 3; }
    log "$(basename "$src"): buildconf, configure ${CONFIGURE[*]}"
    rm -rf "$PREFIX"
    {
        (cd "$src" && ./buildconf --force) &&
            (cd "$src" && ./configure --prefix="$PREFIX" --with-config-file-path="$PREFIX/etc" "${CONFIGURE[@]}")
    } >"$CACHE/php-zts.configure.log" 2>&1 || { tail -n 20 "$CACHE/php-zts.configure.log" >&2; return 1; }
    log "make -j2 (several minutes)"
    (cd "$src" && make -j2) >"$CACHE/php-zts.make.log" 2>&1 || { tail -n 30 "$CACHE/php-zts.make.log" >&2; return 1; }
    {
        (cd "$src" && make install-cli install-fpm install-build install-headers install-programs) &&
            install -D -m 0755 "$src/libs/libphp.so" "$PREFIX/lib/apache2/libphp.so"
    } >"$CACHE/php-zts.install.log" 2>&1 || { tail -n 20 "$CACHE/php-zts.install.log" >&2; return 1; }
    # Debian's PHPUnit and its libraries live in /usr/share/php, on Debian's PHP's
    # default include path.
    mkdir -p "$PREFIX/etc"
    printf 'include_path = ".:/usr/share/php"\n' >"$PREFIX/etc/php.ini"
    "$PREFIX/bin/php" -r 'exit(PHP_ZTS ? 0 : 1);' || { log "$PREFIX/bin/php is not thread-safe"; return 1; }
    rm -rf "$work"
    printf '%s %s\n' "$(basename "$src")" "${CONFIGURE[*]}" >"$STAMP"
    log "PHP $("$PREFIX/bin/php" -r 'echo PHP_VERSION;') (ZTS) built in $((SECONDS - start))s into $PREFIX"
}

# Debian's phpize (patched) takes libtool's and pkg-config's m4 files from
# PREFIX/share/aclocal, where they are with Debian's prefix, /usr.
link_aclocal() {
    mkdir -p "$PREFIX/share"
    ln -sfn /usr/share/aclocal "$PREFIX/share/aclocal"
}

# A PHP built with other configure options than these is made afresh.
php_ready() {
    [ -x "$PREFIX/bin/php" ] && [ "$(cut -d' ' -f2- "$STAMP" 2>/dev/null)" = "${CONFIGURE[*]}" ]
}

main() {
    local reason start=$SECONDS status=0
    if php_ready; then
        log "PHP cached in $PREFIX ($(cut -d' ' -f1 "$STAMP"))"
    else
        reason="$(unsupported)"
        if [ -n "$reason" ]; then
            log "SKIPPED: cannot build a ZTS PHP on this machine: $reason"
            return 0
        fi
        install_packages
        add_deb_src
        build_php || status=$?
        [ "$status" -eq 3 ] && return 0
        [ "$status" -eq 0 ] || return "$status"
    fi

    link_aclocal
    start=$SECONDS
    log "the extension's suite under PHP $("$PREFIX/bin/php" -r 'echo PHP_VERSION;') ZTS"
    (cd "$ROOT" && PHP_CONFIG="$PREFIX/bin/php-config" MQTT_BROADCAST_APACHE_PHP="$PREFIX/lib/apache2/libphp.so" \
        ./build.sh phpunit -c tests/php/phpunit.xml "$@") || status=$?
    log "suite $([ "$status" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start))s"
    return "$status"
}

main "$@"
