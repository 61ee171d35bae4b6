<?php

declare(strict_types=1);

use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Facades\MqttBroadcast;

// The global helpers of the pure-PHP package of the same name. Its helpers
// publish on connection "local" when not told otherwise: so do these where a
// "local" connection is configured, and on "default" where none is.

if (!function_exists('mqttMessage')) {
    function mqttMessage(string $topic, mixed $message, ?string $broker = null, ?int $qos = null): void
    {
        MqttBroadcast::publish($topic, $message, $broker ?? app(MqttBroadcastConfig::class)->helperConnection(), $qos);
    }
}

if (!function_exists('mqttMessageSync')) {
    function mqttMessageSync(string $topic, mixed $message, ?string $broker = null, ?int $qos = null): void
    {
        MqttBroadcast::publishSync($topic, $message, $broker ?? app(MqttBroadcastConfig::class)->helperConnection(), $qos);
    }
}
