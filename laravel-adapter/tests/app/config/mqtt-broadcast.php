<?php

// The config file of an application that used the pure-PHP package of the same
// name, kept as it was (its newest layout: defaults, rate limiting, dashboard
// and repository settings included). Only the environment variables at the
// bottom of each section point it at the tests' broker and directories.

return [
    'defaults' => [
        'connection' => [
            'auth' => false,
            'qos' => 0,
            'retain' => false,
            'prefix' => '',
            'clean_session' => false,
            'alive_interval' => 60,
            'timeout' => 3,
            'use_tls' => false,
            'self_signed_allowed' => true,
            'max_retries' => env('MQTT_MAX_RETRIES', 20),
            'max_retry_delay' => env('MQTT_MAX_RETRY_DELAY', 60),
            'terminate_on_max_retries' => env('MQTT_TERMINATE_ON_MAX_RETRIES', false),
            'max_failure_duration' => env('MQTT_MAX_FAILURE_DURATION', 3600),
            'rate_limiting' => [
                'max_per_minute' => env('MQTT_RATE_LIMIT_PER_MINUTE', 1000),
                'max_per_second' => env('MQTT_RATE_LIMIT_PER_SECOND', null),
            ],
        ],
    ],

    'connections' => [
        'default' => [
            'host' => env('MQTT_HOST', '127.0.0.1'),
            'port' => env('MQTT_PORT', '1883'),
            'auth' => env('MQTT_AUTH'),
            'username' => env('MQTT_USERNAME'),
            'password' => env('MQTT_PASSWORD'),
            'qos' => env('MQTT_QOS'),
            'retain' => env('MQTT_RETAIN'),
            'prefix' => env('MQTT_PREFIX'),
            'clean_session' => env('MQTT_CLEAN_SESSION'),
            'clientId' => env('MQTT_CLIENT_ID'),
            'alive_interval' => env('MQTT_ALIVE_INTERVAL'),
            'timeout' => env('MQTT_TIMEOUT'),
            'use_tls' => env('MQTT_USE_TLS'),
            'self_signed_allowed' => env('MQTT_SELF_SIGNED_ALLOWED'),
            'protocol' => env('MQTT_PROTOCOL'),
        ],

        'backup' => [
            'host' => env('MQTT_BACKUP_HOST', '127.0.0.1'),
            'port' => env('MQTT_BACKUP_PORT', '1883'),
            'prefix' => env('MQTT_BACKUP_PREFIX'),
            'qos' => 1,
            'topics' => ['alerts/#'],
        ],
    ],

    'rate_limiting' => [
        'enabled' => env('MQTT_RATE_LIMIT_ENABLED', true),
        'strategy' => env('MQTT_RATE_LIMIT_STRATEGY', 'reject'),
        'by_connection' => env('MQTT_RATE_LIMIT_BY_CONNECTION', true),
        'cache_driver' => env('MQTT_RATE_LIMIT_CACHE', null),
    ],

    'memory' => [
        'gc_interval' => env('MQTT_GC_INTERVAL', 100),
        'threshold_mb' => env('MQTT_MEMORY_THRESHOLD_MB', 128),
        'auto_restart' => env('MQTT_MEMORY_AUTO_RESTART', true),
        'restart_delay_seconds' => env('MQTT_RESTART_DELAY_SECONDS', 10),
    ],

    'master_supervisor' => [
        'name' => env('MQTT_MASTER_NAME', 'master'),
        'cache_ttl' => env('MQTT_MASTER_CACHE_TTL', 3600),
        'cache_driver' => env('MQTT_CACHE_DRIVER', 'redis'),
    ],

    'supervisor' => [
        'heartbeat_interval' => env('MQTT_HEARTBEAT_INTERVAL', 1),
    ],

    'environments' => [
        'production' => ['default'],
        'local' => ['default'],
        'testing' => ['default'],
        'two-brokers' => ['default', 'backup'],
        // As the pure-PHP package's README lists it: a connection it does not define.
        'readme-example' => ['default', 'undefined'],
    ],

    'queue' => [
        'enabled' => env('MQTT_QUEUE_ENABLED', false),
        'name' => env('MQTT_JOB_QUEUE', 'default'),
        'listener' => env('MQTT_LISTENER_QUEUE', 'default'),
        'connection' => env('MQTT_JOB_CONNECTION', 'sync'),
    ],

    'logs' => [
        'enable' => env('MQTT_LOG_ENABLE', false),
        'queue' => env('MQTT_LOG_JOB_QUEUE', 'default'),
        'connection' => env('MQTT_LOG_CONNECTION'),
        'table' => env('MQTT_LOG_TABLE', 'mqtt_loggers'),
    ],

    'repository' => [
        'broker' => [
            'heartbeat_column' => 'last_heartbeat_at',
            'stale_threshold' => env('MQTT_STALE_THRESHOLD', 300),
        ],
    ],

    'path' => env('MQTT_BROADCAST_PATH', 'mqtt-broadcast'),
    'domain' => env('MQTT_BROADCAST_DOMAIN', null),
    'middleware' => ['web', \enzolarosa\MqttBroadcast\Http\Middleware\Authorize::class],

    'password' => env('MQTT_MASTER_PASS', Illuminate\Support\Str::random(32)),
];
