<?php

// Config of mqtt-broadcast/laravel. The keys are those of the pure-PHP package
// of the same name, so its config file works unchanged. Every value is checked
// once, on first use; a bad key or value fails with a message naming it.
// null means "not set" everywhere (the default applies).

return [

    /*
    |--------------------------------------------------------------------------
    | Connections
    |--------------------------------------------------------------------------
    |
    | One entry per broker. MqttBroadcast::publish($topic, $message, 'name')
    | publishes through the one named; the daemon (php artisan mqtt-broadcast)
    | listens on those listed for the environment below.
    |
    | Each PHP process keeps one live connection per name (the mqtt_broadcast
    | extension keeps it across requests of a PHP-FPM worker). Publishing
    | processes get a generated client id each; clientId and clean_session are
    | for the daemon: a fixed clientId with clean_session false gives it a
    | persistent session, so the broker keeps QoS 1/2 messages while it is down.
    |
    */

    'connections' => [

        'default' => [
            'host' => env('MQTT_HOST', '127.0.0.1'),
            'port' => env('MQTT_PORT', 1883),

            // Credentials are sent only when auth is true.
            'auth' => env('MQTT_AUTH', false),
            'username' => env('MQTT_USERNAME'),
            'password' => env('MQTT_PASSWORD'),

            // Defaults of publish(); qos is also the QoS the daemon subscribes with.
            'qos' => env('MQTT_QOS', 0),
            'retain' => env('MQTT_RETAIN', false),

            // Prepended to every topic published, subscribed and received:
            // listeners see topics without it.
            'prefix' => env('MQTT_PREFIX', ''),

            'clientId' => env('MQTT_CLIENT_ID'),
            'clean_session' => env('MQTT_CLEAN_SESSION', true),

            // Seconds between keep-alive pings, and seconds a connection attempt may take.
            'alive_interval' => env('MQTT_ALIVE_INTERVAL', 60),
            'protocol' => env('MQTT_PROTOCOL', '3.1.1'),
            'timeout' => env('MQTT_TIMEOUT', 3),

            // TLS applies with or without auth. It needs a build of the
            // mqtt_broadcast extension with TLS support (its `tls` option).
            'use_tls' => env('MQTT_USE_TLS', false),
            'self_signed_allowed' => env('MQTT_SELF_SIGNED_ALLOWED', false),
            // Further TLS settings, passed to the extension's `tls` option:
            // ca_file, cert_file, key_file, verify_peer, server_name, alpn.
            'tls' => [],

            // Topic filters the daemon subscribes to, below the prefix.
            'topics' => ['#'],
        ],

    ],

    /*
    |--------------------------------------------------------------------------
    | Environments
    |--------------------------------------------------------------------------
    |
    | The connections the daemon listens on, by application environment
    | (APP_ENV, or php artisan mqtt-broadcast --environment=...).
    |
    */

    'environments' => [
        'production' => ['default'],
        'local' => ['default'],
    ],

    /*
    |--------------------------------------------------------------------------
    | Message logging
    |--------------------------------------------------------------------------
    |
    | With enable, received and published messages are written to the table
    | (MqttBroadcast\Laravel\Models\MqttLogger) in batches. Create it with
    | php artisan vendor:publish --tag=mqtt-broadcast-migrations && php artisan migrate
    | (the table of the pure-PHP package works as it is). connection null is the
    | application's default database connection.
    |
    */

    'logs' => [
        'enable' => env('MQTT_LOG_ENABLE', false),
        'connection' => env('MQTT_LOG_CONNECTION'),
        'table' => env('MQTT_LOG_TABLE', 'mqtt_loggers'),
    ],

    /*
    |--------------------------------------------------------------------------
    | Daemon memory
    |--------------------------------------------------------------------------
    |
    | Above threshold_mb the daemon stops gracefully and, with auto_restart,
    | exits with code 12 after restart_delay_seconds, for systemd or supervisord
    | to start it again. Without auto_restart it only logs a warning.
    |
    */

    'memory' => [
        'gc_interval' => env('MQTT_GC_INTERVAL', 100),
        'threshold_mb' => env('MQTT_MEMORY_THRESHOLD_MB', 128),
        'auto_restart' => env('MQTT_MEMORY_AUTO_RESTART', true),
        'restart_delay_seconds' => env('MQTT_RESTART_DELAY_SECONDS', 10),
    ],

    /*
    |--------------------------------------------------------------------------
    | Reconnecting
    |--------------------------------------------------------------------------
    |
    | The extension reconnects by itself, the delay doubling up to
    | max_retry_delay seconds. It retries forever unless
    | terminate_on_max_retries is true: then a connection fails for good after
    | max_retries attempts in a row, publishing on it throws, and the daemon
    | exits with code 3 for the process manager to restart it. A connection may
    | set these three keys itself.
    |
    */

    'supervisor' => [
        'max_retries' => env('MQTT_MAX_RETRIES', 20),
        'max_retry_delay' => env('MQTT_MAX_RETRY_DELAY', 60),
        'terminate_on_max_retries' => env('MQTT_TERMINATE_ON_MAX_RETRIES', false),
    ],

    /*
    |--------------------------------------------------------------------------
    | Queue
    |--------------------------------------------------------------------------
    |
    | publish() needs no queue: it hands the message to the extension and
    | returns. With enabled, it dispatches MqttMessageJob instead (or pass
    | queued: true), which publishes with publishSync() so that a message the
    | broker did not take fails the job and the queue retries it. name and
    | connection null are the application's defaults.
    |
    */

    'queue' => [
        'enabled' => env('MQTT_QUEUE_ENABLED', false),
        'name' => env('MQTT_JOB_QUEUE'),
        'connection' => env('MQTT_JOB_CONNECTION'),
    ],

];
