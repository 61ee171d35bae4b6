<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Broadcasting\Channel;
use Illuminate\Broadcasting\InteractsWithSockets;
use Illuminate\Broadcasting\PresenceChannel;
use Illuminate\Broadcasting\PrivateChannel;
use Illuminate\Contracts\Broadcasting\ShouldBroadcastNow;

/** A broadcast event on a public, a private and a presence channel. */
class OrderShipped implements ShouldBroadcastNow
{
    use InteractsWithSockets;

    public function __construct(public int $orderId, public string $carrier)
    {
    }

    /** @return list<Channel> */
    public function broadcastOn(): array
    {
        return [new Channel("orders.{$this->orderId}"), new PrivateChannel("orders.{$this->orderId}"), new PresenceChannel('warehouse.1')];
    }
}
