<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Notifications;

/**
 * What a notification's toMqtt() returns: the payload, and where and how to
 * publish it when the notifiable's routeNotificationForMqtt() and the
 * connection's defaults are not what it wants.
 */
class MqttMessage
{
    /**
     * @param mixed $payload strings are sent as they are, anything else JSON-encoded
     * @param ?string $topic null: the notifiable's routeNotificationForMqtt()
     * @param ?int $qos null: the connection's
     * @param ?bool $retain null: the connection's
     */
    public function __construct(
        public readonly mixed $payload,
        public readonly ?string $topic = null,
        public readonly ?int $qos = null,
        public readonly ?bool $retain = null,
        public readonly string $connection = 'default',
    ) {
    }
}
