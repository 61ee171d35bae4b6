<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Notifications\Notifiable;

/** A notifiable with its own topic. */
class Customer
{
    use Notifiable;

    public function __construct(public int $id, private readonly string $topicPrefix)
    {
    }

    public function routeNotificationForMqtt(): string
    {
        return "{$this->topicPrefix}customers/{$this->id}";
    }
}
