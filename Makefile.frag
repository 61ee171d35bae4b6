# Builds mqtt_broadcast with cargo (see config.m4). Rebuilt when a Rust source,
# Cargo.toml, Cargo.lock or the configuration (this Makefile) changed, so that a
# `sudo make install` after `make` copies the library without running cargo.
# The target directory is one of the configured PHP's own (config.m4 says why).
$(phplibdir)/mqtt_broadcast.so: Makefile $(MQTT_BROADCAST_SOURCES)
	@target_dir="$${CARGO_TARGET_DIR:-target}"; \
	case "$$target_dir" in /*) ;; *) target_dir="$(srcdir)/$$target_dir" ;; esac; \
	target_dir="$$target_dir/$(MQTT_BROADCAST_PHP_KEY)"; \
	echo "cargo build --release --locked --features broker --target-dir $$target_dir"; \
	cd "$(srcdir)" && PATH="$(MQTT_BROADCAST_PATH_PREFIX)$$PATH" $(MQTT_BROADCAST_CARGO_ENV) "$(CARGO)" build --release --locked --features broker --target-dir "$$target_dir" && \
	echo "cp $$target_dir/release/libmqtt_broadcast.so $@" && \
	cp "$$target_dir/release/libmqtt_broadcast.so" "$@"
