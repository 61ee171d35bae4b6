<?php

declare(strict_types=1);

use MqttBroadcast\Laravel\Facades\MqttBroadcast;

// The global helpers of the pure-PHP package of the same name.

if (!function_exists('mqttMessage')) {
    function mqttMessage(string $topic, mixed $message, string $broker = 'default', ?int $qos = null): void
    {
        MqttBroadcast::publish($topic, $message, $broker, $qos);
    }
}

if (!function_exists('mqttMessageSync')) {
    function mqttMessageSync(string $topic, mixed $message, string $broker = 'default', ?int $qos = null): void
    {
        MqttBroadcast::publishSync($topic, $message, $broker, $qos);
    }
}
