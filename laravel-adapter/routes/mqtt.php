<?php

use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;

/*
|--------------------------------------------------------------------------
| MQTT Routes
|--------------------------------------------------------------------------
|
| The daemon (php artisan mqtt-broadcast) subscribes these patterns on its
| connections and hands each matching message to its route: a closure, an
| invokable class, or a job class, given the named levels, $message and,
| with ->json(), the decoded $payload. A message that fails a constraint or
| the validation is acknowledged, logged and dispatched as MqttMessageRejected.
|
*/

MqttBroadcast::route('devices/{device}/status', function (MqttMessageReceived $message, string $device) {
    logger()->info("Device $device is {$message->message}");
});
