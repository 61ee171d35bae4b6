<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/** An invokable route handler; gets the levels by name and the message by type. */
class RecordDeviceMessage
{
    public function __invoke(string $device, string $path, MqttMessageReceived $received): void
    {
        Routed::record('device', ['device' => $device, 'path' => $path, 'payload' => $received->message]);
    }
}
