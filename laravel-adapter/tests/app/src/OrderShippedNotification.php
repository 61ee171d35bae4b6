<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Notifications\Notification;
use MqttBroadcast\Laravel\Notifications\MqttMessage;

/** A notification through the "mqtt" channel; "retained" publishes a retained message at QoS 1. */
class OrderShippedNotification extends Notification
{
    public function __construct(private readonly int $orderId, private readonly bool $retained = false)
    {
    }

    /** @return list<string> */
    public function via(object $notifiable): array
    {
        return ['mqtt'];
    }

    public function toMqtt(object $notifiable): MqttMessage|array
    {
        $payload = ['order' => $this->orderId, 'status' => 'shipped'];
        return $this->retained ? new MqttMessage($payload, qos: 1, retain: true) : $payload;
    }
}
