<?php

return [
    'default' => env('BROADCAST_DRIVER', 'mqtt'),

    'connections' => [
        'mqtt' => [
            'driver' => 'mqtt',
            'connection' => 'default',   // of config/mqtt-broadcast.php
            'qos' => 1,
            'retain' => false,
            'topic_prefix' => 'broadcast/',
        ],
    ],
];
