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
            // Without MQTT_HOST, in the local environment: the built-in broker,
            // where the broker section below listens (127.0.0.1:1883 by default).
            'host' => env('MQTT_HOST'),
            'port' => env('MQTT_PORT'),

            // Credentials are sent only when auth is true.
            'auth' => env('MQTT_AUTH', false),
            'username' => env('MQTT_USERNAME'),
            'password' => env('MQTT_PASSWORD'),

            // Defaults of publish(); qos is also the QoS the daemon subscribes with.
            'qos' => env('MQTT_QOS', 0),
            'retain' => env('MQTT_RETAIN', false),

            // Prepended to every topic published and subscribed to; listeners
            // get topics as the broker has them, with it.
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
            // Further TLS settings, passed to the extension's `tls` option.
            'tls' => [
                'ca_file' => env('MQTT_TLS_CA_FILE'),
                'cert_file' => env('MQTT_TLS_CERT_FILE'),
                'key_file' => env('MQTT_TLS_KEY_FILE'),
                'verify_peer' => env('MQTT_TLS_VERIFY_PEER'),
                'server_name' => env('MQTT_TLS_SERVER_NAME'),
            ],

            // Topic filters the daemon subscribes to, below the prefix, and
            // dispatches as MqttMessageReceived. The patterns of routes/mqtt.php
            // are subscribed besides; [] when the routes are all it should handle.
            'topics' => ['#'],

            // Messages waiting in this process's outbox while the broker is
            // unreachable (then publish() throws Mqtt\QueueFullException), QoS 1/2
            // messages awaiting the broker's acknowledgement at once, and seconds
            // a process that exits waits for its outbox to drain. null: the
            // extension's defaults (see its README).
            'max_queue' => env('MQTT_MAX_QUEUE'),
            'max_inflight' => env('MQTT_MAX_INFLIGHT'),
            'flush_timeout' => env('MQTT_FLUSH_TIMEOUT'),

            // The daemon's last will, published by the broker when the daemon
            // goes away without disconnecting: ['topic' => 'myapp/daemon',
            // 'payload' => 'offline', 'qos' => 1, 'retain' => true] (topic without
            // the prefix). MQTT 5: seconds the broker keeps the daemon's persistent
            // session after it disconnected. MQTT 5: how many unacknowledged
            // messages the broker may send the daemon at once (null: 65535).
            // These apply to the daemon's connection only.
            'will' => null,
            'session_expiry_interval' => env('MQTT_SESSION_EXPIRY_INTERVAL'),
            'receive_maximum' => env('MQTT_RECEIVE_MAXIMUM'),

            // Publishes allowed per second and per minute on this connection
            // (null: unlimited); see rate_limiting below for what happens above.
            'rate_limiting' => [
                'max_per_second' => env('MQTT_RATE_LIMIT_PER_SECOND'),
                'max_per_minute' => env('MQTT_RATE_LIMIT_PER_MINUTE'),
            ],
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
    | Dashboard and health endpoint
    |--------------------------------------------------------------------------
    |
    | GET /{path} is the dashboard (daemons, connections, throughput, failed
    | publishes), refreshing itself from GET /{path}/api/stats. GET
    | /{path}/api/health answers 200 {"status": "healthy"} while a daemon runs
    | with every connection connected, 503 otherwise. The Authorize middleware
    | opens them in the local environment and elsewhere to whom the
    | viewMqttBroadcast gate allows; the dashboard's retry needs the web
    | group's session. For a load balancer's probe, give them a middleware
    | list without Authorize: the dashboard keeps it in any case.
    |
    */

    'path' => env('MQTT_BROADCAST_PATH', 'mqtt-broadcast'),

    // GET /{path}/metrics: the counters of every process of the PHP-FPM pool
    // (Mqtt\Client::metrics()) in the Prometheus text format, whichever worker
    // answers. Off unless set; behind the same middleware as the health endpoint.
    'metrics' => env('MQTT_BROADCAST_METRICS', false),
    'domain' => env('MQTT_BROADCAST_DOMAIN'),
    'middleware' => ['web', MqttBroadcast\Laravel\Http\Middleware\Authorize::class],

    /*
    |--------------------------------------------------------------------------
    | Rate limiting
    |--------------------------------------------------------------------------
    |
    | Above a connection's rate_limiting limits, strategy "reject" makes
    | publish() and publishSync() throw RateLimitExceededException; "throttle"
    | makes publish() hand the message to MqttMessageJob, delayed until the
    | limit admits it, and publishSync() wait. The counts live in the cache
    | store cache_driver (null: the default store), per connection unless
    | by_connection is false.
    |
    */

    'rate_limiting' => [
        'enabled' => env('MQTT_RATE_LIMIT_ENABLED', true),
        'strategy' => env('MQTT_RATE_LIMIT_STRATEGY', 'reject'),
        'by_connection' => env('MQTT_RATE_LIMIT_BY_CONNECTION', true),
        'cache_driver' => env('MQTT_RATE_LIMIT_CACHE'),
    ],

    /*
    |--------------------------------------------------------------------------
    | Message logging
    |--------------------------------------------------------------------------
    |
    | With enable, received and published messages are written to the table
    | (MqttBroadcast\Laravel\Models\MqttLogger) in batches; php artisan migrate
    | creates it (the table of the pure-PHP package works as it is). connection
    | null is the application's default database connection. MqttLogger is
    | Prunable: php artisan model:prune --model="MqttBroadcast\Laravel\Models\MqttLogger"
    | deletes rows older than prune_after_days.
    |
    */

    'logs' => [
        'enable' => env('MQTT_LOG_ENABLE', false),
        'connection' => env('MQTT_LOG_CONNECTION'),
        'table' => env('MQTT_LOG_TABLE', 'mqtt_loggers'),
        'prune_after_days' => env('MQTT_LOG_PRUNE_AFTER_DAYS', 30),
    ],

    /*
    |--------------------------------------------------------------------------
    | Failed publishes
    |--------------------------------------------------------------------------
    |
    | MqttMessageJob keeps a message it could not publish after its last try
    | in this table (the pure-PHP package's mqtt_failed_jobs); see
    | php artisan mqtt-broadcast:failed, :retry, :retry-all, :forget, :flush.
    |
    */

    'failed_jobs' => [
        'connection' => env('MQTT_FAILED_JOBS_DB_CONNECTION'),
        'table' => env('MQTT_FAILED_JOBS_TABLE', 'mqtt_failed_jobs'),
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
    | exits with code 3 for the process manager to restart it. The daemon also
    | exits with code 3 when a connection has not been connected for
    | max_failure_duration seconds (null: never). A connection may set these
    | four keys itself. max_inbox: messages the daemon has received and not yet
    | handed to the listeners before its connections stop reading.
    |
    */

    'supervisor' => [
        'max_retries' => env('MQTT_MAX_RETRIES', 20),
        'max_retry_delay' => env('MQTT_MAX_RETRY_DELAY', 60),
        'terminate_on_max_retries' => env('MQTT_TERMINATE_ON_MAX_RETRIES', false),
        'max_failure_duration' => env('MQTT_MAX_FAILURE_DURATION', 3600),
        'max_inbox' => env('MQTT_MAX_INBOX', 1000),
    ],

    /*
    |--------------------------------------------------------------------------
    | Queue
    |--------------------------------------------------------------------------
    |
    | publish() needs no queue: it hands the message to the extension and
    | returns. With enabled, it dispatches MqttMessageJob instead (or pass
    | queued: true), which publishes with publishSync() so that a message the
    | broker did not take fails the job and the queue retries it: tries
    | attempts, backoff seconds apart, then the failed-publish store. name and
    | connection null are the application's defaults.
    |
    */

    'queue' => [
        'enabled' => env('MQTT_QUEUE_ENABLED', false),
        'name' => env('MQTT_JOB_QUEUE'),
        'connection' => env('MQTT_JOB_CONNECTION'),
        'tries' => env('MQTT_JOB_TRIES', 3),
        'backoff' => env('MQTT_JOB_BACKOFF', '1,5,10'),
    ],

    /*
    |--------------------------------------------------------------------------
    | Built-in broker
    |--------------------------------------------------------------------------
    |
    | php artisan mqtt-broadcast:broker runs the extension's own MQTT broker
    | (Mqtt\Broker) with these options until SIGTERM or SIGINT, so that a
    | development machine or a small deployment needs no separate one. In the
    | local environment a connection without a host connects to it. null: the
    | broker's default; the extension's README says what each option means.
    |
    */

    'broker' => [
        // host:port of the plain listener (false: TLS only).
        'listen' => env('MQTT_BROKER_LISTEN', '127.0.0.1:1883'),
        // A TLS listener, once its listen address is set; with ca_file, clients
        // must present a certificate signed by it.
        'tls' => [
            'listen' => env('MQTT_BROKER_TLS_LISTEN'),
            'cert_file' => env('MQTT_BROKER_TLS_CERT_FILE'),
            'key_file' => env('MQTT_BROKER_TLS_KEY_FILE'),
            'ca_file' => env('MQTT_BROKER_TLS_CA_FILE'),
        ],
        // ['app' => env('MQTT_BROKER_PASSWORD')], or a file written by
        // mosquitto_passwd; either refuses anonymous clients unless
        // allow_anonymous is true.
        'users' => [],
        'password_file' => env('MQTT_BROKER_PASSWORD_FILE'),
        'allow_anonymous' => env('MQTT_BROKER_ALLOW_ANONYMOUS'),
        // [['user' => 'app', 'topic' => 'metrics/#', 'access' => 'readwrite'], ...]:
        // with entries, only what one grants is allowed.
        'acl' => [],
        // A directory for sessions, their queued messages and retained
        // messages across restarts (null: in memory).
        'persistence' => env('MQTT_BROKER_PERSISTENCE'),
        'max_connections' => env('MQTT_BROKER_MAX_CONNECTIONS'),
        'max_packet_size' => env('MQTT_BROKER_MAX_PACKET_SIZE'),
        // QoS 1 and 2 messages in flight per client (20), and waiting beyond
        // those (1000; 0: no limit).
        'max_inflight_messages' => env('MQTT_BROKER_MAX_INFLIGHT_MESSAGES'),
        'max_queued_messages' => env('MQTT_BROKER_MAX_QUEUED_MESSAGES'),
        // A file it appends a line to for each client that connects, subscribes,
        // unsubscribes or goes away.
        'log' => env('MQTT_BROKER_LOG'),
    ],

];
