<?php

return [
    'default' => env('QUEUE_CONNECTION', 'sync'),
    'connections' => [
        'sync' => ['driver' => 'sync'],
        'database' => ['driver' => 'database', 'table' => 'jobs', 'queue' => 'default', 'retry_after' => 90],
        // The package's queue driver; each test gets a topic prefix and a group of its own.
        'mqtt' => [
            'driver' => 'mqtt',
            'connection' => 'default',
            'queue' => 'default',
            'topic_prefix' => env('MQTT_QUEUE_TOPIC_PREFIX', 'queues/'),
            'group' => env('MQTT_QUEUE_GROUP', 'workers'),
            'retry_after' => env('MQTT_QUEUE_RETRY_AFTER', 90),
            'block_for' => env('MQTT_QUEUE_BLOCK_FOR', 0),
            'delay' => env('MQTT_QUEUE_DELAY', 'republish'),
            'worker_name' => env('MQTT_QUEUE_WORKER_NAME'),
        ],
    ],
    'failed' => ['driver' => 'database-uuids', 'database' => 'sqlite', 'table' => 'failed_jobs'],
    'batching' => ['database' => 'sqlite', 'table' => 'job_batches'],
];
