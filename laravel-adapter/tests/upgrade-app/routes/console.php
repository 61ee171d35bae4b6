<?php

use enzolarosa\MqttBroadcast\Facades\MqttBroadcast;
use enzolarosa\MqttBroadcast\Jobs\MqttMessageJob;
use Illuminate\Support\Facades\Artisan;

// The publishing calls of enzolarosa/mqtt-broadcast's README, in order. Its
// "backup" connection is left out: the package's config file does not define one.

Artisan::command('readme:publish', function () {
    $data = 'important';

    // Method 1: Using Facade (Async via Queue)
    MqttBroadcast::publish('sensors/temperature', '25.5');
    MqttBroadcast::publish('important/data', $data, 'default', qos: 2);

    // Method 2: Using Job Directly
    MqttMessageJob::dispatch(
        topic: 'home/livingroom/temperature',
        message: json_encode(['value' => 22.5, 'unit' => 'celsius']),
        broker: 'default',
        qos: 1
    );
    // ... and positionally, as the job's constructor orders its arguments.
    MqttMessageJob::dispatch('home/kitchen/temperature', '21.0', 'default', 1, true);

    // Method 3: Synchronous Publish
    MqttBroadcast::publishSync('urgent/alert', 'System down!');

    // QoS Levels
    MqttBroadcast::publish('logs/info', 'message', qos: 0);
    MqttBroadcast::publish('sensors/data', 'message', qos: 1);
    MqttBroadcast::publish('financial/transaction', 'message', qos: 2);
});
