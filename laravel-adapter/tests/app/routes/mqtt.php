<?php

use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;
use MqttBroadcast\Laravel\Tests\App\ProcessMetricSubmission;
use MqttBroadcast\Laravel\Tests\App\RecordDeviceMessage;
use MqttBroadcast\Laravel\Tests\App\Routed;

// The test application's MQTT routes. The tests give each daemon a prefix of
// its own (MQTT_PREFIX), so these topics are unique to the test.

// The IoT bridge of issue 17: the tenant is a UUID, the payload JSON with a value.
MqttBroadcast::route('metrics/{tenant}/{agent}/{metric}', ProcessMetricSubmission::class)
    ->whereUuid('tenant')
    ->whereIn('metric', ['cpu', 'memory', 'disk'])
    ->json(['value' => 'required|numeric', 'timestamp' => 'nullable|integer', 'dedupe_id' => 'nullable|string']);
MqttBroadcast::fallback('metrics/#');

MqttBroadcast::group(['prefix' => 'devices'], function () {
    MqttBroadcast::route('{device}/status', function (MqttMessageReceived $message, string $device) {
        Routed::record('status', ['device' => $device, 'status' => $message->message, 'topic' => $message->topic]);
    })->where('device', 'd-[0-9]+');
    MqttBroadcast::route('{device}/{path*}', RecordDeviceMessage::class);
});

MqttBroadcast::group(['prefix' => 'alerts', 'connection' => 'backup'], function () {
    MqttBroadcast::route('{level}', fn (string $level) => Routed::record('alert', ['level' => $level]));
});

// A pattern the extension refuses, for the daemon's error message (RoutesTest).
if (env('MQTT_TEST_BAD_PATTERN')) {
    MqttBroadcast::route(env('MQTT_TEST_BAD_PATTERN'), fn () => null);
}
