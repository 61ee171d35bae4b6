dnl mqtt_broadcast is written in Rust. This file lets the usual PHP extension
dnl route (pecl, PIE, or by hand) build it:
dnl
dnl   phpize && ./configure [--with-php-config=PATH] && make && make install
dnl
dnl configure checks for PHP >= 8.1, cargo, rustc and libclang; make runs
dnl `cargo build --release` against the PHP whose php-config configure used
dnl (Makefile.frag) and puts the library at modules/mqtt_broadcast.so;
dnl make install copies it into that PHP's extension directory, below
dnl $(INSTALL_ROOT) when that is set. Cargo builds into php-API[-zts][-debug]/
dnl (one directory per PHP build) below $CARGO_TARGET_DIR at make time when
dnl set, else below target/ in the source tree, as ./build.sh does.

PHP_ARG_ENABLE([mqtt_broadcast],
  [whether to enable mqtt_broadcast],
  [AS_HELP_STRING([--enable-mqtt_broadcast],
    [Build the mqtt_broadcast extension (Rust, built with cargo)])],
  [yes])

if test "$PHP_MQTT_BROADCAST" != "no"; then
  AC_MSG_CHECKING([for PHP 8.1 or later])
  mqtt_broadcast_php_vernum=`$PHP_CONFIG --vernum 2>/dev/null`
  mqtt_broadcast_php_version=`$PHP_CONFIG --version 2>/dev/null`
  if test -z "$mqtt_broadcast_php_vernum" || test "$mqtt_broadcast_php_vernum" -lt 80100; then
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([mqtt_broadcast needs PHP 8.1 or later; $PHP_CONFIG reports version $mqtt_broadcast_php_version. Pass the php-config of a newer PHP with --with-php-config=PATH])
  fi
  AC_MSG_RESULT([$mqtt_broadcast_php_version, thread safety: $PHP_THREAD_SAFETY])

  dnl Rust: on PATH, or where rustup installs it ($CARGO_HOME/bin).
  mqtt_broadcast_rust_path="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
  AC_PATH_PROG([CARGO], [cargo], [no], [$mqtt_broadcast_rust_path])
  if test "$CARGO" = "no"; then
    AC_MSG_ERROR([cargo not found. mqtt_broadcast is written in Rust and builds with cargo: install a Rust toolchain (rustup, or your distribution's cargo package), put cargo on PATH or pass CARGO=/path/to/cargo to configure])
  fi
  mqtt_broadcast_cargo_dir=`dirname "$CARGO"`
  AC_PATH_PROG([RUSTC], [rustc], [no], [$mqtt_broadcast_cargo_dir:$mqtt_broadcast_rust_path])
  if test "$RUSTC" = "no"; then
    AC_MSG_ERROR([rustc not found next to $CARGO nor on PATH: install a complete Rust toolchain])
  fi
  mqtt_broadcast_rustc_version=`"$RUSTC" --version 2>/dev/null`
  AC_MSG_CHECKING([rustc version])
  AC_MSG_RESULT([$mqtt_broadcast_rustc_version])

  dnl A cargo found outside PATH (rustup's ~/.cargo/bin) needs its directory on
  dnl PATH at make time to find rustc. Left alone otherwise: ext-php-rs rebuilds
  dnl from scratch whenever PATH changes.
  MQTT_BROADCAST_PATH_PREFIX=
  case ":$PATH:" in
    *":$mqtt_broadcast_cargo_dir:"*) ;;
    *) MQTT_BROADCAST_PATH_PREFIX="$mqtt_broadcast_cargo_dir:" ;;
  esac

  dnl bindgen (in ext-php-rs's build script) loads libclang to read PHP's
  dnl headers. It looks in $LIBCLANG_PATH, `llvm-config --libdir` and the
  dnl usual library directories; so do we, to fail early with advice.
  AC_MSG_CHECKING([for libclang])
  mqtt_broadcast_libclang=
  if test -n "$LIBCLANG_PATH" && test -f "$LIBCLANG_PATH"; then
    mqtt_broadcast_libclang=$LIBCLANG_PATH
  fi
  for mqtt_broadcast_dir in "$LIBCLANG_PATH" `llvm-config --libdir 2>/dev/null` \
      /usr/lib/llvm-*/lib /usr/lib64/llvm*/lib /usr/local/llvm*/lib \
      /usr/lib/*-linux-gnu /usr/lib64 /usr/lib /usr/local/lib \
      /opt/homebrew/opt/llvm/lib /usr/local/opt/llvm/lib \
      /Library/Developer/CommandLineTools/usr/lib; do
    test -n "$mqtt_broadcast_libclang" && break
    test -n "$mqtt_broadcast_dir" && test -d "$mqtt_broadcast_dir" || continue
    for mqtt_broadcast_lib in "$mqtt_broadcast_dir"/libclang.so "$mqtt_broadcast_dir"/libclang.so.* \
        "$mqtt_broadcast_dir"/libclang-*.so "$mqtt_broadcast_dir"/libclang-*.so.* "$mqtt_broadcast_dir"/libclang.dylib; do
      case "$mqtt_broadcast_lib" in *libclang-cpp*) continue ;; esac
      if test -f "$mqtt_broadcast_lib"; then
        mqtt_broadcast_libclang=$mqtt_broadcast_lib
        break
      fi
    done
  done
  if test -z "$mqtt_broadcast_libclang"; then
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([libclang not found. The build reads PHP's headers with bindgen, which needs libclang: install it (Debian/Ubuntu: apt-get install libclang-dev; Fedora: dnf install clang-devel; Alpine: apk add clang-dev) or set LIBCLANG_PATH to the directory holding libclang.so])
  fi
  AC_MSG_RESULT([$mqtt_broadcast_libclang])

  dnl ext-php-rs's build script asks `php-config` and `php` found on PATH unless
  dnl $PHP_CONFIG and $PHP name others, and reruns only when those variables
  dnl change, not when the PHP behind them does. So cargo is always given this
  dnl configure's PHP by its real path, and builds into a target directory of
  dnl that PHP's own, php-API[-zts][-debug] (the one ./build.sh uses for it too):
  dnl a PHP upgraded in place, or another PHP configured in the same tree, never
  dnl gets a library built for the one before.
  mqtt_broadcast_php_config=`command -v "$PHP_CONFIG" 2>/dev/null`
  mqtt_broadcast_php_config=`readlink -f "$mqtt_broadcast_php_config"`
  mqtt_broadcast_php=`readlink -f "$PHP_EXECUTABLE"`
  MQTT_BROADCAST_CARGO_ENV="PHP_CONFIG='$mqtt_broadcast_php_config' PHP='$mqtt_broadcast_php'"
  mqtt_broadcast_php_api=`$PHP_CONFIG --phpapi 2>/dev/null`
  mqtt_broadcast_php_build=`"$mqtt_broadcast_php" -r 'echo PHP_ZTS ? "-zts" : "", PHP_DEBUG ? "-debug" : "";' 2>/dev/null`
  MQTT_BROADCAST_PHP_KEY="php-$mqtt_broadcast_php_api$mqtt_broadcast_php_build"
  AC_MSG_CHECKING([which PHP cargo builds against])
  AC_MSG_RESULT([$mqtt_broadcast_php_config, $mqtt_broadcast_php ($MQTT_BROADCAST_PHP_KEY)])

  dnl The library is made by cargo, not by libtool from C sources: it is the
  dnl one module make builds and make install installs.
  MQTT_BROADCAST_SOURCES=`cd "$abs_srcdir" && find src crates vendor -name '*.rs' -o -name Cargo.toml | LC_ALL=C sort | sed "s#^#$abs_srcdir/#" | tr '\n' ' '`
  MQTT_BROADCAST_SOURCES="$abs_srcdir/Cargo.toml $abs_srcdir/Cargo.lock $MQTT_BROADCAST_SOURCES"
  PHP_MODULES="$PHP_MODULES \$(phplibdir)/mqtt_broadcast.so"
  PHP_ADD_BUILD_DIR([modules])

  PHP_SUBST([CARGO])
  PHP_SUBST([MQTT_BROADCAST_PATH_PREFIX])
  PHP_SUBST([MQTT_BROADCAST_CARGO_ENV])
  PHP_SUBST([MQTT_BROADCAST_PHP_KEY])
  PHP_SUBST([MQTT_BROADCAST_SOURCES])
  PHP_ADD_MAKEFILE_FRAGMENT([$abs_srcdir/Makefile.frag], [$abs_srcdir], [$abs_builddir])
fi
