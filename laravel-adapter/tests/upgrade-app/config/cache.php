<?php

return [
    // file: the daemon and the artisan commands of a test run in separate processes.
    'default' => env('CACHE_DRIVER', 'file'),
    'stores' => [
        'file' => ['driver' => 'file', 'path' => storage_path('framework/cache/data')],
        'array' => ['driver' => 'array', 'serialize' => false],
    ],
    'prefix' => 'mqtt_broadcast_test',
];
