<?php

return [
    'connections' => [
        'default' => [
            'host' => env('MQTT_HOST', '127.0.0.1'),
            'port' => env('MQTT_PORT', 1883),
            'auth' => env('MQTT_AUTH', false),
            'username' => env('MQTT_USERNAME'),
            'password' => env('MQTT_PASSWORD'),
            'qos' => env('MQTT_QOS', 0),
            'retain' => env('MQTT_RETAIN', false),
            'prefix' => env('MQTT_PREFIX', ''),
            'clientId' => env('MQTT_CLIENT_ID'),

            // Advanced options
            'alive_interval' => 60,
            'timeout' => 3,
            'use_tls' => false,
            'self_signed_allowed' => true,
        ],
    ],

    'environments' => [
        'local' => ['default'],
        'production' => ['default', 'backup'],
    ],
];
